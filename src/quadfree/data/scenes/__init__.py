"""Procedural scenes written as complete Blender-format datasets.

``fog``: an emission–absorption volume of anisotropic Gaussian blobs rendered by high-accuracy
quadrature (ground truth for integration accuracy). ``objects``: opaque textured solids,
Blinn–Phong shaded, sphere-traced with supersampling (NeRF-synthetic-like).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from quadfree.atomic import atomic_dir
from quadfree.data.blender import write_blender_split
from quadfree.data.scenes.cameras import CAMERA_ANGLE_X, hemisphere_poses, orbit_poses
from quadfree.errors import QuadfreeError
from quadfree.render.rays import focal_from_fov

SCENES: dict[str, str] = {
    "fog": "quadfree.data.scenes.fog",
    "objects": "quadfree.data.scenes.objects",
}
SPLIT_SIZES = {"train": 100, "val": 10, "test": 20}
DEFAULT_RES = 64       # one default for `scene make`, the demo and the benchmarks


def scene_module(name: str):
    """The module generating scene ``name`` (it exposes ``make(seed)`` returning a scene
    object with ``render(c2w, height, width, focal) -> (rgba (H, W, 4), depth (H, W))``).

    Example:
        >>> scene_module("fog").__name__
        'quadfree.data.scenes.fog'
    """
    import importlib

    if name not in SCENES:
        raise QuadfreeError(f"scene {name!r}: unknown; choose from {sorted(SCENES)}")
    return importlib.import_module(SCENES[name])


def split_poses(seed: int, sizes: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """Camera poses of every split: random hemisphere views for train/val, an orbit at 30°
    elevation for test (as in the NeRF synthetic scenes).

    Example:
        >>> {k: v.shape[0] for k, v in split_poses(0).items()}
        {'train': 100, 'val': 10, 'test': 20}
    """
    sizes = sizes or SPLIT_SIZES
    rng = np.random.default_rng(seed + 7919)
    return {"train": hemisphere_poses(sizes["train"], rng),
            "val": hemisphere_poses(sizes["val"], rng),
            "test": orbit_poses(sizes["test"], elevation_deg=30.0, phase=0.3)}


def make_scene(name: str, out: str | Path, *, res: int = DEFAULT_RES, seed: int = 0,
               sizes: dict[str, int] | None = None, progress: bool = True) -> dict[str, Any]:
    """Generate scene ``name`` at ``res``×``res`` into dataset directory ``out``, atomically.

    Writes ``transforms_{train,val,test}.json``, RGBA PNGs, depth maps ``r_<i>_depth.npy``
    (distance along the unit ray, 0 = background) and ``scene.json`` (generator metadata).
    Returns the metadata dict. A killed run leaves no half-written dataset.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "fog"
        >>> meta = make_scene("fog", out, res=8, sizes={"train": 2, "val": 1, "test": 1},
        ...                   progress=False)
        >>> sorted(p.name for p in out.glob("*.json"))
        ['scene.json', 'transforms_test.json', 'transforms_train.json', 'transforms_val.json']
    """
    if not isinstance(res, int) or res < 4 or res > 4096:
        raise QuadfreeError(f"res {res}: must be an integer in [4, 4096]", param="res")
    module = scene_module(name)
    # One intra-op thread: generation is many small elementwise ops, and with two OpenMP
    # threads on two busy cores they ran up to ~45x slower (measured); one thread never loses
    # much, and results are identical for any thread count.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _make_scene(name, module.make(seed), out, res, seed, sizes, progress)
    finally:
        torch.set_num_threads(threads)


def _make_scene(name: str, scene: Any, out: str | Path, res: int, seed: int,
                sizes: dict[str, int] | None, progress: bool) -> dict[str, Any]:
    poses = split_poses(seed, sizes)
    focal = focal_from_fov(res, CAMERA_ANGLE_X)
    start = time.perf_counter()
    total = sum(len(p) for p in poses.values())
    extras: dict[str, Any] = {}
    with atomic_dir(out) as tmp, tqdm(total=total, disable=not progress,
                                      desc=f"scene {name}") as bar:
        for split, split_poses_ in poses.items():
            rgbas, depths = [], []
            for pose in split_poses_:
                rgba, depth, info = scene.render(torch.from_numpy(pose).float(), res, res, focal)
                rgbas.append(rgba)
                depths.append(depth)
                for k, v in info.items():
                    extras[k] = max(extras.get(k, v), v)
                bar.update(1)
            write_blender_split(tmp, split, np.stack(rgbas), split_poses_, CAMERA_ANGLE_X,
                                depths=np.stack(depths))
            if getattr(scene, "save_float_rgb", False) and split == "test":
                # the unquantised composite on white: ground truth for integration accuracy
                for i, rgba in enumerate(rgbas):
                    rgb = rgba[..., :3] * rgba[..., 3:] + (1.0 - rgba[..., 3:])
                    np.save(tmp / split / f"r_{i}_rgb.npy", rgb.astype(np.float32))
        meta = {"scene": name, "seed": seed, "res": res, "near": 2.0, "far": 6.0,
                "camera_angle_x": CAMERA_ANGLE_X, "generator": scene.describe(),
                "seconds": round(time.perf_counter() - start, 3), **extras}
        (tmp / "scene.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta
