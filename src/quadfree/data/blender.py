"""Reader and writer for the NeRF "Blender synthetic" dataset format.

Layout: ``transforms_{train,val,test}.json`` with ``camera_angle_x`` (horizontal FOV, radians)
and ``frames[]`` of ``{"file_path": "./train/r_0", "transform_matrix": 4×4}`` (OpenGL
camera-to-world); ``file_path`` has no extension (``.png`` is appended). Images are RGBA PNGs,
composited on white as ``rgb·α + (1 − α)``. Optional depth maps ``<file>_depth.npy`` (float32
distance along the unit ray, 0 = background) are written by our procedural scenes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from quadfree.errors import QuadfreeError
from quadfree.images import to_uint8
from quadfree.outputs import write_image
from quadfree.render.rays import Camera, RayBundle, camera_rays, focal_from_fov
from quadfree.safeio import load_npy, one_line, read_image, read_npy_header, read_text

SPLITS = ("train", "val", "test")


@dataclass
class BlenderSplit:
    """One split of a Blender-format dataset, loaded into memory.

    Attributes:
        images: ``(N, H, W, 3)`` float32 in [0, 1], composited on white.
        poses: ``(N, 4, 4)`` float32 camera-to-world (OpenGL).
        height, width, focal: image size and focal length in pixels (after downscaling).
        near, far: integration bounds along unit ray directions.
        camera_angle_x: horizontal field of view in radians.
        files: image path of every frame.
        depths: ``(N, H, W)`` float32 ground-truth depth if every frame has one, else None.
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

    def __len__(self) -> int:
        return self.images.shape[0]

    def camera(self, index: int) -> Camera:
        """The :class:`Camera` of frame ``index``."""
        return Camera(self.height, self.width, self.focal, self.poses[index])

    def rays(self, index: int) -> RayBundle:
        """All ``H·W`` rays of frame ``index`` (row-major, like ``images[index]``)."""
        return camera_rays(self.height, self.width, self.focal, self.poses[index],
                           self.near, self.far)

    def all_rays(self) -> tuple[RayBundle, torch.Tensor]:
        """Every ray of the split and its target colour: ``RayBundle (N·H·W)``, ``(N·H·W, 3)``.

        Example:
            >>> split = BlenderSplit(torch.ones(2, 3, 4, 3), torch.eye(4).repeat(2, 1, 1),
            ...                      3, 4, 4.0, 2.0, 6.0, 0.9)
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


def _check_matrix(name: str, m: object) -> np.ndarray:
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


def _read_rgba(path: Path) -> np.ndarray:
    """Read a PNG as float32 ``(H, W, 4)`` in [0, 1] (alpha 1 when absent); at most
    :data:`quadfree.safeio.MAX_IMAGE_PIXELS` pixels."""
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


def load_blender(root: str | Path, split: str = "train", *, downscale: int = 1,
                 near: float = 2.0, far: float = 6.0, max_frames: int | None = None
                 ) -> BlenderSplit:
    """Load ``transforms_<split>.json`` and its images from a Blender-format dataset.

    Args:
        root: the dataset directory.
        split: ``train``, ``val`` or ``test``.
        downscale: integer factor; images are averaged over k×k blocks, focal divided by k.
        near, far: integration bounds (Blender scenes: 2 and 6).
        max_frames: load only the first frames (quick evaluation).

    Raises :class:`QuadfreeError` naming the file for a missing file, malformed JSON,
    non-rigid or non-finite matrices, or images of mixed sizes.

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> write_blender_split(root, "test", np.ones((1, 4, 4, 4)), np.eye(4)[None], 0.69)
        >>> load_blender(root, "test").images.shape
        torch.Size([1, 4, 4, 3])
    """
    root = Path(root)
    if downscale < 1:
        raise QuadfreeError(f"downscale {downscale}: must be a positive integer",
                            param="downscale")
    if not (math.isfinite(near) and math.isfinite(far) and 0 <= near < far):
        raise QuadfreeError(f"near {near}, far {far}: need 0 <= near < far, both finite",
                            param=("near", "far"))
    if split not in SPLITS:
        raise QuadfreeError(f"split {split!r}: choose from {list(SPLITS)}")
    meta_path = root / f"transforms_{split}.json"
    if not root.is_dir():
        raise QuadfreeError(f"{root}: dataset directory not found")
    if not meta_path.is_file():
        raise QuadfreeError(f"{meta_path}: missing (not a Blender-format dataset?)")
    try:
        meta = json.loads(read_text(meta_path, str(meta_path)))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise QuadfreeError(one_line(f"{meta_path}: malformed JSON ({exc})")) from None
    if not isinstance(meta, dict):
        raise QuadfreeError(f"{meta_path}: expected a JSON object")
    angle = meta.get("camera_angle_x")
    if not isinstance(angle, (int, float)) or not (0 < float(angle) < math.pi):
        raise QuadfreeError(f"{meta_path}: camera_angle_x must be a number in (0, π), "
                            f"got {angle!r}")
    frames = meta.get("frames")
    if not isinstance(frames, list) or not frames:
        raise QuadfreeError(f"{meta_path}: 'frames' must be a non-empty list")
    if max_frames is not None:
        if max_frames < 1:
            raise QuadfreeError(f"max_frames {max_frames}: must be >= 1", param="max_frames")
        frames = frames[:max_frames]
    images, poses, files, depths = [], [], [], []
    size = None
    for idx, frame in enumerate(frames):
        where = f"{meta_path} frame {idx}"
        if not isinstance(frame, dict) or "file_path" not in frame or \
                "transform_matrix" not in frame:
            raise QuadfreeError(f"{where}: needs 'file_path' and 'transform_matrix'")
        poses.append(_check_matrix(where, frame["transform_matrix"]))
        rel = frame["file_path"]
        if not isinstance(rel, str) or not rel or "\0" in rel:
            raise QuadfreeError(f"{where}: 'file_path' must be a non-empty string")
        path = root / rel
        if path.suffix.lower() != ".png" or not path.is_file():
            path = root / (rel + ".png")
        if not path.is_file():
            raise QuadfreeError(f"{path}: image file missing (from {meta_path} frame {idx})")
        rgba = _read_rgba(path)
        if size is None:
            size = rgba.shape[:2]
        elif rgba.shape[:2] != size:
            raise QuadfreeError(f"{path}: image size {rgba.shape[1]}x{rgba.shape[0]} differs "
                                f"from the first frame's {size[1]}x{size[0]}")
        rgb = rgba[..., :3] * rgba[..., 3:] + (1.0 - rgba[..., 3:])
        images.append(downscale_area(rgb, downscale, str(path)))
        files.append(str(path))
        dpath = path.with_name(path.stem + "_depth.npy")
        if dpath.is_file():
            shape, _ = read_npy_header(dpath, str(dpath))
            if shape != tuple(size):
                raise QuadfreeError(f"{dpath}: depth shape {shape} != image {tuple(size)}")
            depth = load_npy(dpath, str(dpath), kinds="iuf").astype(np.float32)
            depths.append(downscale_depth(depth, downscale, str(dpath)))
    h, w = images[0].shape[:2]
    width_full = size[1]
    focal = focal_from_fov(width_full, float(angle)) / downscale
    return BlenderSplit(
        images=torch.from_numpy(np.stack(images).astype(np.float32)),
        poses=torch.from_numpy(np.stack(poses).astype(np.float32)),
        height=h, width=w, focal=focal, near=float(near), far=float(far),
        camera_angle_x=float(angle), files=files,
        depths=torch.from_numpy(np.stack(depths)) if len(depths) == len(images) else None,
        split=split)


def write_blender_split(root: str | Path, split: str, rgba: np.ndarray, poses: np.ndarray,
                        camera_angle_x: float, *, depths: np.ndarray | None = None,
                        extra: dict | None = None) -> None:
    """Write one split: ``<split>/r_<i>.png`` (8-bit RGBA), optional ``r_<i>_depth.npy`` and
    ``transforms_<split>.json``.

    Writes into ``root`` directly; wrap the whole dataset in :func:`quadfree.atomic.atomic_dir`
    so a killed run leaves nothing half-written.

    Shapes: rgba ``(N, H, W, 4)`` float in [0, 1] or uint8; poses ``(N, 4, 4)``;
    depths ``(N, H, W)``.

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> poses = np.stack([np.eye(4)] * 2)
        >>> write_blender_split(root, "train", np.zeros((2, 3, 3, 4)), poses, 0.7)
        >>> sorted(p.name for p in Path(root, "train").iterdir())
        ['r_0.png', 'r_1.png']
    """
    root = Path(root)
    (root / split).mkdir(parents=True, exist_ok=True)
    frames = []
    for i in range(len(rgba)):
        img = rgba[i]
        if img.dtype != np.uint8:
            img = to_uint8(img)
        write_image(root / split / f"r_{i}.png", img)
        if depths is not None:
            np.save(root / split / f"r_{i}_depth.npy", np.asarray(depths[i], dtype=np.float32))
        frames.append({"file_path": f"./{split}/r_{i}",
                       "transform_matrix": np.asarray(poses[i], dtype=np.float64).tolist()})
    meta = {"camera_angle_x": float(camera_angle_x), "frames": frames}
    if extra:
        meta.update(extra)
    (root / f"transforms_{split}.json").write_text(json.dumps(meta, indent=2))
