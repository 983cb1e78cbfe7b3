"""``quadfree bench surface``: depth fields on the ``objects`` scene — the FC²T² root layer at
levels 4 and 5 against an MLP implicit surface with root finding along rays, same depth
supervision, same training-time budget, one process.

Per row: held-out depth MAE (% of the test views' depth range, over surface pixels the model
hits), coverage (share of surface pixels hit), false hits (share of background pixels hit),
normal angular error (against normals from the GT depth maps), seconds of the forward and the
backward pass on the same batch of held-out rays (median of ``repeats``), and training time.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from quadfree.errors import QuadfreeError
from quadfree.machine import machine_info
from quadfree.seeding import seed_everything

# One torch thread by default: on the shared 2-core machine two threads made a level-4 step
# ~5x slower (15 s vs 2.6 s, measured while other jobs ran).
DEFAULT_THREADS = 1
ROW_KEYS = ("model", "level", "depth_mae_pct", "normal_error_deg", "forward_s", "backward_s",
            "train_seconds")


@dataclass
class SurfaceBenchOptions:
    """Options of the surface benchmark.

    Attributes:
        data: a Blender-format dataset with depth maps; None: generate ``objects`` at ``res``
            (``views`` sizes) into a temporary directory.
        seconds: training-time budget of every model.
        levels: Taylor levels; mlp: include the MLP baseline.
        test_views: held-out test views scored. timing_rays: rays per timed batch.
        batch: training rays per step (Taylor; its step cost is mostly the expansion);
            mlp_batch: the MLP's (each ray costs it ~76 network evaluations, so smaller
            batches give it more steps in the same time).
        figure: PNG of view 0 (GT | each model), or None.
    """

    data: Path | None = None
    res: int = 64
    views: dict = field(default_factory=lambda: {"train": 100, "val": 1, "test": 5})
    downscale: int = 1
    seconds: float = 150.0
    levels: tuple[int, ...] = (4, 5)
    mlp: bool = True
    mlp_depth: int = 4
    mlp_width: int = 64
    test_views: int = 5
    timing_rays: int = 8192
    repeats: int = 3
    batch: int = 16384
    mlp_batch: int = 4096
    figure: Path | None = None
    seed: int = 0
    progress: bool = True


QUICK = {"res": 32, "views": {"train": 20, "val": 1, "test": 2}, "seconds": 15.0,
         "levels": (4,), "test_views": 2, "timing_rays": 2048, "repeats": 1, "batch": 4096,
         "mlp_batch": 2048}


def time_passes(model, o: torch.Tensor, r: torch.Tensor, repeats: int) -> tuple[float, float]:
    """Median seconds of ``hits`` (forward, graph built) and of the backward of the summed
    depth of the rays that hit, on the same rays ``(R, 3)``.

    Example:
        >>> from quadfree.surface.models import MLPDepth
        >>> f, b = time_passes(MLPDepth(depth=1, width=4), torch.tensor([[0.0, 0.0, -3.0]]),
        ...                    torch.tensor([[0.0, 0.0, 1.0]]), 1)
        >>> f > 0 and b > 0
        True
    """
    fwd, bwd = [], []
    for _ in range(max(repeats, 1)):
        model.zero_grad(set_to_none=True)
        start = time.perf_counter()
        h = model.hits(o, r)
        mid = time.perf_counter()
        torch.where(h.hit, h.t, torch.zeros_like(h.t)).sum().backward()
        end = time.perf_counter()
        fwd.append(mid - start)
        bwd.append(end - mid)
    model.zero_grad(set_to_none=True)
    return statistics.median(fwd), statistics.median(bwd)


def _configs(opts: SurfaceBenchOptions):
    from quadfree.surface.experiment import SurfaceConfig
    from quadfree.surface.fit import FitConfig
    out = []
    for level in opts.levels:
        fit = FitConfig(steps=10**9, seconds=opts.seconds, batch=opts.batch, lr=0.05)
        out.append(SurfaceConfig(model="taylor", level=level, resolution=0, fit=fit))
    if opts.mlp:
        fit = FitConfig(steps=10**9, seconds=opts.seconds, batch=opts.mlp_batch, lr=3e-3,
                        l1=0.0)
        out.append(SurfaceConfig(model="mlp", mlp_depth=opts.mlp_depth,
                                 mlp_width=opts.mlp_width, resolution=0, fit=fit))
    return out


def run_benchmark(opts: SurfaceBenchOptions) -> dict:
    """Run the benchmark; returns the JSON-ready result ``{"rows", "summary", "machine", …}``.

    Example:
        >>> run_benchmark(SurfaceBenchOptions(levels=(), mlp=False))
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: levels: no model to run (give levels or mlp)
    """
    from quadfree.data.scenes import make_scene
    from quadfree.surface.data import load_blender_depth
    from quadfree.surface.evaluate import depth_normals
    from quadfree.surface.experiment import evaluate_model, new_fitter
    from quadfree.surface.figure import depth_figure
    from quadfree.surface.fit import RaySet

    if not opts.levels and not opts.mlp:
        raise QuadfreeError("levels: no model to run (give levels or mlp)", param="levels")
    if opts.seconds <= 0 or opts.timing_rays < 1 or opts.test_views < 1:
        raise QuadfreeError("seconds, timing_rays, test_views: must be positive",
                            param="seconds")
    with tempfile.TemporaryDirectory() as tmp:
        root = opts.data
        gen_seconds = 0.0
        if root is None:
            root = Path(tmp) / "objects"
            meta = make_scene("objects", root, res=opts.res, seed=opts.seed,
                              sizes=dict(opts.views), progress=opts.progress)
            gen_seconds = meta["seconds"]
        train = load_blender_depth(root, "train", downscale=opts.downscale)
        test = load_blender_depth(root, "test", downscale=opts.downscale,
                                  max_frames=opts.test_views)
    rows, maps = [], []
    gen = torch.Generator().manual_seed(opts.seed)
    for cfg in _configs(opts):
        seed_everything(opts.seed)
        fitter, rays = new_fitter(cfg, train)
        fitter.run(rays, quiet=not opts.progress)
        model = fitter.model
        res = evaluate_model(model, fitter, test)
        rendered = res.pop("rendered")
        trays = RaySet.from_views(test, fitter.frame)
        fg = torch.nonzero(trays.depth > 0)[:, 0]
        pick = fg[torch.randint(len(fg), (opts.timing_rays,), generator=gen)]
        fwd, bwd = time_passes(model, trays.o[pick], trays.r[pick], opts.repeats)
        level = cfg.level if cfg.model == "taylor" else None
        name = f"taylor L{level}" if level else "mlp"
        maps.append((name, rendered.depth[0], rendered.normals[0]))
        rows.append({"model": cfg.model, "level": level,
                     "depth_mae_pct": res["depth_mae_pct"],
                     "normal_error_deg": res["normal_error_deg"],
                     "forward_s": fwd, "backward_s": bwd,
                     "train_seconds": fitter.elapsed, "steps": fitter.step,
                     "depth_mae": res["depth_mae"], "coverage": res["coverage"],
                     "false_hits": res["false_hits"],
                     "rays_per_s_forward": opts.timing_rays / fwd,
                     "rays_per_s_backward": opts.timing_rays / bwd,
                     "backward_over_forward": bwd / fwd,
                     "render_seconds": res["render_seconds"]})
    if opts.figure is not None:
        gt_n, ok = depth_normals(test)
        gt_n = torch.where(ok[..., None], gt_n, torch.zeros_like(gt_n))
        depth_figure(opts.figure, test.depth[0], gt_n[0], maps,
                     title="objects, held-out view 0")
    mlp = [r for r in rows if r["model"] == "mlp"]
    summary = []
    for r in rows:
        if r["model"] != "taylor":
            continue
        summary.append({"level": r["level"], "mae_at_most_1pct": r["depth_mae_pct"] <= 1.0,
                        "beats_mlp": (r["depth_mae_pct"] < mlp[0]["depth_mae_pct"]) if mlp
                        else None,
                        "backward_at_most_2x_forward": r["backward_over_forward"] <= 2.0})
    V, H, W = train.shape
    return {"rows": rows, "summary": summary,
            "setup": {"data": str(opts.data) if opts.data else f"objects (generated, res "
                      f"{opts.res}, seed {opts.seed})", "train_views": V,
                      "test_views": len(test), "image": [H, W], "seconds": opts.seconds,
                      "timing_rays": opts.timing_rays, "batch": opts.batch,
                      "mlp_batch": opts.mlp_batch,
                      "depth_range": test.depth_range(), "scene_seconds": gen_seconds,
                      "threads": torch.get_num_threads()},
           "machine": machine_info("cpu")}
