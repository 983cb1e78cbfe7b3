"""Reader for LLFF forward-facing captures (``poses_bounds.npy`` + ``images/``).

``poses_bounds.npy`` is an ``(N, 17)`` float array: per image a ``3×5`` matrix flattened
row-major — a ``3×4`` camera-to-world whose rotation columns are [down, right, back], and a
fifth column ``[height, width, focal]`` of the full-resolution image — followed by the depth
bounds ``near, far`` of the scene seen by that camera. Images are the files of ``images/``
(PNG or JPEG) in sorted order, one per row; images smaller than the recorded size get their
focal length scaled to match.

As in NeRF's ``load_llff_data``: axes become OpenGL's [right, up, back]; the scene is scaled
so the smallest bound is 1/0.75; poses are re-centred on their average pose. With ``ndc``
(default) rays are in normalized device coordinates with near plane 1 (the forward-facing
setting: depth from the near plane to infinity maps to [0, 1]); without it rays are metric
with bounds ``0.9·min(near)`` and ``max(far)`` (or the given near/far). Splits: every 8th
image is held out for val and test (:func:`~quadfree.data.views.holdout_indices`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from quadfree.data.views import (
    ViewSet,
    check_common,
    check_pose,
    downscale_area,
    holdout_indices,
    on_white,
    read_rgba,
)
from quadfree.errors import QuadfreeError
from quadfree.safeio import load_npy

POSES_NAME = "poses_bounds.npy"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
BOUND_FACTOR = 0.75


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def average_pose(poses: np.ndarray) -> np.ndarray:
    """NeRF's average camera-to-world ``(4, 4)`` of poses ``(N, 4, 4)``: mean centre, mean
    viewing (z) axis, mean up (y) axis, made orthonormal.

    Example:
        >>> average_pose(np.eye(4)[None]).tolist() == np.eye(4).tolist()
        True
    """
    center = poses[:, :3, 3].mean(0)
    z = _normalize(poses[:, :3, 2].sum(0))
    up = poses[:, :3, 1].sum(0)
    x = _normalize(np.cross(up, z))
    y = np.cross(z, x)
    out = np.eye(4)
    out[:3, 0], out[:3, 1], out[:3, 2], out[:3, 3] = x, y, z, center
    return out


def llff_to_opengl(poses_bounds: np.ndarray, name: str = POSES_NAME
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split ``(N, 17)`` rows into OpenGL poses ``(N, 4, 4)``, ``hwf (N, 3)`` and bounds
    ``(N, 2)`` (no scaling or re-centring yet). LLFF's [down, right, back] columns become
    [right, up, back] = [col 1, −col 0, col 2].

    Example:
        >>> row = np.concatenate([np.array([[0, 1, 0, 0, 4], [-1, 0, 0, 0, 6],
        ...                                 [0, 0, 1, 0, 5.0]]).ravel(), [1.0, 10.0]])
        >>> poses, hwf, bounds = llff_to_opengl(row[None])
        >>> poses[0, :3, :3].astype(int).tolist(), hwf.tolist()
        ([[1, 0, 0], [0, 1, 0], [0, 0, 1]], [[4.0, 6.0, 5.0]])
    """
    if poses_bounds.ndim != 2 or poses_bounds.shape[1] != 17 or len(poses_bounds) == 0:
        raise QuadfreeError(f"{name}: expected an (N, 17) array, got shape "
                            f"{poses_bounds.shape}")
    if not np.isfinite(poses_bounds).all():
        raise QuadfreeError(f"{name}: has non-finite entries (NaN or Inf)")
    mats = poses_bounds[:, :15].reshape(-1, 3, 5)
    hwf, bounds = mats[:, :, 4], poses_bounds[:, 15:17]
    rot = np.concatenate([mats[:, :, 1:2], -mats[:, :, 0:1], mats[:, :, 2:4]], axis=2)
    poses = np.tile(np.eye(4), (len(rot), 1, 1))
    poses[:, :3, :4] = rot
    for i, pose in enumerate(poses):
        check_pose(f"{name} row {i}", pose)
    if (hwf <= 0).any():
        raise QuadfreeError(f"{name}: image height/width/focal (column 5) must be positive")
    if (bounds[:, 0] <= 0).any() or (bounds[:, 1] <= bounds[:, 0]).any():
        raise QuadfreeError(f"{name}: depth bounds (last two columns) need 0 < near < far")
    return poses, hwf, bounds


