"""Writing images and videos: the one float → uint8 conversion and atomic PNG/GIF/MP4 files."""

from __future__ import annotations

import logging
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch

from quadfree.atomic import atomic_path
from quadfree.errors import QuadfreeError
from quadfree.outputs import write_image

log = logging.getLogger(__name__)


def to_uint8(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """A float image in [0, 1] (clipped) as 8-bit: ``floor(255·x + ½)``.

    Shapes: any ``(H, W[, C])`` → the same, dtype uint8.

    Example:
        >>> to_uint8(torch.tensor([[0.0, 0.5, 1.2]])).tolist()
        [[0, 128, 255]]
    """
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    arr = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    return (arr * 255.0 + 0.5).astype(np.uint8)


def save_png(path: str | Path, image: torch.Tensor | np.ndarray) -> None:
    """Write a float image ``(H, W, 3)`` in [0, 1] (or uint8) as a PNG, atomically.

    Example:
        >>> import tempfile, pathlib
        >>> save_png(pathlib.Path(tempfile.mkdtemp()) / "a.png", torch.zeros(2, 2, 3))
    """
    arr = image if isinstance(image, np.ndarray) and image.dtype == np.uint8 else to_uint8(image)
    with atomic_path(path) as tmp:
        write_image(tmp, arr, extension=".png")


def mp4_available() -> bool:
    """Whether MP4 can be written: the ``imageio-ffmpeg`` package (its wheel ships an ffmpeg
    binary) imports.

    Example:
        >>> isinstance(mp4_available(), bool)
        True
    """
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def _even(frames: np.ndarray) -> np.ndarray:
    """Pad ``(T, H, W, 3)`` by repeating the last row/column to even H and W (H.264 with
    yuv420p needs even sizes; imageio would otherwise rescale to a multiple of 16)."""
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return frames


def write_video(path: str | Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """Write uint8 frames ``(H, W, 3)`` as an H.264 MP4 (``path`` ending in ``.mp4``, through
    ``imageio-ffmpeg``) or an animated GIF (``.gif``), atomically; returns the path written.

    Without ``imageio-ffmpeg`` an ``.mp4`` request falls back to a GIF next to it (a logged
    warning). Odd frame sizes are padded by one edge row/column for MP4.

    Example:
        >>> import tempfile, pathlib
        >>> p = write_video(pathlib.Path(tempfile.mkdtemp()) / "v.gif",
        ...                 [np.zeros((4, 4, 3), np.uint8)] * 2)
        >>> p.suffix
        '.gif'
    """
    path = Path(path)
    if path.suffix not in (".gif", ".mp4"):
        raise QuadfreeError(f"{path}: video must end in .gif or .mp4", param="video")
    if not frames:
        raise QuadfreeError(f"{path}: no frames to write", param="frames")
    if fps < 1:
        raise QuadfreeError(f"fps {fps}: must be >= 1", param="fps")
    stack = np.stack(frames)
    if path.suffix == ".mp4":
        if mp4_available():
            with atomic_path(path) as tmp:
                iio.imwrite(tmp, _even(stack), extension=".mp4", fps=fps, codec="libx264",
                            macro_block_size=2, pixelformat="yuv420p")
            return path
        log.warning("%s: MP4 needs the imageio-ffmpeg package; writing a GIF instead", path)
        path = path.with_suffix(".gif")
    with atomic_path(path) as tmp:
        write_image(tmp, stack, extension=".gif", duration=1000.0 / fps, loop=0)
    return path
