"""``quadfree bench nerf``: train the small CPU NeRF on ``objects`` for a fixed time, evaluate.

Generates the scene (unless ``--data`` is given), trains with the default (small CPU) NeRF and
training configurations for ``--minutes`` of training time, then renders every test view.
JSON keys: ``psnr``, ``ssim`` (test-view means), ``train_seconds``, ``render_s_per_frame``,
``samples_per_ray``, ``evals_per_ray``, ``resolution``, ``iters``, ``val_curve``, ``machine``;
a plot of validation PSNR against training time goes next to the JSON.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from quadfree.apps.runs import evaluate_run
from quadfree.data.scenes import make_scene
from quadfree.machine import machine_info
from quadfree.train.checkpoint import load_checkpoint
from quadfree.train.trainer import route_overrides, train_run


@dataclass
class NerfBenchOptions:
    """What ``quadfree bench nerf`` runs (typed; the flags live in ``quadfree.cli.bench_nerf``).

    Attributes:
        scene, res: the procedural scene and its resolution (ignored with ``data``).
        data: an existing dataset to use instead of generating one.
        minutes: training-time budget; iters: training steps (the schedule decays over them).
        settings: typed NeRF or training-config overrides.
        run_dir: keep the run (and the generated dataset, ``RUN/dataset``) here.
        eval_views: only the first N test views (None: all).
        plot: write the validation curve here (None: no plot).
        seed, device, progress: as everywhere.
    """

    scene: str = "objects"
    res: int = 64
    data: Path | None = None
    minutes: float = 20.0
    iters: int = 2000
    settings: dict[str, Any] = field(default_factory=dict)
    run_dir: Path | None = None
    eval_views: int | None = None
    plot: Path | None = None
    seed: int = 0
    device: torch.device | str = "cpu"
    progress: bool = True


def run_benchmark(opts: NerfBenchOptions) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-ready result.

    Example:
        >>> run_benchmark(NerfBenchOptions(data=Path("/no/such/dir")))
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: /no/such/dir: dataset directory not found
    """
    device, progress = opts.device, opts.progress
    with tempfile.TemporaryDirectory(prefix="quadfree-bench-nerf-") as tmp:
        # the generated scene lives in the kept run (RUN/dataset) so render/eval work later
        data = Path(opts.data) if opts.data else \
            (Path(opts.run_dir) / "dataset" if opts.run_dir else Path(tmp) / opts.scene)
        scene_seconds = None
        if not opts.data:
            start = time.perf_counter()
            make_scene(opts.scene, data, res=opts.res, seed=opts.seed, progress=progress)
            scene_seconds = time.perf_counter() - start
        run_dir = Path(opts.run_dir) if opts.run_dir else Path(tmp) / "run"
        method_over, train_over = route_overrides("nerf", dict(opts.settings))
        train_over = {"val_every": 250, "val_views": 1, "ckpt_every": 1000, **train_over,
                      "iters": opts.iters, "max_seconds": opts.minutes * 60.0}
        summary = train_run("nerf", data, run_dir, method_overrides=method_over,
                            train_overrides=train_over, seed=opts.seed, device=device,
                            progress=progress)
        state = load_checkpoint(run_dir / "checkpoint.pt")
        result = evaluate_run(run_dir, max_frames=opts.eval_views, device=device,
                              progress=progress)
    cfg = state["method_config"]
    curve = [{"step": h["step"], "train_seconds": round(h["train_seconds"], 2),
              "val_psnr": round(h["val_psnr"], 3)} for h in state["history"] if "val_psnr" in h]
    out = {
        "benchmark": "nerf", "scene": opts.scene, "resolution": [result["resolution"][0],
                                                                 result["resolution"][1]],
        "psnr": round(result["psnr"], 3), "ssim": round(result["ssim"], 4),
        "train_seconds": round(summary["train_seconds"], 1),
        "budget_seconds": opts.minutes * 60.0,
        "iters": int(summary["step"]),
        "render_s_per_frame": round(result["s_per_frame"], 4),
        "samples_per_ray": int(cfg["n_coarse"] + cfg["n_fine"]),
        "evals_per_ray": result["evals_per_ray"],
        "test_views": result["num_images"],
        "method_config": cfg, "train_config": state["train_config"],
        "scene_seconds": None if scene_seconds is None else round(scene_seconds, 1),
        "val_curve": curve,
        "threads": torch.get_num_threads(),
        "machine": machine_info(device),
    }
    if opts.plot is not None:
        _plot(curve, opts.plot, out)
    return out


def _plot(curve: list[dict], path: Path, out: dict) -> None:
    if not curve:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from quadfree.atomic import save_figure

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([c["train_seconds"] / 60 for c in curve], [c["val_psnr"] for c in curve], "o-",
            label="validation view")
    ax.axhline(25.0, color="gray", ls="--", lw=1, label="25 dB target")
    ax.set_xlabel("training time (min)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"NeRF on {out['scene']} {out['resolution'][0]}×{out['resolution'][1]}: "
                 f"test {out['psnr']:.2f} dB")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
