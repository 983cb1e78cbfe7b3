"""``quadfree bench volrend``: NeRF, AutoInt N = 8 and TeRF side by side (issue 16).

Every model trains with the shared trainer for the same wall-clock budget on the same scene
(``objects`` or ``fog`` at 64×64 by default); then all test views are rendered by every model
in turn in one process (timings are ratios on a busy machine), and each model's training step
is timed on the same ray batches: ``forward_s`` (render + loss) and ``backward_s``
(``loss.backward()``), medians over ``timing_steps`` steps.

TeRF rows: one per non-negativity mode in ``nonneg`` (default ``relu`` = max(f, 0), the
paper's future work, and ``weights`` = the published relu on w⁽¹⁾); the first is labelled
"TeRF". With ``view_dependent`` one more row, "TeRF view-dep.": the first mode plus the
view-direction colour-logit shift (``Config.view_dependent``). With ``view_sh`` = L one more
row, "TeRF SH colour": the first mode with the view-dependent colour weights of paper §6.4.2 in
exact low-rank form, ``w⁽²⁾(d) = w⁽²⁾ + Σ_k Y_k(d) ΔW_k`` (``Config.view_sh``). Every TeRF
row has ``method: "terf"``, its ``nonneg``, ``view_dependent``, ``view_sh`` and ``work``
(expansions per step/frame, expansion channels, cells and polynomials per ray, network
evaluations per ray); every row has the ``scene``.

Figure (``figure``): the first ``figure_views`` test views as a PNG grid — ground truth, then
every row's rendering, each panel captioned with its PSNR on that view and the row's median
seconds per frame.

JSON: ``{"rows": [...], "targets": {...}, "machine": ...}``; each row has the keys of
``bench autoint`` (``psnr``, ``ssim``, ``render_s_per_frame``, ``speedup``, ``psnr_gap_db``,
``evals_per_ray``, ``view_consistency`` …) plus ``forward_s``, ``backward_s`` and
``view_consistency.density_cv_median``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from quadfree.apps.comparison import plot_image_grid, plot_quality_vs_time
from quadfree.apps.pipeline import score_methods, train_for_budget
from quadfree.data.blender import load_blender
from quadfree.data.scenes import make_scene
from quadfree.errors import QuadfreeError
from quadfree.machine import machine_info
from quadfree.radiance.base import RadianceMethod
from quadfree.radiance.terf import NONNEG, SH_DEGREES
from quadfree.train.checkpoint import load_run


@dataclass
class VolrendBenchOptions:
    """What ``quadfree bench volrend`` runs (typed; the CLI builds it from its flags).

    Attributes:
        scene, res, data: the procedural scene and resolution, or an existing dataset.
        minutes: training-time budget per model (default 2: four models and scoring take
            about 11 min on an idle 2-core machine); iters: fixed steps (None: calibrated).
        sections: AutoInt's N.
        nonneg: TeRF non-negativity modes, one row each (see :data:`quadfree.radiance.terf.NONNEG`).
        view_dependent: add a TeRF row with the view-direction colour-logit shift (first
            ``nonneg`` mode).
        view_sh: if ≥ 1, add a TeRF row with view-dependent colour weights of this spherical-
            harmonics degree (first ``nonneg`` mode; ``Config.view_sh``).
        figure, figure_views: write the image grid of the first ``figure_views`` test views
            here (PNG; None: no figure).
        train_set, autoint_set, terf_set: typed config overrides.
        eval_views: only the first N test views (None: all; at least 3).
        timing_steps: training steps timed per model for forward_s / backward_s.
        quick: 0.4 min per model, 3 test views, NeRF + AutoInt + one TeRF row (+ the
            view-dependent row if asked; ≈ 3–4 min, +1 min for it).
        run_dir, plot, seed, device, progress: as in ``bench autoint``.
    """

    scene: str = "objects"
    res: int = 64
    data: Path | None = None
    minutes: float = 2.0
    iters: int | None = None
    sections: int = 8
    nonneg: tuple[str, ...] = ("relu", "weights")
    view_dependent: bool = False
    view_sh: int = 0
    figure: Path | None = None
    figure_views: int = 2
    train_set: dict[str, Any] = field(default_factory=dict)
    autoint_set: dict[str, Any] = field(default_factory=dict)
    terf_set: dict[str, Any] = field(default_factory=dict)
    eval_views: int | None = None
    timing_steps: int = 5
    quick: bool = False
    run_dir: Path | None = None
    plot: Path | None = None
    seed: int = 0
    device: torch.device | str = "cpu"
    progress: bool = True


def _models(opts: VolrendBenchOptions) -> list[dict[str, Any]]:
    if opts.sections < 1:
        raise QuadfreeError(f"sections {opts.sections}: must be >= 1", param="sections")
    bad = [m for m in opts.nonneg if m not in NONNEG]
    if bad or not opts.nonneg:
        raise QuadfreeError(f"nonneg {tuple(opts.nonneg)}: choose from {NONNEG}",
                            param="nonneg")
    models = [{"key": "nerf", "label": "NeRF", "method": "nerf", "overrides": {}},
              {"key": f"autoint_n{opts.sections}", "label": f"AutoInt N={opts.sections}",
               "method": "autoint", "sections": opts.sections,
               "overrides": {**opts.autoint_set, "sections": opts.sections}}]
    base = {"view_dependent": bool(opts.terf_set.get("view_dependent", False)),
            "view_sh": int(opts.terf_set.get("view_sh", 0))}
    for i, mode in enumerate(opts.nonneg):
        models.append({"key": f"terf_{mode}", "label": "TeRF" if i == 0 else f"TeRF {mode}",
                       "method": "terf", "nonneg": mode, **base,
                       "overrides": {**opts.terf_set, "nonneg": mode}})
    mode = opts.nonneg[0]
    if opts.view_dependent:
        models.append({"key": f"terf_{mode}_view", "label": "TeRF view-dep.",
                       "method": "terf", "nonneg": mode, **base, "view_dependent": True,
                       "overrides": {**opts.terf_set, "nonneg": mode, "view_dependent": True}})
    if opts.view_sh:
        if opts.view_sh not in SH_DEGREES:
            raise QuadfreeError(f"view_sh {opts.view_sh}: choose from {SH_DEGREES}",
                                param="view_sh")
        models.append({"key": f"terf_{mode}_sh{opts.view_sh}", "label": "TeRF SH colour",
                       "method": "terf", "nonneg": mode, **base, "view_sh": opts.view_sh,
                       "overrides": {**opts.terf_set, "nonneg": mode,
                                     "view_sh": opts.view_sh}})
    return models


def step_timing(method: RadianceMethod, rays, target: torch.Tensor, batch: int, steps: int,
                seed: int = 0) -> dict[str, float]:
    """Median seconds of a training step's forward (render + loss) and backward.

    rays: a :class:`~quadfree.render.rays.RayBundle` of training rays, target ``(R, 3)``;
    ``steps`` random batches of ``batch`` rays (after one warm-up step). Gradients are
    cleared; parameters are not changed.

    Example:
        >>> from quadfree.radiance.registry import build_method
        >>> from quadfree.render.rays import RayBundle
        >>> m, _ = build_method("nerf", {"width": 8, "depth": 1, "skips": "", "n_fine": 0})
        >>> rays = RayBundle(torch.zeros(8, 3), torch.tensor([[0.0, 0, 1]]).expand(8, 3),
        ...                  torch.full((8,), 2.0), torch.full((8,), 6.0))
        >>> sorted(step_timing(m, rays, torch.rand(8, 3), 4, 2))
        ['backward_s', 'forward_s']
    """
    gen = torch.Generator().manual_seed(seed)
    fwd, bwd = [], []
    method.train()
    for i in range(steps + 1):
        idx = torch.randint(0, len(rays), (batch,), generator=gen)
        sub, tgt = rays[idx], target[idx]
        start = time.perf_counter()
        loss = method.loss(method.render_rays(sub, training=True), tgt)
        mid = time.perf_counter()
        loss.backward()
        end = time.perf_counter()
        method.zero_grad(set_to_none=True)
        if i > 0:
            fwd.append(mid - start)
            bwd.append(end - mid)
    method.eval()
    return {"forward_s": statistics.median(fwd), "backward_s": statistics.median(bwd)}


def plot_views(comp: dict[str, Any], test, path: Path, title: str = "") -> None:
    """The image figure: ground truth | every method, one row per kept view, each panel
    captioned with its PSNR on that view and the method's median seconds per frame.

    comp: :func:`~quadfree.apps.pipeline.score_methods`' result with kept images; test: the
    split they came from.

    Example:
        >>> import tempfile
        >>> comp = {"rows": [{"label": "NeRF", "render_s_per_frame": 0.5,
        ...                   "per_image": [{"psnr": 20.0}]}],
        ...         "images": {"NeRF": [torch.zeros(4, 4, 3)]}}
        >>> class T: images = torch.ones(1, 4, 4, 3)
        >>> plot_views(comp, T(), Path(tempfile.mkdtemp()) / "v.png")
    """
    kept = min(len(v) for v in comp["images"].values())
    columns = {"ground truth": [test.images[i] for i in range(kept)]}
    captions: dict[str, list[str]] = {"ground truth": ["reference"] * kept}
    for row in comp["rows"]:
        columns[row["label"]] = comp["images"][row["label"]][:kept]
        captions[row["label"]] = [f"{row['per_image'][i]['psnr']:.2f} dB, "
                                  f"{row['render_s_per_frame']:.3f} s/frame"
                                  for i in range(kept)]
    plot_image_grid(columns, path, title=title, captions=captions)


def run_benchmark(opts: VolrendBenchOptions) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-ready result.

    Example:
        >>> run_benchmark(VolrendBenchOptions(nonneg=("exp",)))
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: nonneg ('exp',): choose from ('relu', 'softplus', 'weights')
    """
    if opts.quick:
        opts = replace(opts, minutes=0.4, eval_views=opts.eval_views or 3, iters=None,
                       nonneg=opts.nonneg[:1], timing_steps=min(opts.timing_steps, 3))
    models = _models(opts)
    if opts.iters is not None and opts.iters < 1:
        raise QuadfreeError(f"iters {opts.iters}: need at least 1 step", param="iters")
    if opts.figure_views < 1:
        raise QuadfreeError(f"figure_views {opts.figure_views}: must be >= 1",
                            param="figure_views")
    if opts.eval_views is not None and opts.eval_views < 3:
        raise QuadfreeError(f"eval_views {opts.eval_views}: need at least 3 for a median",
                            param="eval_views")
    device, progress = opts.device, opts.progress
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="quadfree-bench-volrend-") as tmp:
        data = Path(opts.data) if opts.data else Path(tmp) / opts.scene
        if not opts.data:
            make_scene(opts.scene, data, res=opts.res, seed=opts.seed, progress=progress)
        root = Path(opts.run_dir) if opts.run_dir else Path(tmp) / "runs"
        for model in tqdm(models, disable=not progress, desc="models"):
            train_for_budget(model["method"], data, root / model["key"], opts.minutes * 60.0,
                             {**opts.train_set, **model["overrides"]}, iters=opts.iters,
                             ckpt_every=1000, seed=opts.seed, device=device,
                             progress=progress)
        methods, states = {}, {}
        for model in models:
            methods[model["label"]], states[model["key"]] = load_run(root / model["key"],
                                                                     device)
        test = load_blender(data, "test")
        comp = score_methods(methods, test, baseline="NeRF", max_views=opts.eval_views,
                             keep_images=opts.figure_views if opts.figure else 0,
                             seed=opts.seed, device=device, progress=progress)
        if opts.figure is not None:
            plot_views(comp, test, opts.figure,
                       title=f"{opts.scene} {opts.res}×{opts.res}, held-out test views, "
                             f"{opts.minutes:g} min training per model "
                             "(PSNR of the view, median s/frame)")
        train = load_blender(data, "train")
        rays, target = train.all_rays()
        batch = int(opts.train_set.get("batch_rays", 512))
        rows = []
        nerf_psnr = comp["rows"][0]["psnr"]
        for model, row in zip(models, comp["rows"]):
            method, state = methods[model["label"]], states[model["key"]]
            timing = step_timing(method, rays.to(device), target.to(device), batch,
                                 opts.timing_steps, opts.seed)
            vc = {k: (round(v, 4) if isinstance(v, float) else v)
                  for k, v in row["view_consistency"].items()}
            vc["density_cv_median"] = vc.get("cv_median")
            work = method.work() if hasattr(method, "work") else None
            rows.append({
                "scene": opts.scene, "method": model["method"], "label": model["label"],
                "sections": model.get("sections"), "nonneg": model.get("nonneg"),
                "view_dependent": model.get("view_dependent"),
                "view_sh": model.get("view_sh"),
                "psnr": round(row["psnr"], 3), "ssim": round(row["ssim"], 4),
                "render_s_per_frame": round(row["render_s_per_frame"], 5),
                "render_s_all": row["render_s_all"], "evals_per_ray": row["evals_per_ray"],
                "speedup": round(row["speedup"], 2),
                "psnr_gap_db": round(nerf_psnr - row["psnr"], 3),
                "forward_s": round(timing["forward_s"], 5),
                "backward_s": round(timing["backward_s"], 5),
                "backward_over_forward": round(timing["backward_s"] / timing["forward_s"], 3),
                "view_consistency": vc, "work": work,
                "train_seconds": round(float(state.get("train_seconds", 0.0)), 1),
                "iters": int(state["step"]), "config": state["method_config"],
            })
    terf = next(r for r in rows if r["method"] == "terf")
    cv = terf["view_consistency"]["density_cv_median"]
    result = {
        "benchmark": "volrend", "scene": opts.scene, "resolution": [opts.res, opts.res],
        "minutes_per_model": opts.minutes, "iters": opts.iters, "quick": bool(opts.quick),
        "calibrated_iters": opts.iters is None, "batch_rays": batch,
        "eval_views": len(rows[0]["render_s_all"]), "rows": rows,
        "targets": {
            "terf_speedup": terf["speedup"], "speedup_met": terf["speedup"] >= 10.0,
            "terf_backward_over_forward": terf["backward_over_forward"],
            "backward_met": terf["backward_over_forward"] <= 2.0,
            "terf_density_cv_median": cv, "cv_met": cv == 0.0,
            "terf_psnr_gap_db": terf["psnr_gap_db"], "psnr_met": terf["psnr_gap_db"] <= 2.0},
        "total_seconds": round(time.perf_counter() - start, 1),
        "threads": torch.get_num_threads(), "machine": machine_info(device),
    }
    if opts.plot is not None:
        plot_quality_vs_time(rows, opts.plot,
                             title=f"{opts.scene} {opts.res}×{opts.res}, "
                                   f"{opts.minutes:g} min training per model")
    return result
