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
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from quadfree.bench.machine import machine_info
from quadfree.comparison import calibrate_iters, compare_methods, plot_quality_vs_time
from quadfree.config import parse_assignments
from quadfree.data.blender import load_blender
from quadfree.data.scenes import make_scene
from quadfree.device import resolve_device
from quadfree.errors import QuadfreeError
from quadfree.outputs import prepare_output_dir
from quadfree.radiance.consistency import measure_view_consistency
from quadfree.radiance.rendered_depth import rendered_depths, with_depths
from quadfree.train.checkpoint import load_run
from quadfree.train.trainer import route_overrides, train_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``quadfree bench autoint``."""
    parser.add_argument("--scene", default="objects", choices=["objects", "fog"])
    parser.add_argument("--res", type=int, default=64, help="scene resolution (default 64)")
    parser.add_argument("--data", metavar="DIR", help="use this dataset instead of generating")
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="training-time budget per model in minutes (default 10; five "
                             "models: about 55 min in all)")
    parser.add_argument("--iters", type=int, default=None,
                        help="train every model for this many steps (still capped at "
                             "--minutes). Default: time a few steps of each model and pick the "
                             "step count that fills --minutes, so every model gets the same "
                             "training time and completes its learning-rate schedule")
    parser.add_argument("--calibrate", action="store_true", help=argparse.SUPPRESS)  # old name
    parser.add_argument("--sections", default="8,16,32",
                        help="comma-separated AutoInt section counts N (default 8,16,32)")
    parser.add_argument("--consistency-weight", type=float, default=1.0,
                        help="also train AutoInt N=8 with this view-consistency penalty "
                             "(0: skip that row; default 1.0)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="training-config override for every model (repeatable)")
    parser.add_argument("--autoint-set", action="append", default=[], metavar="KEY=VALUE",
                        help="AutoInt config override (repeatable)")
    parser.add_argument("--eval-views", type=int, default=None,
                        help="evaluate only the first N test views (default all 20; min 3)")
    parser.add_argument("--quick", action="store_true",
                        help="reduced run: 1.5 min per model (calibrated steps; ignores "
                             "--iters), 5 test views")
    parser.add_argument("--run", metavar="DIR", help="keep the runs here (default: temporary)")


def _models(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The models to train: NeRF, AutoInt for each N, and the remedy row."""
    try:
        sections = [int(s) for s in str(args.sections).split(",") if s.strip()]
    except ValueError:
        raise QuadfreeError(f"--sections {args.sections!r}: expected e.g. 8,16,32") from None
    if not sections or min(sections) < 1:
        raise QuadfreeError(f"--sections {args.sections!r}: need positive integers")
    extra = parse_assignments(args.autoint_set)
    models = [{"key": "nerf", "label": "NeRF", "method": "nerf", "sections": None,
               "overrides": {}}]
    for n in sections:
        models.append({"key": f"autoint_n{n}", "label": f"AutoInt N={n}", "method": "autoint",
                       "sections": n, "overrides": {**extra, "sections": str(n)}})
    if args.consistency_weight > 0:
        n = min(sections)
        models.append({"key": f"autoint_n{n}_consistent", "label": f"AutoInt N={n} +cons",
                       "method": "autoint", "sections": n, "remedy": "consistency",
                       "overrides": {**extra, "sections": str(n),
                                     "consistency_weight": str(args.consistency_weight)}})
    return models


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-ready result."""
    if args.quick:
        args.minutes, args.eval_views, args.iters = 1.5, args.eval_views or 5, None
    if args.iters is not None and args.iters < 1:
        raise QuadfreeError(f"--iters {args.iters}: need at least 1 step")
    if args.eval_views is not None and args.eval_views < 3:
        raise QuadfreeError(f"--eval-views {args.eval_views}: need at least 3 for a median")
    device = resolve_device(args.device)
    progress = not args.quiet
    models = _models(args)
    train_common = parse_assignments(args.set)
    start = time.perf_counter()
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="quadfree-bench-autoint-") as tmp:
        data = Path(args.data) if args.data else Path(tmp) / args.scene
        if not args.data:
            make_scene(args.scene, data, res=args.res, seed=args.seed, progress=progress)
        # Check everything the last stage needs before the first model trains.
        load_blender(data, "train", max_frames=1)
        test = load_blender(data, "test")
        if len(test) < 3 or (args.eval_views is not None and args.eval_views > len(test)):
            raise QuadfreeError(f"{data}: {len(test)} test views; the benchmark needs at least "
                                f"{max(3, args.eval_views or 3)}")
        if test.depths is None:
            notes.append("the dataset has no depth maps: view consistency is measured at the "
                         "surface the NeRF run renders (depth where its opacity >= 0.5), not "
                         "at ground-truth surfaces")
        root = Path(args.run) if args.run else Path(tmp) / "runs"
        if args.run:
            for model in models:
                prepare_output_dir(root / model["key"], "--run", hint="another --run folder")
        summaries = {}
        for model in tqdm(models, disable=not progress, desc="models"):
            method_over, train_over = route_overrides(
                model["method"], {**train_common, **model["overrides"]})
            iters = args.iters
            if iters is None:
                iters = calibrate_iters(model["method"], data, args.minutes * 60.0,
                                        {**train_common, **model["overrides"]}, seed=args.seed,
                                        device=device)
            train_over = {"val_every": 0, "val_views": 0, "ckpt_every": 1000,
                          "lr_follows_time": True, **train_over,
                          "iters": iters, "max_seconds": args.minutes * 60.0}
            summaries[model["key"]] = train_run(
                model["method"], data, root / model["key"], method_overrides=method_over,
                train_overrides=train_over, seed=args.seed, device=device, progress=progress)
        methods, states = {}, {}
        for model in models:
            methods[model["label"]], states[model["key"]] = load_run(root / model["key"], device)
        comp = compare_methods(methods, test, baseline="NeRF", max_views=args.eval_views,
                               device=device, progress=progress)
        if test.depths is None:
            test = with_depths(test, rendered_depths(methods["NeRF"], test, device=device))
        rows = []
        nerf_psnr = comp["rows"][0]["psnr"]
        for model, row in zip(models, comp["rows"]):
            state = states[model["key"]]
            # σ > 0.1 keeps points of briefly trained models (1.0 left 0-13 of 256)
            consistency = measure_view_consistency(methods[model["label"]], test, points=512,
                                                   views=8, min_density=0.1, seed=args.seed)
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
        "benchmark": "autoint", "scene": args.scene, "resolution": [args.res, args.res],
        "minutes_per_model": args.minutes, "iters": args.iters, "quick": bool(args.quick),
        "calibrated_iters": args.iters is None,
        "eval_views": len(rows[0]["render_s_all"]), "rows": rows,
        "target_n8": None if n8 is None else {
            "speedup": n8["speedup"], "psnr_gap_db": n8["psnr_gap_db"],
            "met": bool(n8["speedup"] >= 10.0 and n8["psnr_gap_db"] <= 2.0)},
        "total_seconds": round(time.perf_counter() - start, 1),
        "view_consistency_surface": "rendered by NeRF" if notes else "ground truth",
        "notes": notes,
        "threads": torch.get_num_threads(), "machine": machine_info(device),
    }
    if args.json:
        plot_quality_vs_time([{**r, "label": r["label"]} for r in rows],
                             Path(args.json).with_suffix(".png"),
                             title=f"{args.scene} {args.res}×{args.res}, "
                                   f"{args.minutes:g} min training per model")
    return result
