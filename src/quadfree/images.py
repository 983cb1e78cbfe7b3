"""Writing images and videos: the one float → uint8 conversion and atomic PNG/GIF/MP4 files."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch

from quadfree.atomic import atomic_path
from quadfree.errors import QuadfreeError
from quadfree.outputs import write_image


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
