"""Depth supervision: rays with ground-truth depth, and the map from world into (−1, 1)³.

A :class:`DepthViews` holds ``V`` views of ``H×W`` rays (world origins, unit directions) and
their depth along the unit ray (0 = no surface: background or missing data). A
:class:`Frame` maps world points into the expansion's domain, ``x' = (x − centre) / scale``;
rays map as ``o' = (o − centre)/scale``, ``r' = r/scale``, so the ray parameter ``t`` stays the
world depth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from quadfree.data.blender import load_blender
from quadfree.errors import QuadfreeError


@dataclass(frozen=True)
class Frame:
    """World → domain: ``x' = (x − centre) / scale``.

    Example:
        >>> f = Frame((0.0, 0.0, 0.0), 2.0)
        >>> o, r = f.rays(torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([[1.0, 0.0, 0.0]]))
        >>> o.tolist(), r.tolist()
        ([[1.0, 0.0, 0.0]], [[0.5, 0.0, 0.0]])
    """

    centre: tuple[float, float, float]
    scale: float

    def points(self, x: torch.Tensor) -> torch.Tensor:
        """World points ``(..., 3)`` → domain points ``(..., 3)``."""
        return (x - torch.tensor(self.centre, dtype=x.dtype, device=x.device)) / self.scale

    def rays(self, o: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """World rays ``(R, 3)`` → domain rays with the same ``t`` (world depth)."""
        return self.points(o), r / self.scale

    def to_world(self, x: torch.Tensor) -> torch.Tensor:
        """Domain points ``(..., 3)`` → world points."""
        return x * self.scale + torch.tensor(self.centre, dtype=x.dtype, device=x.device)

    def as_dict(self) -> dict:
        return {"centre": list(self.centre), "scale": self.scale}


@dataclass
class DepthViews:
    """Views with depth: origins, directions ``(V, H, W, 3)``, depth ``(V, H, W)``.

    Attributes:
        origins: camera centres per pixel (world).
        directions: unit ray directions (world).
        depth: distance along the unit ray, 0 where there is no surface.
        name: where the views came from (for messages and metrics).
        rgb: ``(V, H, W, 3)`` colour in [0, 1], or None (RGB-D fusion).
    """

    origins: torch.Tensor
    directions: torch.Tensor
    depth: torch.Tensor
    name: str = "views"
    rgb: torch.Tensor | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        V, H, W = self.depth.shape
        return V, H, W

    def __len__(self) -> int:
        return self.depth.shape[0]

    def subset(self, index: list[int]) -> DepthViews:
        """The views ``index`` (a list of view numbers)."""
        return DepthViews(self.origins[index], self.directions[index], self.depth[index],
                          self.name, None if self.rgb is None else self.rgb[index])

    def points(self) -> torch.Tensor:
        """Surface points ``(K, 3)`` (world) of every pixel with depth."""
        m = self.depth > 0
        return self.origins[m] + self.depth[m][:, None] * self.directions[m]

    def depth_range(self) -> tuple[float, float]:
        """``(min, max)`` of the valid depths."""
        d = self.depth[self.depth > 0]
        if d.numel() == 0:
            raise QuadfreeError(f"{self.name}: no pixel has a depth", param="depth")
        return float(d.min()), float(d.max())


def fit_frame(views: DepthViews, margin: float = 0.8) -> Frame:
    """The frame whose domain holds every surface point of ``views`` inside the ball of
    radius ``margin`` about the origin (centre of the bounding box, uniform scale).

    Example:
        >>> v = DepthViews(torch.zeros(1, 1, 2, 3), torch.tensor([[[[0., 0., 1.], [1., 0., 0.]]]]),
        ...                torch.tensor([[[2.0, 2.0]]]))
        >>> fit_frame(v, margin=1.0)
        Frame(centre=(1.0, 0.0, 1.0), scale=1.414214)
    """
    if not 0 < margin <= 1:
        raise QuadfreeError(f"margin={margin}: must be in (0, 1]", param="margin")
    pts = views.points().double()
    if pts.shape[0] == 0:
        raise QuadfreeError(f"{views.name}: no pixel has a depth", param="depth")
    lo, hi = pts.min(0).values, pts.max(0).values
    centre = 0.5 * (lo + hi)
    radius = float((pts - centre).norm(dim=-1).max())
    scale = max(radius, 1e-6) / margin
    return Frame(tuple(round(float(c), 6) for c in centre), round(scale, 6))


def load_blender_depth(root: str | Path, split: str = "train", downscale: int = 1,
                       max_frames: int | None = None) -> DepthViews:
    """Depth views of a Blender-format split whose frames have ``r_*_depth.npy`` maps.

    Example:
        >>> import tempfile
        >>> from quadfree.data.blender import write_blender_split
        >>> root = tempfile.mkdtemp()
        >>> write_blender_split(root, "test", np.ones((1, 4, 4, 4)), np.eye(4)[None], 0.69,
        ...                     depths=np.full((1, 4, 4), 3.0))
        >>> load_blender_depth(root, "test").shape
        (1, 4, 4)
    """
    data = load_blender(root, split, downscale=downscale, max_frames=max_frames)
    if data.depths is None:
        raise QuadfreeError(f"{root}: split {split} has no r_*_depth.npy depth maps",
                            param="data")
    V, H, W = data.depths.shape
    origins, dirs = [], []
    for i in range(V):
        rays = data.rays(i)
        origins.append(rays.origins.reshape(H, W, 3))
        dirs.append(rays.directions.reshape(H, W, 3))
    depth = data.depths.float()
    if not torch.isfinite(depth).all() or (depth < 0).any():
        raise QuadfreeError(f"{root}: depth maps must be finite and >= 0", param="data")
    return DepthViews(torch.stack(origins), torch.stack(dirs), depth, f"{root}:{split}",
                      data.images.float())


def read_depth_image(path: str | Path, depth_scale: float = 1.0) -> np.ndarray:
    """A depth image ``(H, W)`` float64 from ``.npy`` or a 16-bit/8-bit ``.png`` times
    ``depth_scale`` (e.g. 0.001 for Kinect millimetres). 0 (or non-finite) = missing.

    Example:
        >>> import tempfile, os
        >>> f = os.path.join(tempfile.mkdtemp(), "d.npy"); np.save(f, np.ones((2, 3)))
        >>> read_depth_image(f, 2.0).tolist()
        [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
    """
    path = Path(path)
    if not path.is_file():
        raise QuadfreeError(f"{path}: depth image not found", param="depth_image")
    if not (math.isfinite(depth_scale) and depth_scale > 0):
        raise QuadfreeError(f"depth_scale={depth_scale}: must be > 0", param="depth_scale")
    try:
        if path.suffix.lower() == ".npy":
            img = np.load(path, allow_pickle=False)
        elif path.suffix.lower() == ".png":
            import imageio.v3 as iio
            img = iio.imread(path)
        else:
            raise QuadfreeError(f"{path}: expected a .npy or .png depth image",
                                param="depth_image")
    except QuadfreeError:
        raise
    except Exception as exc:
        raise QuadfreeError(f"{path}: unreadable depth image ({type(exc).__name__})",
                            param="depth_image") from None
    img = np.asarray(img, dtype=np.float64)
    if img.ndim == 3 and img.shape[-1] in (1, 3, 4):
        img = img[..., 0]
    if img.ndim != 2 or min(img.shape) < 2:
        raise QuadfreeError(f"{path}: depth image must be 2-D (H, W), got shape {img.shape}",
                            param="depth_image")
    img = np.where(np.isfinite(img) & (img > 0), img, 0.0) * depth_scale
    if not (img > 0).any():
        raise QuadfreeError(f"{path}: no pixel has a depth", param="depth_image")
    return img


def depth_image_views(depth: np.ndarray, fx: float, fy: float, cx: float, cy: float,
                      z_depth: bool = True, name: str = "depth image") -> DepthViews:
    """One pinhole frame (camera at the origin, OpenGL axes: looking along −z) from a depth
    image ``(H, W)`` and intrinsics in pixels. ``z_depth``: the image holds the z coordinate
    (Kinect convention), converted to the distance along the unit ray; else it already is
    that distance.

    Example:
        >>> v = depth_image_views(np.full((2, 2), 2.0), 1.0, 1.0, 1.0, 1.0)
        >>> round(float(v.depth[0, 0, 0]), 4)        # ray (−0.5, 0.5, −1): 2·|ray|
        2.4495
    """
    for name_, v in (("fx", fx), ("fy", fy)):
        if not (math.isfinite(v) and v > 0):
            raise QuadfreeError(f"{name_}={v}: must be > 0", param=name_)
    for name_, v in (("cx", cx), ("cy", cy)):
        if not math.isfinite(v):
            raise QuadfreeError(f"{name_}={v}: must be finite", param=name_)
    H, W = depth.shape
    j, i = torch.meshgrid(torch.arange(H, dtype=torch.float64),
                          torch.arange(W, dtype=torch.float64), indexing="ij")
    d = torch.stack([(i + 0.5 - cx) / fx, -(j + 0.5 - cy) / fy, -torch.ones_like(i)], -1)
    norm = d.norm(dim=-1)
    z = torch.from_numpy(depth)
    t = z * norm if z_depth else z
    dirs = (d / norm[..., None]).float()
    return DepthViews(torch.zeros(1, H, W, 3), dirs[None], t.float()[None], name)
