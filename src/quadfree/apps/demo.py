"""The README's main job: NeRF vs AutoInt on a procedural scene, trained and rendered on a CPU.

:func:`run_demo` generates the ``objects`` scene, trains NeRF and AutoInt with their CPU
defaults for a fixed time each (the iteration count, and so the learning-rate schedule, is
calibrated from a few timed steps so training ends on budget), renders every test view with both
methods side by side (timing interleaved in one process), renders an orbit animation, measures
view consistency, and writes ``report.md`` with a figure and a table.

Output layout::

    OUT/data/objects/        the generated dataset (reused if it exists at this resolution)
    OUT/runs/{nerf,autoint}/ training runs (checkpoint.pt, history.json, config.json)
    OUT/comparison.png       ground truth vs NeRF vs AutoInt on test views
    OUT/quality_vs_time.png  test PSNR against render seconds per frame
    OUT/orbit.mp4, orbit.gif NeRF | AutoInt orbit, side by side (MP4 when imageio-ffmpeg
                             is installed; the GIF always, for the Markdown report)
    OUT/results.json         every number in the report
    OUT/report.md            the report
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from quadfree.apps.comparison import plot_image_grid, plot_quality_vs_time
from quadfree.apps.pipeline import score_methods, train_for_budget
from quadfree.atomic import write_text
from quadfree.config import to_dict
from quadfree.data.blender import load_blender
from quadfree.data.scenes import make_scene
from quadfree.data.scenes.cameras import orbit_poses
from quadfree.errors import QuadfreeError
from quadfree.images import mp4_available, to_uint8, write_video
from quadfree.machine import machine_info
from quadfree.radiance.registry import build_method
from quadfree.render.image import render_image
from quadfree.render.rays import Camera
from quadfree.train.checkpoint import load_checkpoint, load_run
from quadfree.train.trainer import route_overrides, train_run

METHODS = ("nerf", "autoint")
LABELS = {"nerf": "NeRF", "autoint": "AutoInt",  # AutoInt rows get " N=<sections>"
          "terf": "TeRF"}


@dataclass
class DemoOptions:
    """What :func:`run_demo` does.

    Attributes:
        out: output directory.
        res: scene resolution (R×R pixels).
        minutes: training budget per method, in minutes.
        orbit_frames: frames of the orbit animation (0: none).
        sections: AutoInt's N (None: the AutoInt config's default, 8, the same in ``train``
            and ``bench autoint``); a typed value, passed on to the model as it is.
        test_views: test views to evaluate (None: all 20).
        nerf_set, autoint_set: overrides of each method's config or of the training config
            (e.g. ``{"sections": 16}``, ``{"batch_rays": 1024}``; the CLI parses
            ``KEY=VALUE`` once into typed values).
        terf: also train and show TeRF (the FC²T² radiance field) beside the two; off by
            default so the default demo keeps its 15-minute budget.
        terf_set: overrides of TeRF's config or of its training config.
        fresh: retrain even where ``out/runs`` holds finished runs of the same configuration
            (by default those are reused, and the report says so).
        calibration_steps: timed steps used to pick the iteration count for the budget.
        scene_sizes: views per split (default: the scene's 100 / 10 / 20).
        seed: random seed; device: torch device; progress: tqdm bars.
    """

    out: Path
    res: int = 64
    minutes: float = 4.0
    orbit_frames: int = 24
    sections: int | None = None
    test_views: int | None = None
    nerf_set: dict[str, Any] = field(default_factory=dict)
    autoint_set: dict[str, Any] = field(default_factory=dict)
    terf: bool = False
    terf_set: dict[str, Any] = field(default_factory=dict)
    fresh: bool = False
    calibration_steps: int = 12
    scene_sizes: dict[str, int] | None = None
    seed: int = 0
    device: torch.device | str = "cpu"
    progress: bool = True


def _train(method: str, data: Path, run_dir: Path, opts: DemoOptions,
           overrides: dict[str, Any]) -> dict[str, Any]:
    """Train (or reuse a finished run of) ``method`` for the demo's time budget."""
    ckpt = run_dir / "checkpoint.pt"
    method_over, train_over = route_overrides(method, dict(overrides))
    if opts.fresh and run_dir.is_dir():
        shutil.rmtree(run_dir)
    if ckpt.exists():
        state = load_checkpoint(ckpt)
        wanted = to_dict(build_method(method, method_over)[1])
        changed = sorted(k for k in wanted if state["method_config"].get(k) != wanted[k])
        if changed:
            raise QuadfreeError(
                f"{run_dir}: holds a {method} run with another configuration ("
                + ", ".join(f"{k}: {state['method_config'].get(k)!r} → {wanted[k]!r}"
                            for k in changed)
                + "); delete it, choose another output directory or retrain with fresh=True")
        cfg = state["train_config"]
        if state["step"] >= cfg["iters"] or (
                cfg.get("max_seconds") and state.get("train_seconds", 0) >= cfg["max_seconds"]):
            return {"reused": True, "step": state["step"],
                    "train_seconds": state.get("train_seconds", 0.0), **_origin(state, ckpt)}
        return {**train_run(method, data, run_dir, resume=True, device=opts.device,
                            progress=opts.progress), "reused": True, **_origin(state, ckpt)}
    budget = opts.minutes * 60.0
    summary = train_for_budget(method, data, run_dir, budget, overrides,
                               max_seconds=budget * 1.1,
                               calibration_steps=opts.calibration_steps, seed=opts.seed,
                               device=opts.device, progress=opts.progress)
    return {**summary, "reused": False}


def _origin(state: dict[str, Any], ckpt: Path) -> dict[str, Any]:
    """Where and when a reused run was trained (runs saved before this was recorded: the
    checkpoint's modification time and an unknown machine)."""
    machine = state.get("machine") or {}
    when = state.get("saved_at") or datetime.fromtimestamp(
        ckpt.stat().st_mtime, UTC).isoformat(timespec="seconds")
    return {"trained_on": machine.get("cpu", "unknown machine"), "trained_at": when}


def reuse_note(training: dict[str, dict[str, Any]]) -> str:
    """One line saying which runs were reused, from which machine and date ('' if none).

    Example:
        >>> note = reuse_note({"nerf": {"reused": True, "trained_on": "CPU X",
        ...                             "trained_at": "2026-01-02T03:04:05+00:00"},
        ...                    "autoint": {"reused": False}})
        >>> "NeRF trained on CPU X at 2026-01-02" in note, "AutoInt" in note
        (True, False)
    """
    reused = [f"{LABELS.get(k, k)} trained on {t.get('trained_on', 'unknown machine')} at "
              f"{t.get('trained_at', 'unknown date')}" for k, t in training.items()
              if t.get("reused")]
    if not reused:
        return ""
    return ("Reused earlier runs (not retrained): " + "; ".join(reused)
            + ". Pass --fresh to retrain.")


def _orbit(methods: dict[str, Any], ref, frames: int, path: Path, progress: bool,
           device: torch.device | str) -> dict[str, float]:
    """Render an orbit with every method; write one side-by-side ``path.gif`` and
    ``path.mp4`` (MP4 only with imageio-ffmpeg); median s/frame."""
    radius = float(ref.poses[0, :3, 3].norm())
    poses = torch.from_numpy(orbit_poses(frames, 30.0, radius)).float()
    seconds: dict[str, list[float]] = {k: [] for k in methods}
    video = []
    for pose in tqdm(poses, disable=not progress, desc="render orbit"):
        cam = Camera(ref.height, ref.width, ref.focal, pose)
        tiles = []
        for label, method in methods.items():
            out = render_image(method, cam, near=ref.near, far=ref.far, device=device)
            seconds[label].append(out["seconds"])
            tiles.append(to_uint8(out["rgb"]))
        gap = np.full((ref.height, 2, 3), 255, np.uint8)
        video.append(np.concatenate([t for tile in tiles for t in (tile, gap)][:-1], axis=1))
    write_video(path.with_suffix(".gif"), video, fps=8)
    if mp4_available():
        write_video(path.with_suffix(".mp4"), video, fps=8)
    return {k: float(np.median(v)) for k, v in seconds.items()}


def run_demo(opts: DemoOptions) -> dict[str, Any]:
    """Run the whole demo; returns the results dict (also written to ``results.json``).

    Example (the defaults; ``tests/test_demo.py`` runs it at 12×12):
        >>> opts = DemoOptions(Path("demo_out"))
        >>> opts.res, opts.minutes, opts.orbit_frames, opts.sections
        (64, 4.0, 24, None)
    """
    start = time.perf_counter()
    out = Path(opts.out)
    if opts.res < 12:
        raise QuadfreeError(f"res {opts.res}: use at least 12 pixels (SSIM's 11×11 window)",
                            param="res")
    if opts.minutes <= 0:
        raise QuadfreeError(f"minutes {opts.minutes}: must be positive", param="minutes")
    data = out / "data" / "objects"
    meta_path = data / "scene.json"
    if not (meta_path.exists() and json.loads(meta_path.read_text()).get("res") == opts.res):
        make_scene("objects", data, res=opts.res, seed=opts.seed, sizes=opts.scene_sizes,
                   progress=opts.progress)
    scene_seconds = time.perf_counter() - start

    sections = {} if opts.sections is None else {"sections": opts.sections}
    overrides = {"nerf": opts.nerf_set, "autoint": {**sections, **opts.autoint_set},
                 "terf": opts.terf_set}
    names = METHODS + (("terf",) if opts.terf else ())
    training = {}
    for name in names:
        training[name] = _train(name, data, out / "runs" / name, opts, overrides[name])

    methods, states = {}, {}
    for name in names:
        method, states[name] = load_run(out / "runs" / name, opts.device)
        label = LABELS[name]
        if name == "autoint":
            label += f" N={method.config.sections}"
        methods[label] = method
    test = load_blender(data, "test", max_frames=opts.test_views)
    comp = score_methods(methods, test, baseline="NeRF", keep_images=3, seed=opts.seed,
                         device=opts.device, progress=opts.progress)
    rows = comp["rows"]
    for row, name in zip(rows, names):
        row.pop("per_image")
        row["method"] = name
        row["train_seconds"] = float(states[name].get("train_seconds", 0.0))
        row["iters"] = int(states[name]["step"])
        row["config"] = states[name]["method_config"]

    columns = {"ground truth": [test.images[i] for i in range(min(3, len(test)))]}
    columns.update(comp["images"])
    plot_image_grid(columns, out / "comparison.png",
                    title=f"objects {opts.res}×{opts.res}, test views")
    plot_quality_vs_time(rows, out / "quality_vs_time.png",
                         title=f"objects {opts.res}×{opts.res}: quality vs render time")
    orbit = (_orbit(methods, test, opts.orbit_frames, out / "orbit.gif", opts.progress,
                    opts.device) if opts.orbit_frames > 0 else {})

    result = {"scene": "objects", "resolution": [opts.res, opts.res], "seed": opts.seed,
              "minutes_per_method": opts.minutes, "scene_seconds": round(scene_seconds, 1),
              "rows": rows, "orbit_s_per_frame": orbit, "training": training,
              "reused_note": reuse_note(training),
              "threads": torch.get_num_threads(), "machine": machine_info(opts.device),
              "total_seconds": round(time.perf_counter() - start, 1)}
    write_text(out / "results.json", json.dumps(result, indent=2, default=_json) + "\n")
    write_text(out / "report.md", render_report(result))
    return result


def _json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, torch.Tensor):
        return value.tolist()
    raise TypeError(f"not JSON-serialisable: {type(value)}")


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def render_report(result: dict[str, Any]) -> str:
    """The Markdown report of a demo result (relative links to its figures).

    Example:
        >>> row = {"label": "NeRF", "psnr": 25.0, "ssim": 0.9, "render_s_per_frame": 2.0,
        ...        "evals_per_ray": 128, "speedup": 1.0, "train_seconds": 60.0, "iters": 100,
        ...        "views": 20, "view_consistency": {"cv_median": 0.0,
        ...                                          "disagree_fraction": 0.0}}
        >>> fast = {**row, "label": "AutoInt N=8", "psnr": 24.0, "speedup": 20.0}
        >>> text = render_report({"resolution": [64, 64], "rows": [row, fast], "machine": {},
        ...                       "total_seconds": 1.0, "minutes_per_method": 4.0,
        ...                       "orbit_s_per_frame": {}, "threads": 1})
        >>> "| NeRF | 25.00 |" in text, "20.0× faster than NeRF, PSNR 1.00 dB below" in text
        (True, True)
    """
    res = result["resolution"]
    m = result.get("machine", {})
    names = " vs ".join(r["label"].split(" N=")[0] for r in result["rows"])
    lines = [
        f"# quadfree demo: {names}",
        "",
        f"Scene `objects` at {res[0]}×{res[1]}, white background; each method trained for "
        f"{result['minutes_per_method']:g} min with its CPU defaults; "
        f"{result['rows'][0]['views']} test views. Machine: {m.get('cpu', '?')}, "
        f"{m.get('cpu_count', '?')} cores, torch {m.get('torch', '?')}, "
        f"{result.get('threads', '?')} thread(s), device {m.get('device', '?')}. "
        f"Total time {result['total_seconds'] / 60:.1f} min.",
        "",
        *([f"**{result['reused_note']}**", ""] if result.get("reused_note") else []),
        f"![ground truth vs {names}](comparison.png)",
        "",
        "| method | PSNR (dB) | SSIM | s/frame | network evals/ray | speedup | train s | iters "
        "| density CV across views | views disagree |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        vc = r.get("view_consistency", {})
        lines.append(
            f"| {r['label']} | {r['psnr']:.2f} | {r['ssim']:.3f} | "
            f"{r['render_s_per_frame']:.3f} | {r['evals_per_ray']} | {r['speedup']:.1f}× | "
            f"{r['train_seconds']:.0f} | {r['iters']} | {_fmt(vc.get('cv_median'), '.3f')} "
            f"| {_fmt(vc.get('disagree_fraction'), '.0%')} |")
    base = result["rows"][0]
    lines.append("")
    for r in result["rows"][1:]:
        side = "below" if r["psnr"] <= base["psnr"] else "above"
        pace = (f"{r['speedup']:.1f}× faster than" if r["speedup"] >= 1 else
                f"{1 / max(r['speedup'], 1e-12):.1f}× slower than")
        lines.append(f"**{r['label']}: {pace} {base['label']}, PSNR "
                     f"{abs(base['psnr'] - r['psnr']):.2f} dB {side} it** "
                     f"({r['psnr']:.2f} vs {base['psnr']:.2f} dB).")
    lines += [
        "",
        "Seconds per frame: median over the test views, every view rendered by every method in "
        "turn in one process (AutoInt on its integral path: N+1 evaluations of the integral "
        "network per ray; TeRF evaluates no network). Speedup = NeRF s/frame ÷ method "
        "s/frame. Density CV across views: median over points just inside the true surfaces "
        "of std/mean of the density seen from 8 test cameras (0 = view-independent); views "
        "disagree: share of those points that some view sees as nearly empty while another "
        "sees them dense.",
        "",
        "![quality vs render time](quality_vs_time.png)",
        "",
    ]
    if result.get("orbit_s_per_frame"):
        order = ", ".join(r["label"] for r in result["rows"])
        lines += [f"Orbit (left to right: {order}):", "", "![orbit](orbit.gif)",
                  "", "(also as `orbit.mp4`)", ""]
    return "\n".join(lines) + "\n"
