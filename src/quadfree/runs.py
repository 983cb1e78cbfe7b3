"""What to do with a trained run: render its test views or an orbit, write videos, evaluate.

The library behind ``quadfree render`` and ``quadfree eval``: a run directory holds
``checkpoint.pt`` (method name + config + weights + dataset options); everything here rebuilds
the method from it and renders with :func:`quadfree.render.image.render_image`.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import torch
from tqdm.auto import tqdm

from quadfree.atomic import atomic_dir, atomic_path
from quadfree.bench.machine import machine_info
from quadfree.data.blender import BlenderSplit, load_blender
from quadfree.data.scenes.cameras import orbit_poses
from quadfree.errors import QuadfreeError
from quadfree.metrics import LPIPS_AVAILABLE, LPIPS_NOTE, psnr, ssim
from quadfree.outputs import write_image
from quadfree.radiance.base import RadianceMethod
from quadfree.render.image import render_image
from quadfree.render.rays import Camera
from quadfree.train.checkpoint import load_run
from quadfree.train.trainer import save_png


def run_split(state: dict[str, Any], split: str = "test", data: str | Path | None = None,
              max_frames: int | None = None) -> BlenderSplit:
    """Load ``split`` of the dataset a run was trained on (or of ``data`` if given), with the
    run's downscale and near/far.

    Example:
        >>> run_split({"data": {"path": "/nonexistent", "downscale": 1, "near": 2, "far": 6}})
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: /nonexistent: dataset directory not found
    """
    info = state["data"]
    return load_blender(data or info["path"], split, downscale=int(info["downscale"]),
                        near=float(info["near"]), far=float(info["far"]), max_frames=max_frames)


def write_video(path: str | Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """Write uint8 frames ``(H, W, 3)`` as an animated GIF (or MP4 when ``path`` ends in
    ``.mp4`` and the ``imageio-ffmpeg`` package is installed), atomically.

    Example:
        >>> import tempfile, pathlib
        >>> p = write_video(pathlib.Path(tempfile.mkdtemp()) / "v.gif",
        ...                 [np.zeros((4, 4, 3), np.uint8)] * 2)
        >>> p.suffix
        '.gif'
    """
    path = Path(path)
    if path.suffix == ".mp4":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise QuadfreeError(f"{path}: writing MP4 needs the imageio-ffmpeg package; "
                                "use a .gif path instead") from None
        with atomic_path(path) as tmp:
            iio.imwrite(tmp, np.stack(frames), extension=".mp4", fps=fps)
        return path
    if path.suffix != ".gif":
        raise QuadfreeError(f"{path}: video must end in .gif or .mp4")
    with atomic_path(path) as tmp:
        write_image(tmp, np.stack(frames), extension=".gif", duration=1000.0 / fps, loop=0)
    return path


def _to_uint8(img: torch.Tensor) -> np.ndarray:
    return (img.clamp(0, 1).numpy() * 255.0 + 0.5).astype(np.uint8)


def render_run(run: str | Path, out: str | Path, *, split: str | None = "test",
               orbit: int | None = None, elevation: float = 30.0, data: str | Path | None = None,
               video: str = "gif", fps: int = 10, chunk: int = 4096,
               device: torch.device | str = "cpu", progress: bool = True,
               max_frames: int | None = None) -> dict[str, Any]:
    """Render a run's ``split`` views or an ``orbit`` of N frames into ``out``.

    Writes ``out/frame_0000.png`` … and ``out/video.gif`` (or ``.mp4``); ``out`` is built
    beside its place and replaces it whole at the end (a killed render leaves no partial
    folder). The orbit uses the
    test split's intrinsics and camera distance. Returns
    ``{"frames": [...], "video": path, "s_per_frame": float}`` (median seconds per frame).

    Example:
        >>> render_run("/nonexistent", "/tmp/x")
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: /nonexistent/checkpoint.pt: checkpoint not found
    """
    if fps < 1:
        raise QuadfreeError(f"--fps {fps}: must be >= 1")
    method, state = load_run(run, device)
    out = Path(out)
    if orbit is not None:
        if orbit < 1:
            raise QuadfreeError(f"--orbit {orbit}: need at least one frame")
        ref = run_split(state, "test", data, max_frames=1)
        radius = float(ref.poses[0, :3, 3].norm())
        poses = torch.from_numpy(orbit_poses(orbit, elevation, radius)).float()
        cams = [Camera(ref.height, ref.width, ref.focal, p) for p in poses]
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
            frame = _to_uint8(img["rgb"])
            write_image(tmp / f"frame_{i:04d}.png", frame)
            frames.append(frame)
            files.append(str(out / f"frame_{i:04d}.png"))
        write_video(tmp / f"video.{video}", frames, fps=fps)
    return {"frames": files, "video": str(out / f"video.{video}"),
            "s_per_frame": statistics.median(seconds)}


def evaluate_method(method: RadianceMethod, views: BlenderSplit, *, chunk: int = 4096,
                    device: torch.device | str = "cpu", progress: bool = False,
                    save_dir: str | Path | None = None) -> dict[str, Any]:
    """PSNR and SSIM per image and their means, seconds per frame and network evaluations per
    ray of ``method`` on ``views`` (predictions clipped to [0, 1]; white background).

    Example:
        >>> from quadfree.radiance.registry import build_method
        >>> m, _ = build_method("nerf", {"width": 8, "depth": 1, "skips": "", "n_fine": 0})
        >>> v = BlenderSplit(torch.ones(1, 12, 12, 3), torch.eye(4)[None], 12, 12, 12.0,
        ...                  2.0, 6.0, 0.9)
        >>> sorted(evaluate_method(m, v))[:3]
        ['evals_per_ray', 'images', 'lpips']
    """
    images, seconds = [], []
    for i in tqdm(range(len(views)), disable=not progress, desc="eval"):
        out = render_image(method, views.camera(i), near=views.near, far=views.far,
                           chunk=chunk, device=device)
        pred = out["rgb"].clamp(0, 1)
        ref = views.images[i]
        images.append({"index": i, "file": views.files[i] if views.files else None,
                       "psnr": psnr(pred, ref), "ssim": ssim(pred, ref),
                       "seconds": out["seconds"]})
        seconds.append(out["seconds"])
        if save_dir is not None:
            save_png(Path(save_dir) / f"pred_{i:04d}.png", pred)
    return {
        "psnr": float(np.mean([r["psnr"] for r in images])),
        "ssim": float(np.mean([r["ssim"] for r in images])),
        "lpips": None, "lpips_note": LPIPS_NOTE if not LPIPS_AVAILABLE else "",
        "s_per_frame": float(statistics.median(seconds)),
        "s_per_frame_mean": float(np.mean(seconds)),
        "evals_per_ray": int(method.evals_per_ray()),
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
