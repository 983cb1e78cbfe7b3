"""What to do with a trained run: render its test views or an orbit, write videos, evaluate.

The library behind ``quadfree render`` and ``quadfree eval``: a run directory holds
``checkpoint.pt`` (method name + config + weights + dataset options); everything here rebuilds
the method from it and renders with :func:`quadfree.render.image.render_image`.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from quadfree.apps.comparison import compare_methods
from quadfree.atomic import atomic_dir
from quadfree.data.formats import load_views
from quadfree.data.scenes.cameras import orbit_poses
from quadfree.data.views import ViewSet
from quadfree.errors import QuadfreeError
from quadfree.images import save_png, to_uint8, write_video
from quadfree.machine import machine_info
from quadfree.radiance.base import RadianceMethod
from quadfree.render.image import render_image
from quadfree.render.rays import Camera
from quadfree.train.checkpoint import load_run


def run_split(state: dict[str, Any], split: str = "test", data: str | Path | None = None,
              max_frames: int | None = None) -> ViewSet:
    """Load ``split`` of the dataset a run was trained on (or of ``data`` if given), with the
    run's format, downscale, near/far and NDC setting.

    Example:
        >>> run_split({"data": {"path": "/nonexistent", "downscale": 1, "near": 2, "far": 6}})
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: /nonexistent: dataset directory not found
    """
    info = state["data"]
    near, far = info.get("near"), info.get("far")
    return load_views(data or info["path"], split, format=None if data else info.get("format"),
                      downscale=int(info["downscale"]),
                      near=None if near is None else float(near),
                      far=None if far is None else float(far), max_frames=max_frames,
                      ndc=bool(info.get("ndc", True)))


def render_run(run: str | Path, out: str | Path, *, split: str | None = "test",
               orbit: int | None = None, elevation: float = 30.0, data: str | Path | None = None,
               video: str = "mp4", fps: int = 10, chunk: int = 4096,
               device: torch.device | str = "cpu", progress: bool = True,
               max_frames: int | None = None) -> dict[str, Any]:
    """Render a run's ``split`` views or an ``orbit`` of N frames into ``out``.

    Writes ``out/frame_0000.png`` … and ``out/video.mp4`` (``video="gif"``: ``.gif``; MP4
    falls back to GIF without imageio-ffmpeg); ``out`` is built beside its place and replaces
    it whole at the end (a killed render leaves no partial folder). The orbit uses the
    test split's intrinsics and camera distance. Returns
    ``{"frames": [...], "video": path, "s_per_frame": float}`` (median seconds per frame).

    Example:
        >>> render_run("/nonexistent", "/tmp/x")
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: /nonexistent/checkpoint.pt: checkpoint not found
    """
    if fps < 1:
        raise QuadfreeError(f"fps {fps}: must be >= 1", param="fps")
    method, state = load_run(run, device)
    out = Path(out)
    if orbit is not None:
        if orbit < 1:
            raise QuadfreeError(f"orbit {orbit}: need at least one frame", param="orbit")
        ref = run_split(state, "test", data, max_frames=1)
        radius = float(ref.poses[0, :3, 3].norm())
        poses = torch.from_numpy(orbit_poses(orbit, elevation, radius)).float()
        base = ref.camera(0)
        cams = [Camera(ref.height, ref.width, base.focal, p, cx=base.cx, cy=base.cy,
                       focal_y=base.focal_y, ndc_near=base.ndc_near) for p in poses]
        near, far = ref.near, ref.far
    else:
        views = run_split(state, split or "test", data, max_frames=max_frames)
        cams = [views.camera(i) for i in range(len(views))]
        near, far = views.near, views.far
    frames, files, seconds = [], [], []
    with atomic_dir(out) as tmp:          # the folder appears complete, or not at all
        for i, cam in enumerate(tqdm(cams, disable=not progress, desc="render")):
            img = render_image(method, cam, near=near, far=far, chunk=chunk, device=device)
            seconds.append(img["seconds"])
            frame = to_uint8(img["rgb"])
            save_png(tmp / f"frame_{i:04d}.png", frame)
            frames.append(frame)
            files.append(str(out / f"frame_{i:04d}.png"))
        written = write_video(tmp / f"video.{video}", frames, fps=fps)
    return {"frames": files, "video": str(out / written.name),
            "s_per_frame": statistics.median(seconds)}


def evaluate_method(method: RadianceMethod, views: ViewSet, *, chunk: int = 4096,
                    device: torch.device | str = "cpu", progress: bool = False,
                    save_dir: str | Path | None = None) -> dict[str, Any]:
    """PSNR and SSIM per image and their means, seconds per frame and network evaluations per
    ray of ``method`` on ``views`` (predictions clipped to [0, 1]; white background).

    Example:
        >>> from quadfree.radiance.registry import build_method
        >>> m, _ = build_method("nerf", {"width": 8, "depth": 1, "skips": "", "n_fine": 0})
        >>> v = ViewSet(torch.ones(1, 12, 12, 3), torch.eye(4)[None], 12, 12, 12.0,
        ...                  2.0, 6.0, 0.9)
        >>> sorted(evaluate_method(m, v))[:3]
        ['evals_per_ray', 'images', 'num_images']
    """
    def save(label: str, i: int, pred: torch.Tensor) -> None:
        if save_dir is not None:
            save_png(Path(save_dir) / f"pred_{i:04d}.png", pred)

    row = compare_methods({"method": method}, views, warmup=False, chunk=chunk, device=device,
                          progress=progress, on_prediction=save)["rows"][0]
    images = [{**rec, "file": views.files[rec["index"]] if views.files else None}
              for rec in row["per_image"]]
    seconds = [rec["seconds"] for rec in images]
    return {
        "psnr": row["psnr"], "ssim": row["ssim"],
        "s_per_frame": float(row["render_s_per_frame"]),
        "s_per_frame_mean": float(np.mean(seconds)),
        "evals_per_ray": row["evals_per_ray"],
        "num_images": len(images), "resolution": [views.height, views.width],
        "images": images,
    }


def evaluate_run(run: str | Path, *, split: str = "test", data: str | Path | None = None,
                 max_frames: int | None = None, chunk: int = 4096,
                 device: torch.device | str = "cpu", progress: bool = True,
                 save_dir: str | Path | None = None) -> dict[str, Any]:
    """:func:`evaluate_method` on a run directory, with run metadata and the machine.

    Example:
        >>> evaluate_run("/nonexistent")
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: /nonexistent/checkpoint.pt: checkpoint not found
    """
    method, state = load_run(run, device)
    views = run_split(state, split, data, max_frames=max_frames)
    result = evaluate_method(method, views, chunk=chunk, device=device, progress=progress,
                             save_dir=save_dir)
    return {"run": str(run), "method": state["method"], "step": int(state["step"]),
            "split": split, "method_config": state["method_config"],
            "train_seconds": float(state.get("train_seconds", 0.0)), **result,
            "machine": machine_info(device)}