def load_llff(root: str | Path, split: str = "train", *, downscale: int = 1,
              near: float | None = None, far: float | None = None,
              max_frames: int | None = None, ndc: bool = True) -> ViewSet:
    """Load one split of an LLFF capture (see the module docstring for every convention).

    Args:
        root: the dataset directory (``poses_bounds.npy`` and ``images/``).
        split: ``train``, ``val`` or ``test``.
        downscale: integer factor; images are averaged over k×k blocks, focal divided by k.
        near, far: metric bounds after scaling (only without ``ndc``; None: from the file).
        max_frames: only the first frames of the split.
        ndc: rays in normalized device coordinates (forward-facing scenes).

    Example:
        >>> import tempfile, imageio.v3 as iio
        >>> root = Path(tempfile.mkdtemp()); (root / "images").mkdir()
        >>> iio.imwrite(root / "images" / "0.png", np.zeros((4, 6, 3), np.uint8))
        >>> rows = np.array([[0, 1, 0, 0, 4, -1, 0, 0, 0, 6, 0, 0, 1, 0, 5, 2, 20.0]])
        >>> np.save(root / "poses_bounds.npy", rows)
        >>> v = load_llff(root)
        >>> v.images.shape, v.ndc_near, v.focal
        (torch.Size([1, 4, 6, 3]), 1.0, 5.0)
    """
    root = Path(root)
    check_common(downscale, near, far, max_frames)
    if split not in ("train", "val", "test"):
        raise QuadfreeError(f"split {split!r}: choose from ['train', 'val', 'test']",
                            param="split")
    if ndc and near is not None:
        raise QuadfreeError(f"near {near}: NDC rays have fixed bounds; give near/far only "
                            "with ndc off", param="near")
    if not root.is_dir():
        raise QuadfreeError(f"{root}: dataset directory not found")
    path = root / POSES_NAME
    if not path.is_file():
        raise QuadfreeError(f"{path}: missing (not an LLFF dataset?)")
    arr = load_npy(path, str(path), kinds="iuf")
    if not isinstance(arr, np.ndarray) or not np.issubdtype(arr.dtype, np.number):
        raise QuadfreeError(f"{path}: expected a numeric (N, 17) array")
    poses, hwf, bounds = llff_to_opengl(arr.astype(np.float64), str(path))
    image_dir = root / "images"
    files = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) \
        if image_dir.is_dir() else []
    if len(files) != len(poses):
        raise QuadfreeError(f"{image_dir}: {len(files)} images for {len(poses)} poses in "
                            f"{path.name}")
    scale = 1.0 / (bounds.min() * BOUND_FACTOR)
    poses[:, :3, 3] *= scale
    bounds = bounds * scale
    poses = np.linalg.inv(average_pose(poses)) @ poses
    indices = holdout_indices(len(poses), split)
    if max_frames is not None:
        indices = indices[:max_frames]
    images, size = [], None
    for idx in indices:
        rgba = read_rgba(files[idx])
        if size is None:
            size = rgba.shape[:2]
        elif rgba.shape[:2] != size:
            raise QuadfreeError(f"{files[idx]}: image size {rgba.shape[1]}x{rgba.shape[0]} "
                                f"differs from the first image's {size[1]}x{size[0]}")
        images.append(downscale_area(on_white(rgba), downscale, str(files[idx])))
    full_h, full_w, f = hwf[indices[0]]
    if abs(size[0] / size[1] - full_h / full_w) > 0.02:
        raise QuadfreeError(f"{files[indices[0]]}: image size {size[1]}x{size[0]} does not "
                            f"have the aspect of the recorded {full_w:g}x{full_h:g}")
    focal = f * size[1] / full_w / downscale
    h, w = images[0].shape[:2]
    if ndc:
        lo, hi, ndc_near = 0.0, 1.0, 1.0
    else:
        lo, hi = (0.9 * bounds.min(), bounds.max()) if near is None else (near, far)
        ndc_near = None
    return ViewSet(
        images=torch.from_numpy(np.stack(images).astype(np.float32)),
        poses=torch.from_numpy(poses[indices].astype(np.float32)),
        height=h, width=w, focal=float(focal), near=float(lo), far=float(hi),
        camera_angle_x=2 * math.atan(0.5 * w / focal), files=[str(files[i]) for i in indices],
        split=split, ndc_near=ndc_near, format="llff")
