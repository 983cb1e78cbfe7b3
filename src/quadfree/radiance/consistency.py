"""View consistency: does a model give the same density to a 3-D point seen from different rays?

NeRF's density is a function of position only, so it is consistent by construction. AutoInt's
density is the derivative of a network of the ray (point *and* direction) along the ray, so the
same point can be dense from one camera and empty from another. :func:`measure_view_consistency`
takes points just inside the ground-truth surfaces of a dataset split, looks at each from
several of that split's camera centres, and reports how much the density varies between views.

Metric: for a point p seen along M directions, ``cv(p) = std_m σ(p, d_m) / mean_m σ(p, d_m)``
(coefficient of variation, population std). Reported: the median and mean of cv over points
whose mean density is above ``min_density``, and the fraction of points that some view sees as
nearly empty (σ below 10 % of the point's largest σ) while another sees as dense
(``disagree_fraction``). A view-independent density gives 0 for all three.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from quadfree.errors import QuadfreeError
from quadfree.radiance.base import RadianceMethod

DensityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def density_function(method: RadianceMethod) -> DensityFn:
    """``(points (P, 3), unit directions (P, 3)) -> density (P,)`` for a method.

    Uses ``method.density_at`` when it exists (AutoInt); for NeRF it queries the fine network
    (the one that renders the final image), or the coarse one if there is no fine network.

    Example:
        >>> from quadfree.radiance.registry import build_method
        >>> m, _ = build_method("nerf", {"width": 8, "depth": 1, "skips": ""})
        >>> d = torch.tensor([[0.0, 0.0, 1.0]])
        >>> density_function(m)(torch.zeros(1, 3), d).shape
        torch.Size([1])
    """
    fn = getattr(method, "density_at", None)
    if fn is not None:
        return fn
    field = getattr(method, "fine", None) or getattr(method, "coarse", None)
    if field is None or not hasattr(field, "density"):
        raise QuadfreeError(f"method {method.name!r}: no way to query its density at a point")

    def nerf_density(points: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        raw, _ = field(points, directions)
        return field.density(raw)

    return nerf_density


def surface_points(depths: torch.Tensor, origins: torch.Tensor, directions: torch.Tensor,
                   count: int, inset: float = 0.02, generator: torch.Generator | None = None
                   ) -> torch.Tensor:
    """Points ``inset`` beyond the ground-truth surface along randomly chosen pixel rays.

    Shapes: depths ``(R,)`` (0 = background), origins, directions ``(R, 3)`` → ``(P, 3)``
    with ``P = min(count, number of surface pixels)``.

    Example:
        >>> p = surface_points(torch.tensor([0.0, 3.0]), torch.zeros(2, 3),
        ...                    torch.tensor([[0.0, 0, 1], [0, 0, 1]]), 5, inset=0.0)
        >>> p.tolist()
        [[0.0, 0.0, 3.0]]
    """
    hit = torch.nonzero(depths > 0).flatten()
    if hit.numel() == 0:
        raise QuadfreeError("surface points: the depth maps hold no surface pixels")
    pick = hit[torch.randperm(hit.numel(), generator=generator)[:count]]
    return origins[pick] + (depths[pick] + inset)[:, None] * directions[pick]


@torch.no_grad()
def view_consistency_stats(density: DensityFn, points: torch.Tensor, centres: torch.Tensor,
                           min_density: float = 1.0) -> dict[str, float | None]:
    """Density of each point seen from each camera centre, and how much it varies.

    Args:
        density: ``(points, directions) -> σ`` (see :func:`density_function`).
        points: ``(P, 3)`` query points.
        centres: ``(P, M, 3)`` camera centres looking at each point (M ≥ 2 views).
        min_density: points whose mean σ over views is below this are left out of cv.

    Returns ``{"cv_median", "cv_mean", "disagree_fraction", "points", "views",
    "mean_density"}`` (cv values None when no point passes ``min_density``).

    Example:
        >>> const = lambda p, d: torch.ones(p.shape[0])
        >>> s = view_consistency_stats(const, torch.zeros(4, 3), torch.randn(4, 3, 3), 0.5)
        >>> s["cv_median"], s["disagree_fraction"]
        (0.0, 0.0)
    """
    if points.ndim != 2 or centres.ndim != 3 or centres.shape[0] != points.shape[0]:
        raise QuadfreeError(f"points {tuple(points.shape)} / centres {tuple(centres.shape)}: "
                            "expected (P, 3) and (P, M, 3)")
    p, m = centres.shape[:2]
    dirs = torch.nn.functional.normalize(points[:, None, :] - centres, dim=-1)
    sigma = density(points[:, None, :].expand(p, m, 3).reshape(-1, 3),
                    dirs.reshape(-1, 3)).reshape(p, m).double()
    mean = sigma.mean(-1)
    keep = mean > min_density
    cv = (sigma[keep].std(-1, unbiased=False) / mean[keep]) if keep.any() \
        else sigma.new_zeros(0)
    peak = sigma.max(-1).values
    disagree = (sigma.min(-1).values < 0.1 * peak) & keep
    return {"cv_median": float(cv.median()) if cv.numel() else None,
            "cv_mean": float(cv.mean()) if cv.numel() else None,
            "disagree_fraction": float(disagree.sum() / keep.sum().clamp_min(1)),
            "points": int(keep.sum()), "views": m, "mean_density": float(mean[keep].mean())
            if keep.any() else 0.0}


def measure_view_consistency(method: RadianceMethod, split, *, points: int = 512,
                             views: int = 8, inset: float = 0.02, min_density: float = 1.0,
                             seed: int = 0) -> dict[str, float | None]:
    """View consistency of ``method`` on surface points of a dataset split with depth maps.

    Each point lies ``inset`` inside a ground-truth surface (the same points for every method);
    it is seen from ``views`` camera centres drawn from the split's cameras.

    Args:
        method: a trained :class:`RadianceMethod` (NeRF, AutoInt).
        split: a :class:`~quadfree.data.blender.BlenderSplit` with ``depths``.

    Returns: see :func:`view_consistency_stats`.

    Example:
        >>> from quadfree.data.blender import BlenderSplit
        >>> from quadfree.radiance.registry import build_method
        >>> c2w = torch.eye(4).repeat(2, 1, 1); c2w[:, 2, 3] = 4.0
        >>> split = BlenderSplit(torch.ones(2, 4, 4, 3), c2w, 4, 4, 4.0, 2.0, 6.0, 0.9,
        ...                      depths=torch.full((2, 4, 4), 4.0))
        >>> m, _ = build_method("nerf", {"width": 8, "depth": 1, "skips": ""})
        >>> sorted(measure_view_consistency(m, split, points=4, views=2, min_density=0.0))[:2]
        ['cv_mean', 'cv_median']
    """
    if split.depths is None:
        raise QuadfreeError("view consistency needs ground-truth depth maps (r_<i>_depth.npy)")
    gen = torch.Generator().manual_seed(seed)
    rays, _ = split.all_rays()
    pts = surface_points(split.depths.reshape(-1), rays.origins, rays.directions, points,
                         inset, gen)
    cams = split.poses[:, :3, 3].float()
    pick = torch.stack([torch.randperm(len(cams), generator=gen)[:views]
                        for _ in range(len(pts))])
    device = next(iter(method.parameters())).device
    was_training = method.training
    method.eval()
    try:
        return view_consistency_stats(density_function(method), pts.to(device),
                                      cams[pick].to(device), min_density)
    finally:
        method.train(was_training)
