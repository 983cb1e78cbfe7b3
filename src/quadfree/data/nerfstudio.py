"""Reader for nerfstudio / instant-ngp ``transforms.json`` datasets.

Layout: one ``transforms.json`` with shared intrinsics at the top level and/or per frame
(``fl_x``, ``fl_y``, ``cx``, ``cy``, ``w``, ``h``; instant-ngp's ``camera_angle_x`` /
``camera_angle_y`` stand in for missing focal lengths) and ``frames[]`` of
``{"file_path": "images/frame_00001.png", "transform_matrix": 4×4}`` (OpenGL camera-to-world,
paths relative to the dataset directory). Lens distortion (``k1 k2 k3 k4 p1 p2``) is not
modelled: it is rejected unless every coefficient is zero, and so are non-pinhole camera
models (fisheye, equirectangular). Images whose size differs from ``w``×``h`` (downscaled
copies) have their intrinsics scaled to match.

Splits: nerfstudio's optional ``train_filenames`` / ``val_filenames`` / ``test_filenames``
lists when present, otherwise every 8th frame is held out for val and test
(:func:`~quadfree.data.views.holdout_indices`). Near/far default to ``r/3`` and ``5r/3`` with
``r`` the median distance of the cameras from the origin (the scene centre in both tools'
conventions); give them explicitly for other scenes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

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
from quadfree.safeio import read_json_object

META_NAME = "transforms.json"
DISTORTION_KEYS = ("k1", "k2", "k3", "k4", "p1", "p2")
PINHOLE_MODELS = ("OPENCV", "PINHOLE", "SIMPLE_PINHOLE", "SIMPLE_RADIAL", "RADIAL")


def _number(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        raise QuadfreeError(f"{where}: '{key}' must be a finite number, got {value!r}")
    return float(value)


def _intrinsics(where: str, meta: dict, frame: dict, img_h: int, img_w: int
                ) -> tuple[float, float, float, float]:
    """``(fx, fy, cx, cy)`` of one frame in pixels of its image (frame keys override the
    shared ones)."""
    def get(key: str) -> Any:
        return frame.get(key, meta.get(key))

    model = get("camera_model")
    if model is not None and str(model).upper() not in PINHOLE_MODELS:
        raise QuadfreeError(f"{where}: camera_model {model!r} is not supported (pinhole "
                            f"models only: {', '.join(PINHOLE_MODELS)})")
    for key in DISTORTION_KEYS:
        value = get(key)
        if value is not None and _number(where, key, value) != 0.0:
            raise QuadfreeError(f"{where}: lens distortion {key} = {value} is not supported; "
                                "undistort the images first (e.g. ns-process-data) or set "
                                "every k1 k2 k3 k4 p1 p2 to 0")
    w = _number(where, "w", get("w")) if get("w") is not None else float(img_w)
    h = _number(where, "h", get("h")) if get("h") is not None else float(img_h)
    if w <= 0 or h <= 0:
        raise QuadfreeError(f"{where}: image size w={w}, h={h} must be positive")
    if get("fl_x") is not None:
        fx = _number(where, "fl_x", get("fl_x"))
    elif get("camera_angle_x") is not None:
        fx = 0.5 * w / math.tan(0.5 * _number(where, "camera_angle_x", get("camera_angle_x")))
    else:
        raise QuadfreeError(f"{where}: needs 'fl_x' (or 'camera_angle_x')")
    if get("fl_y") is not None:
        fy = _number(where, "fl_y", get("fl_y"))
    elif get("camera_angle_y") is not None:
        fy = 0.5 * h / math.tan(0.5 * _number(where, "camera_angle_y", get("camera_angle_y")))
    else:
        fy = fx
    cx = _number(where, "cx", get("cx")) if get("cx") is not None else w / 2
    cy = _number(where, "cy", get("cy")) if get("cy") is not None else h / 2
    if not (fx > 0 and fy > 0):
        raise QuadfreeError(f"{where}: focal lengths fl_x={fx}, fl_y={fy} must be positive")
    sx, sy = img_w / w, img_h / h
    return fx * sx, fy * sy, cx * sx, cy * sy


def _split_frames(meta_path: Path, meta: dict, frames: list, split: str) -> list[int]:
    key = f"{split}_filenames"
    if key not in meta:
        return holdout_indices(len(frames), split)
    names = meta[key]
    if not isinstance(names, list):
        raise QuadfreeError(f"{meta_path}: '{key}' must be a list of file paths")
    wanted = {Path(str(n)).as_posix().removeprefix("./") for n in names}
    picked = [i for i, f in enumerate(frames) if isinstance(f, dict) and
              Path(str(f.get("file_path", ""))).as_posix().removeprefix("./") in wanted]
    if not picked:
        raise QuadfreeError(f"{meta_path}: '{key}' names no frame of 'frames'")
    return picked


def default_bounds(poses: np.ndarray) -> tuple[float, float]:
    """Near/far from camera positions: ``r/3`` and ``5r/3``, ``r`` the median distance of the
    camera centres from the origin. Shapes: poses ``(N, 4, 4)``.

    Example:
        >>> p = np.eye(4)[None].copy(); p[0, 2, 3] = 3.0
        >>> default_bounds(p)
        (1.0, 5.0)
    """
    r = float(np.median(np.linalg.norm(poses[:, :3, 3], axis=-1)))
    if not r > 0:
        raise QuadfreeError("near: the cameras sit at the origin, so near/far cannot be "
                            "derived from them; give near and far", param="near")
    return r / 3, 5 * r / 3


def load_nerfstudio(root: str | Path, split: str = "train", *, downscale: int = 1,
                    near: float | None = None, far: float | None = None,
                    max_frames: int | None = None) -> ViewSet:
    """Load one split of a nerfstudio / instant-ngp dataset (``transforms.json``).

    Args:
        root: the dataset directory.
        split: ``train``, ``val`` or ``test`` (see the module docstring for the rule).
        downscale: integer factor; images are averaged over k×k blocks, intrinsics divided.
        near, far: integration bounds (None: derived from the cameras, see module docstring).
        max_frames: only the first frames of the split.

    Raises :class:`QuadfreeError` naming the file for a missing file, malformed JSON, missing
    intrinsics, non-zero distortion, non-rigid poses, or images of mixed sizes.

    Example:
        >>> import json, tempfile, imageio.v3 as iio
        >>> root = Path(tempfile.mkdtemp())
        >>> iio.imwrite(root / "a.png", np.zeros((4, 6, 3), np.uint8))
        >>> pose = np.eye(4); pose[2, 3] = 3.0
        >>> meta = {"fl_x": 5.0, "fl_y": 6.0, "w": 6, "h": 4,
        ...         "frames": [{"file_path": "a.png", "transform_matrix": pose.tolist()}]}
        >>> _ = (root / "transforms.json").write_text(json.dumps(meta))
        >>> v = load_nerfstudio(root)
        >>> v.images.shape, v.intrinsics[0].tolist(), (v.near, v.far)
        (torch.Size([1, 4, 6, 3]), [5.0, 6.0, 3.0, 2.0], (1.0, 5.0))
    """
    root = Path(root)
    check_common(downscale, near, far, max_frames)
    if split not in ("train", "val", "test"):
        raise QuadfreeError(f"split {split!r}: choose from ['train', 'val', 'test']",
                            param="split")
    if not root.is_dir():
        raise QuadfreeError(f"{root}: dataset directory not found")
    meta_path = root / META_NAME
    if not meta_path.is_file():
        raise QuadfreeError(f"{meta_path}: missing (not a nerfstudio dataset?)")
    meta = read_json_object(meta_path, str(meta_path))
    frames = meta.get("frames")
    if not isinstance(frames, list) or not frames:
        raise QuadfreeError(f"{meta_path}: 'frames' must be a non-empty list")
    indices = _split_frames(meta_path, meta, frames, split)
    if max_frames is not None:
        indices = indices[:max_frames]
    images, poses, files, intr = [], [], [], []
    size = None
    for idx in indices:
        frame = frames[idx]
        where = f"{meta_path} frame {idx}"
        if not isinstance(frame, dict) or "file_path" not in frame or \
                "transform_matrix" not in frame:
            raise QuadfreeError(f"{where}: needs 'file_path' and 'transform_matrix'")
        poses.append(check_pose(where, frame["transform_matrix"]))
        path = root / str(frame["file_path"])
        if not path.is_file():
            raise QuadfreeError(f"{path}: image file missing (from {meta_path} frame {idx})")
        rgba = read_rgba(path)
        if size is None:
            size = rgba.shape[:2]
        elif rgba.shape[:2] != size:
            raise QuadfreeError(f"{path}: image size {rgba.shape[1]}x{rgba.shape[0]} differs "
                                f"from the first frame's {size[1]}x{size[0]}")
        intr.append(np.array(_intrinsics(where, meta, frame, *size)) / downscale)
        images.append(downscale_area(on_white(rgba), downscale, str(path)))
        files.append(str(path))
    pose_arr = np.stack(poses)
    if near is None:
        # from every frame, so that all splits share the bounds
        near, far = default_bounds(np.stack([
            np.asarray(f.get("transform_matrix"), dtype=np.float64) for f in frames
            if isinstance(f, dict) and np.shape(f.get("transform_matrix")) == (4, 4)]))
    intrinsics = np.stack(intr)
    h, w = images[0].shape[:2]
    return ViewSet(
        images=torch.from_numpy(np.stack(images).astype(np.float32)),
        poses=torch.from_numpy(pose_arr.astype(np.float32)),
        height=h, width=w, focal=float(intrinsics[0, 0]), near=float(near), far=float(far),
        camera_angle_x=2 * math.atan(0.5 * w / intrinsics[0, 0]), files=files, split=split,
        intrinsics=torch.from_numpy(intrinsics), format="nerfstudio")
