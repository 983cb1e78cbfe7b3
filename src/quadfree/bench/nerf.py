"""``quadfree bench nerf``: train the small CPU NeRF on ``objects`` for a fixed time, evaluate.

Generates the scene (unless ``--data`` is given), trains with the default (small CPU) NeRF and
training configurations for ``--minutes`` of training time, then renders every test view.
JSON keys: ``psnr``, ``ssim`` (test-view means), ``train_seconds``, ``render_s_per_frame``,
``samples_per_ray``, ``evals_per_ray``, ``resolution``, ``iters``, ``val_curve``, ``machine``;
a plot of validation PSNR against training time goes next to the JSON.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from quadfree.bench.machine import machine_info
from quadfree.config import parse_assignments
from quadfree.data.scenes import make_scene
from quadfree.device import resolve_device
from quadfree.runs import evaluate_run
from quadfree.train.checkpoint import load_checkpoint
from quadfree.train.trainer import route_overrides, train_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``quadfree bench nerf``."""
    parser.add_argument("--scene", default="objects", choices=["objects", "fog"])
    parser.add_argument("--res", type=int, default=64, help="scene resolution (default 64)")
    parser.add_argument("--data", metavar="DIR", help="use this dataset instead of generating")
    parser.add_argument("--minutes", type=float, default=20.0,
                        help="training-time budget in minutes (default 20)")
    parser.add_argument("--iters", type=int, default=2000,
                        help="training steps; the learning rate decays over them (default 2000)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a method or training config field (repeatable)")
    parser.add_argument("--run", metavar="DIR",
                        help="keep the run (and the generated dataset, RUN/dataset) here "
                             "(default: temporary)")
    parser.add_argument("--eval-views", type=int, default=None,
                        help="evaluate only the first N test views (default all 20)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-ready result."""
    device = resolve_device(args.device)
    progress = not args.quiet
    with tempfile.TemporaryDirectory(prefix="quadfree-bench-nerf-") as tmp:
        # the generated scene lives in the kept run (RUN/dataset) so render/eval work later
        data = Path(args.data) if args.data else \
            (Path(args.run) / "dataset" if args.run else Path(tmp) / args.scene)
        scene_seconds = None
        if not args.data:
            start = time.perf_counter()
            make_scene(args.scene, data, res=args.res, seed=args.seed, progress=progress)
            scene_seconds = time.perf_counter() - start
        run_dir = Path(args.run) if args.run else Path(tmp) / "run"
        method_over, train_over = route_overrides("nerf", parse_assignments(args.set))
        train_over = {"val_every": 250, "val_views": 1, "ckpt_every": 1000, **train_over,
                      "iters": args.iters, "max_seconds": args.minutes * 60.0}
        summary = train_run("nerf", data, run_dir, method_overrides=method_over,
                            train_overrides=train_over, seed=args.seed, device=device,
                            progress=progress)
        state = load_checkpoint(run_dir / "checkpoint.pt")
        result = evaluate_run(run_dir, max_frames=args.eval_views, device=device,
                              progress=progress)
    cfg = state["method_config"]
    curve = [{"step": h["step"], "train_seconds": round(h["train_seconds"], 2),
              "val_psnr": round(h["val_psnr"], 3)} for h in state["history"] if "val_psnr" in h]
    out = {
        "benchmark": "nerf", "scene": args.scene, "resolution": [result["resolution"][0],
                                                                 result["resolution"][1]],
        "psnr": round(result["psnr"], 3), "ssim": round(result["ssim"], 4),
        "lpips": None, "lpips_note": result["lpips_note"],
        "train_seconds": round(summary["train_seconds"], 1),
        "budget_seconds": args.minutes * 60.0,
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
    if args.json:
        _plot(curve, Path(args.json).with_suffix(".png"), out)
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
