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
from pathlib import Path

import numpy as np
import torch

from quadfree.data.views import (
    ViewSet,
    check_common,
    check_pose,
    downscale_area,
    downscale_depth,
    on_white,
    read_rgba,
)
from quadfree.errors import QuadfreeError
from quadfree.images import to_uint8
from quadfree.outputs import write_image
from quadfree.render.rays import focal_from_fov
from quadfree.safeio import load_npy, read_json_object, read_npy_header

__all__ = ["BlenderSplit", "SPLITS", "downscale_area", "downscale_depth", "load_blender",
           "write_blender_split"]

SPLITS = ("train", "val", "test")


BlenderSplit = ViewSet  # the name before other formats existed


def load_blender(root: str | Path, split: str = "train", *, downscale: int = 1,
                 near: float | None = 2.0, far: float | None = 6.0,
                 max_frames: int | None = None) -> ViewSet:
    """Load ``transforms_<split>.json`` and its images from a Blender-format dataset.

    Args:
        root: the dataset directory.
        split: ``train``, ``val`` or ``test``.
        downscale: integer factor; images are averaged over k×k blocks, focal divided by k.
        near, far: integration bounds (None: Blender's 2 and 6).
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
    check_common(downscale, near, far, max_frames)
    near, far = (2.0, 6.0) if near is None else (near, far)
    if split not in SPLITS:
        raise QuadfreeError(f"split {split!r}: choose from {list(SPLITS)}")
    meta_path = root / f"transforms_{split}.json"
    if not root.is_dir():
        raise QuadfreeError(f"{root}: dataset directory not found")
    if not meta_path.is_file():
        raise QuadfreeError(f"{meta_path}: missing (not a Blender-format dataset?)")
    meta = read_json_object(meta_path, str(meta_path))
    angle = meta.get("camera_angle_x")
    if not isinstance(angle, (int, float)) or not (0 < float(angle) < math.pi):
        raise QuadfreeError(f"{meta_path}: camera_angle_x must be a number in (0, π), "
                            f"got {angle!r}")
    frames = meta.get("frames")
    if not isinstance(frames, list) or not frames:
        raise QuadfreeError(f"{meta_path}: 'frames' must be a non-empty list")
    if max_frames is not None:
        frames = frames[:max_frames]
    images, poses, files, depths = [], [], [], []
    size = None
    for idx, frame in enumerate(frames):
        where = f"{meta_path} frame {idx}"
        if not isinstance(frame, dict) or "file_path" not in frame or \
                "transform_matrix" not in frame:
            raise QuadfreeError(f"{where}: needs 'file_path' and 'transform_matrix'")
        poses.append(check_pose(where, frame["transform_matrix"]))
        rel = frame["file_path"]
        if not isinstance(rel, str) or not rel or "\0" in rel:
            raise QuadfreeError(f"{where}: 'file_path' must be a non-empty string")
        path = root / rel
        if path.suffix.lower() != ".png" or not path.is_file():
            path = root / (rel + ".png")
        if not path.is_file():
            raise QuadfreeError(f"{path}: image file missing (from {meta_path} frame {idx})")
        rgba = read_rgba(path)
        if size is None:
            size = rgba.shape[:2]
        elif rgba.shape[:2] != size:
            raise QuadfreeError(f"{path}: image size {rgba.shape[1]}x{rgba.shape[0]} differs "
                                f"from the first frame's {size[1]}x{size[0]}")
        rgb = on_white(rgba)
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
    return ViewSet(
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
