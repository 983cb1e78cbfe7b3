"""``quadfree bench autoint``: AutoInt (N = 8, 16, 32 sections) vs NeRF, side by side.

Same scene, resolution, training budget and network width as ``quadfree bench nerf`` (the
``objects`` scene at 64×64, the methods' CPU defaults, the same minutes of training time for
every model). Every model is trained with the shared trainer; then every test view is rendered
by every model in turn in one process, so timings are comparable ratios on a busy machine.

JSON: ``{"rows": [...], "machine": ...}``; one row per model with ``method``, ``sections``
(null for NeRF), ``psnr``, ``ssim``, ``render_s_per_frame`` (median over ≥ 3 views),
``evals_per_ray``, ``speedup`` (NeRF seconds ÷ own seconds), ``psnr_gap_db`` (NeRF − own),
``view_consistency``, ``train_seconds``, ``iters``, ``config``. A row with
``"remedy": "consistency"`` is AutoInt N = 8 trained with the view-consistency penalty. A plot
of PSNR against render time goes next to the JSON.

Typed entry point: :func:`run_benchmark` with :class:`AutoIntBenchOptions`; the flags live in
:mod:`quadfree.cli.bench_autoint`.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from quadfree.apps.comparison import plot_quality_vs_time
from quadfree.apps.pipeline import score_methods, train_for_budget
from quadfree.data.blender import load_blender
from quadfree.data.scenes import make_scene
from quadfree.errors import QuadfreeError
from quadfree.machine import machine_info
from quadfree.outputs import prepare_output_dir
from quadfree.radiance.rendered_depth import rendered_depths, with_depths
from quadfree.train.checkpoint import load_run


@dataclass
class AutoIntBenchOptions:
    """What ``quadfree bench autoint`` runs (typed; the CLI builds it from its flags).

    Attributes:
        scene, res: the procedural scene and its resolution (ignored with ``data``).
        data: an existing dataset to use instead of generating one.
        minutes: training-time budget per model.
        iters: a fixed step count per model (None: calibrated to fill ``minutes``).
        sections: AutoInt section counts N, one model each (a sweep around the default 8).
        consistency_weight: also train the smallest N with this view-consistency penalty
            (0: skip that row).
        train_set: typed training-config overrides for every model.
        autoint_set: typed AutoInt config overrides.
        eval_views: only the first N test views (None: all; at least 3).
        quick: 1.5 min per model, calibrated steps, 5 test views.
        run_dir: keep the runs here (None: a temporary folder).
        plot: write the PSNR-vs-render-time plot here (None: no plot).
        seed, device, progress: as everywhere.
    """

    scene: str = "objects"
    res: int = 64
    data: Path | None = None
    minutes: float = 10.0
    iters: int | None = None
    sections: tuple[int, ...] = (8, 16, 32)
    consistency_weight: float = 1.0
    train_set: dict[str, Any] = field(default_factory=dict)
    autoint_set: dict[str, Any] = field(default_factory=dict)
    eval_views: int | None = None
    quick: bool = False
    run_dir: Path | None = None
    plot: Path | None = None
    seed: int = 0
    device: torch.device | str = "cpu"
    progress: bool = True


def _models(opts: AutoIntBenchOptions) -> list[dict[str, Any]]:
    """The models to train: NeRF, AutoInt for each N, and the remedy row."""
    sections = list(opts.sections)
    if not sections or min(sections) < 1:
        raise QuadfreeError(f"sections {tuple(sections)}: need positive integers",
                            param="sections")
    extra = dict(opts.autoint_set)
    models = [{"key": "nerf", "label": "NeRF", "method": "nerf", "sections": None,
               "overrides": {}}]
    for n in sections:
        models.append({"key": f"autoint_n{n}", "label": f"AutoInt N={n}", "method": "autoint",
                       "sections": n, "overrides": {**extra, "sections": n}})
    if opts.consistency_weight > 0:
        n = min(sections)
        models.append({"key": f"autoint_n{n}_consistent", "label": f"AutoInt N={n} +cons",
                       "method": "autoint", "sections": n, "remedy": "consistency",
                       "overrides": {**extra, "sections": n,
                                     "consistency_weight": opts.consistency_weight}})
    return models


def run_benchmark(opts: AutoIntBenchOptions) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-ready result.

    Example:
        >>> run_benchmark(AutoIntBenchOptions(iters=0))
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: iters 0: need at least 1 step
    """
    if opts.quick:
        opts = replace(opts, minutes=1.5, eval_views=opts.eval_views or 5, iters=None)
    if opts.iters is not None and opts.iters < 1:
        raise QuadfreeError(f"iters {opts.iters}: need at least 1 step", param="iters")
    if opts.eval_views is not None and opts.eval_views < 3:
        raise QuadfreeError(f"eval_views {opts.eval_views}: need at least 3 for a median",
                            param="eval_views")
    device, progress = opts.device, opts.progress
    models = _models(opts)
    train_common = dict(opts.train_set)
    start = time.perf_counter()
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="quadfree-bench-autoint-") as tmp:
        data = Path(opts.data) if opts.data else Path(tmp) / opts.scene
        if not opts.data:
            make_scene(opts.scene, data, res=opts.res, seed=opts.seed, progress=progress)
        # Check everything the last stage needs before the first model trains.
        load_blender(data, "train", max_frames=1)
        test = load_blender(data, "test")
        if len(test) < 3 or (opts.eval_views is not None and opts.eval_views > len(test)):
            raise QuadfreeError(f"data {data}: {len(test)} test views; the benchmark needs at "
                                f"least {max(3, opts.eval_views or 3)}", param="data")
        if test.depths is None:
            notes.append("the dataset has no depth maps: view consistency is measured at the "
                         "surface the NeRF run renders (depth where its opacity >= 0.5), not "
                         "at ground-truth surfaces")
        root = Path(opts.run_dir) if opts.run_dir else Path(tmp) / "runs"
        if opts.run_dir:
            for model in models:
                prepare_output_dir(root / model["key"], "run_dir",
                                   hint="another run_dir", hint_params=("run_dir",))
        summaries = {}
        for model in tqdm(models, disable=not progress, desc="models"):
            summaries[model["key"]] = train_for_budget(
                model["method"], data, root / model["key"], opts.minutes * 60.0,
                {**train_common, **model["overrides"]}, iters=opts.iters, ckpt_every=1000,
                seed=opts.seed, device=device, progress=progress)
        methods, states = {}, {}
        for model in models:
            methods[model["label"]], states[model["key"]] = load_run(root / model["key"], device)
        if test.depths is None:
            test = with_depths(test, rendered_depths(methods["NeRF"], test, device=device))
        comp = score_methods(methods, test, baseline="NeRF", max_views=opts.eval_views,
                             seed=opts.seed, device=device, progress=progress)
        rows = []
        nerf_psnr = comp["rows"][0]["psnr"]
        for model, row in zip(models, comp["rows"]):
            state = states[model["key"]]
            consistency = row["view_consistency"]
            rows.append({
                "method": model["method"], "label": model["label"],
                "sections": model["sections"], "remedy": model.get("remedy"),
                "psnr": round(row["psnr"], 3), "ssim": round(row["ssim"], 4),
                "render_s_per_frame": round(row["render_s_per_frame"], 5),
                "render_s_all": row["render_s_all"],
                "evals_per_ray": row["evals_per_ray"], "speedup": round(row["speedup"], 2),
                "psnr_gap_db": round(nerf_psnr - row["psnr"], 3),
                "view_consistency": {k: (round(v, 4) if isinstance(v, float) else v)
                                     for k, v in consistency.items()},
                "train_seconds": round(float(state.get("train_seconds", 0.0)), 1),
                "iters": int(state["step"]), "config": state["method_config"],
            })
    n8 = next((r for r in rows if r["method"] == "autoint" and r["sections"] == 8
               and r["remedy"] is None), None)
    result = {
        "benchmark": "autoint", "scene": opts.scene, "resolution": [opts.res, opts.res],
        "minutes_per_model": opts.minutes, "iters": opts.iters, "quick": bool(opts.quick),
        "calibrated_iters": opts.iters is None,
        "eval_views": len(rows[0]["render_s_all"]), "rows": rows,
        "target_n8": None if n8 is None else {
            "speedup": n8["speedup"], "psnr_gap_db": n8["psnr_gap_db"],
            "met": bool(n8["speedup"] >= 10.0 and n8["psnr_gap_db"] <= 2.0)},
        "total_seconds": round(time.perf_counter() - start, 1),
        "view_consistency_surface": "rendered by NeRF" if notes else "ground truth",
        "notes": notes,
        "threads": torch.get_num_threads(), "machine": machine_info(device),
    }
    if opts.plot is not None:
        plot_quality_vs_time([{**r, "label": r["label"]} for r in rows], opts.plot,
                             title=f"{opts.scene} {opts.res}×{opts.res}, "
                                   f"{opts.minutes:g} min training per model")
    return result
