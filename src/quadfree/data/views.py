"""One dataset interface for every format: :class:`ViewSet` (images + cameras of one split)
and the helpers the readers share (image reading, pose checks, downscaling).

Every reader (:mod:`~quadfree.data.blender`, :mod:`~quadfree.data.nerfstudio`,
:mod:`~quadfree.data.llff`) returns a :class:`ViewSet`; the trainer, ``render``, ``eval`` and
the benchmarks only use this class, so every method trains on every format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from quadfree.errors import QuadfreeError
from quadfree.render.rays import Camera, RayBundle
from quadfree.safeio import read_image


@dataclass
class ViewSet:
    """One split of a dataset, loaded into memory.

    Attributes:
        images: ``(N, H, W, 3)`` float32 in [0, 1], composited on white.
        poses: ``(N, 4, 4)`` float32 camera-to-world (OpenGL axes: x right, y up, z back).
        height, width, focal: image size and (horizontal) focal length in pixels (after
            downscaling); with ``intrinsics`` the focal of frame 0.
        near, far: integration bounds along unit ray directions (NDC: 0 and 1, unused).
        camera_angle_x: horizontal field of view in radians (of frame 0).
        files: image path of every frame.
        depths: ``(N, H, W)`` float32 ground-truth depth if every frame has one, else None.
        split: ``train``, ``val`` or ``test``.
        intrinsics: ``(N, 4)`` float64 ``[fx, fy, cx, cy]`` per frame in pixels, or None for
            ``focal`` on both axes and the principal point at the image centre.
        ndc_near: if set, rays are in normalized device coordinates with this near plane
            (LLFF forward-facing scenes, :func:`quadfree.render.rays.ndc_rays`).
        format: the format the split was read from (``blender``, ``nerfstudio``, ``llff``).

    Example:
        >>> views = ViewSet(torch.ones(2, 3, 4, 3), torch.eye(4).repeat(2, 1, 1),
        ...                 3, 4, 4.0, 2.0, 6.0, 0.9)
        >>> len(views), views.camera(1).focal
        (2, 4.0)
    """

    images: torch.Tensor
    poses: torch.Tensor
    height: int
    width: int
    focal: float
    near: float
    far: float
    camera_angle_x: float
    files: list[str] = field(default_factory=list)
    depths: torch.Tensor | None = None
    split: str = "train"
    intrinsics: torch.Tensor | None = None
    ndc_near: float | None = None
    format: str = "blender"

    def __len__(self) -> int:
        return self.images.shape[0]

    def camera(self, index: int) -> Camera:
        """The :class:`Camera` of frame ``index`` (its intrinsics and NDC setting)."""
        if self.intrinsics is None:
            return Camera(self.height, self.width, self.focal, self.poses[index],
                          ndc_near=self.ndc_near)
        fx, fy, cx, cy = (float(v) for v in self.intrinsics[index])
        return Camera(self.height, self.width, fx, self.poses[index], cx=cx, cy=cy, focal_y=fy,
                      ndc_near=self.ndc_near)

    def rays(self, index: int) -> RayBundle:
        """All ``H·W`` rays of frame ``index`` (row-major, like ``images[index]``)."""
        return self.camera(index).rays(self.near, self.far)

    def all_rays(self) -> tuple[RayBundle, torch.Tensor]:
        """Every ray of the split and its target colour: ``RayBundle (N·H·W)``, ``(N·H·W, 3)``.

        Example:
            >>> split = ViewSet(torch.ones(2, 3, 4, 3), torch.eye(4).repeat(2, 1, 1),
            ...                 3, 4, 4.0, 2.0, 6.0, 0.9)
            >>> rays, rgb = split.all_rays()
            >>> len(rays), rgb.shape
            (24, torch.Size([24, 3]))
        """
        bundles = [self.rays(i) for i in range(len(self))]
        rays = RayBundle(torch.cat([b.origins for b in bundles]),
                         torch.cat([b.directions for b in bundles]),
                         torch.cat([b.near for b in bundles]),
                         torch.cat([b.far for b in bundles]))
        return rays, self.images.reshape(-1, 3)


def check_pose(name: str, m: object) -> np.ndarray:
    """A ``(4, 4)`` rigid camera-to-world matrix as float64, or a :class:`QuadfreeError`
    naming ``name`` (wrong shape, non-finite, not a rotation, bad last row).

    Example:
        >>> check_pose("frame 0", np.eye(4)).shape
        (4, 4)
    """
    try:
        arr = np.asarray(m, dtype=np.float64)
    except (TypeError, ValueError):
        raise QuadfreeError(f"{name}: transform_matrix is not a 4x4 array of numbers") from None
    if arr.shape != (4, 4):
        raise QuadfreeError(f"{name}: transform_matrix has shape {arr.shape}, expected (4, 4)")
    if not np.isfinite(arr).all():
        raise QuadfreeError(f"{name}: transform_matrix has non-finite entries (NaN or Inf)")
    rot = arr[:3, :3]
    err = np.abs(rot.T @ rot - np.eye(3)).max()
    if err > 1e-3 or np.linalg.det(rot) < 0 or np.abs(arr[3] - [0, 0, 0, 1]).max() > 1e-6:
        raise QuadfreeError(f"{name}: transform_matrix is not a rigid transform "
                            f"(|RᵀR − I| = {err:.2g}, det R = {np.linalg.det(rot):.3g}, "
                            f"last row {arr[3].tolist()})")
    return arr


def read_rgba(path: Path) -> np.ndarray:
    """Read a PNG or JPEG as float32 ``(H, W, 4)`` in [0, 1] (alpha 1 when absent); at most
    :data:`quadfree.safeio.MAX_IMAGE_PIXELS` pixels.

    Example:
        >>> import tempfile, imageio.v3 as iio
        >>> p = Path(tempfile.mkdtemp()) / "a.png"
        >>> iio.imwrite(p, np.zeros((2, 3, 3), np.uint8))
        >>> read_rgba(p).shape
        (2, 3, 4)
    """
    img = read_image(path, str(path))
    if img.dtype == np.uint8:
        arr = img.astype(np.float32) / 255.0
    elif img.dtype == np.uint16:
        arr = img.astype(np.float32) / 65535.0
    elif np.issubdtype(img.dtype, np.floating):
        arr = img.astype(np.float32)
    else:
        raise QuadfreeError(f"{path}: unsupported pixel type {img.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise QuadfreeError(f"{path}: expected an RGB or RGBA image, got shape {arr.shape}")
    if arr.shape[-1] == 3:
        arr = np.concatenate([arr, np.ones_like(arr[..., :1])], axis=-1)
    return arr


def on_white(rgba: np.ndarray) -> np.ndarray:
    """Composite ``(H, W, 4)`` on a white background: ``rgb·α + (1 − α)`` → ``(H, W, 3)``.

    Example:
        >>> on_white(np.array([[[0.0, 0.0, 0.0, 0.5]]])).tolist()
        [[[0.5, 0.5, 0.5]]]
    """
    return rgba[..., :3] * rgba[..., 3:] + (1.0 - rgba[..., 3:])


def downscale_area(img: np.ndarray, k: int, name: str = "image") -> np.ndarray:
    """Downscale ``(H, W, C)`` (or ``(H, W)``) by an integer factor ``k``, averaging k×k blocks.

    Example:
        >>> downscale_area(np.arange(16.0).reshape(4, 4), 2).tolist()
        [[2.5, 4.5], [10.5, 12.5]]
    """
    if k == 1:
        return img
    h, w = img.shape[:2]
    if h % k or w % k:
        raise QuadfreeError(f"{name}: downscale {k} does not divide its size {h}x{w}",
                            param="downscale")
    return img.reshape(h // k, k, w // k, k, *img.shape[2:]).mean(axis=(1, 3))


def downscale_depth(depth: np.ndarray, k: int, name: str = "depth") -> np.ndarray:
    """Downscale an ``(H, W)`` depth map (0 = background) by ``k``: each block's mean over its
    surface pixels, 0 where the block has none (a plain mean would pull outline depths toward 0).

    Example:
        >>> downscale_depth(np.array([[4.0, 0.0], [0.0, 0.0]]), 2).tolist()
        [[4.0]]
    """
    total = downscale_area(depth, k, name) * k * k
    hits = downscale_area((depth > 0).astype(np.float32), k, name) * k * k
    return np.where(hits > 0, total / np.maximum(hits, 1), 0.0).astype(np.float32)


def check_common(downscale: int, near: float | None, far: float | None,
                 max_frames: int | None) -> None:
    """Validate the loading options every reader takes (a :class:`QuadfreeError` naming the
    parameter).

    Example:
        >>> check_common(1, 2.0, 6.0, None)
    """
    if not isinstance(downscale, int) or downscale < 1:
        raise QuadfreeError(f"downscale {downscale}: must be a positive integer",
                            param="downscale")
    if (near is None) != (far is None):
        raise QuadfreeError(f"near {near}, far {far}: give both or neither",
                            param=("near", "far"))
    if near is not None and not (np.isfinite(near) and np.isfinite(far) and 0 <= near < far):
        raise QuadfreeError(f"near {near}, far {far}: need 0 <= near < far, both finite",
                            param=("near", "far"))
    if max_frames is not None and max_frames < 1:
        raise QuadfreeError(f"max_frames {max_frames}: must be >= 1", param="max_frames")


def holdout_indices(n: int, split: str, every: int = 8) -> list[int]:
    """Frames of ``split`` when a format has no split files: every ``every``-th frame
    (``i % every == 0``) is held out for ``val`` and ``test``, the rest is ``train`` (LLFF's
    and mip-NeRF's convention); a single frame belongs to every split.

    Example:
        >>> holdout_indices(10, "train"), holdout_indices(10, "test")
        ([1, 2, 3, 4, 5, 6, 7, 9], [0, 8])
    """
    if n == 1:
        return [0]
    held = [i for i in range(n) if i % every == 0]
    return [i for i in range(n) if i % every] if split == "train" else held
