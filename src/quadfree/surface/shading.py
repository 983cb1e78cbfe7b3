"""Inverse rendering from shading (paper §5.3.4): learn the surface and a light direction
from Lambertian shading images ``max(⟨n, l⟩, 0)`` alone.

``n`` is the model's outward normal ``−∇F/|∇F|`` at the first root (the surface-gradient
layer :func:`quadfree.taylor.roots.first_root`, whose backward runs through the implicit
function theorem) and ``l`` the model's learnable unit light direction
(:meth:`~quadfree.surface.models.TaylorDepth.light_direction`). Targets are rendered with a
known light from normals of the ground-truth depth maps (:func:`gt_shading`); the depth values
themselves are never a training target: the rays use only the mask ``depth > 0`` (the
object's silhouette) and the frame (centre and scale of the object).

Loss per batch: ``|max(⟨n, l⟩, 0) − s|`` on the rays with a shading target that the model
hits; silhouette terms as in the depth fit, without depth: background rays the model hits
push their root to the ray's exit of the domain, object rays it misses raise ``F`` at the
ray's point nearest the domain centre; plus the L1 weight penalty.
"""

from __future__ import annotations

import math

import torch

from quadfree.errors import QuadfreeError
from quadfree.surface.data import DepthViews, Frame
from quadfree.surface.evaluate import depth_normals
from quadfree.surface.fit import MISS_MARGIN, FitConfig, RaySet
from quadfree.surface.models import TaylorDepth, domain_interval


def unit(v: torch.Tensor) -> torch.Tensor:
    """``v / |v|`` along the last axis (0 stays 0)."""
    return v / v.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def lambert(normals: torch.Tensor, light: torch.Tensor) -> torch.Tensor:
    """Lambertian shading ``max(⟨n, l⟩, 0)``: normals ``(..., 3)``, light ``(3,)`` → ``(...)``.

    Example:
        >>> lambert(torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]),
        ...         torch.tensor([0.0, 0.6, 0.8])).tolist()
        [0.800000011920929, 0.0]
    """
    return torch.relu((normals * light.to(normals)).sum(-1))


def angle_deg(a: torch.Tensor, b: torch.Tensor) -> float:
    """Angle in degrees between two vectors ``(3,)``.

    Example:
        >>> round(angle_deg(torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 2.0, 0.0])), 6)
        90.0
    """
    cos = float((unit(a.double()) * unit(b.double())).sum().clamp(-1.0, 1.0))
    return math.degrees(math.acos(cos))


def gt_shading(views: DepthViews, light: torch.Tensor) -> torch.Tensor:
    """Shading images ``(V, H, W)`` rendered with ``light (3,)`` (normalised here) from the
    normals of the ground-truth depth maps (:func:`~quadfree.surface.evaluate.depth_normals`);
    NaN where a pixel has no valid normal (background, edges, depth jumps).

    Example:
        >>> d = torch.tensor([0.0, 0.0, -1.0]).expand(1, 3, 3, 3)     # orthographic
        >>> g = torch.arange(3.0)
        >>> o = torch.stack(torch.meshgrid(g, -g, indexing="xy") + (torch.zeros(3, 3),), -1)
        >>> s = gt_shading(DepthViews(o[None], d, torch.ones(1, 3, 3)), torch.tensor([0., 0., 2.]))
        >>> float(s[0, 1, 1]), int(torch.isnan(s).sum())
        (1.0, 8)
    """
    n, ok = depth_normals(views)
    s = lambert(n, unit(light.to(n.dtype)))
    return torch.where(ok, s, torch.full_like(s, math.nan))


def shading_rays(views: DepthViews, frame: Frame, light: torch.Tensor) -> RaySet:
    """Training rays with shading targets rendered with ``light`` (see :func:`gt_shading`);
    ``depth`` only marks the silhouette (1 on the object, 0 elsewhere).

    Example:
        >>> v = DepthViews(torch.zeros(1, 1, 1, 3), torch.tensor([[[[0., 0., 1.]]]]),
        ...                torch.full((1, 1, 1), 2.5))
        >>> r = shading_rays(v, Frame((0.0, 0.0, 0.0), 2.0), torch.tensor([0.0, 0.0, 1.0]))
        >>> r.depth.tolist(), r.shading.isnan().tolist()      # a lone pixel has no normal
        ([1.0], [True])
    """
    rays = RaySet.from_views(views, frame)
    rays.depth = (rays.depth > 0).to(rays.depth.dtype)
    rays.shading = gt_shading(views, light).reshape(-1)
    rays.rgb = None
    return rays


def shading_loss(model: TaylorDepth, rays: RaySet, cfg: FitConfig) -> tuple[torch.Tensor, dict]:
    """The inverse-rendering loss on a batch (see the module docstring) and its parts
    (``mae``: mean shading error of the hit rays with a target; ``miss``: share of object
    rays missed; ``false``: share of rays hitting background).

    Example:
        >>> m = TaylorDepth(level=1, order=2, light=True)
        >>> rays = RaySet(torch.tensor([[0.0, 0.0, -3.0]]), torch.tensor([[0.0, 0.0, 1.0]]),
        ...               torch.tensor([1.0]), torch.tensor([4.0]), shading=torch.tensor([0.5]))
        >>> loss, parts = shading_loss(m, rays, FitConfig())
        >>> round(parts["mae"], 2)          # the ball's normal at (0, 0, −r) is −z: shade 0
        0.5
    """
    if rays.shading is None:
        raise QuadfreeError("rays: no shading targets (build them with shading_rays)",
                            param="rays")
    if not getattr(model, "light", False):
        raise QuadfreeError("model: needs a light direction (TaylorDepth(light=True))",
                            param="model")
    h = model.hits(rays.o, rays.r)
    fg = rays.depth > 0
    target = rays.shading.to(h.gradient.dtype)
    valid = h.hit & torch.isfinite(target)
    s = lambert(-unit(h.gradient), model.light_direction())
    err = torch.where(valid, (s - torch.nan_to_num(target)).abs(), torch.zeros_like(s))
    n = len(rays)
    loss = err.sum() / n + cfg.l1 * model.penalty()
    hit_bg, miss_fg = h.hit & ~fg, ~h.hit & fg
    if cfg.miss_weight > 0:
        out = torch.where(hit_bg, (h.t - rays.exit.to(h.t)).abs(), torch.zeros_like(h.t))
        loss = loss + cfg.miss_weight * out.sum() / n
        if bool(miss_fg.any()):
            o, r = rays.o[miss_fg], rays.r[miss_fg]
            lo, hi = domain_interval(o, r)
            t = (-(o * r).sum(-1) / (r * r).sum(-1)).clamp(min=0).clamp(lo, hi.clamp(min=lo))
            q = (o + t[:, None] * r).clamp(-1.0, 1.0)
            loss = loss + cfg.miss_weight * torch.relu(MISS_MARGIN - model.value(q)).sum() / n
    parts = {"mae": float(err.detach().sum()) / max(int(valid.sum()), 1),
             "miss": int(miss_fg.sum()) / max(int(fg.sum()), 1), "false": int(hit_bg.sum()) / n}
    return loss, parts


def shading_scores(model: TaylorDepth, normals: torch.Tensor, target: torch.Tensor,
                   light: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Predicted shading ``(V, H, W)`` (0 where the model misses) from rendered outward
    normals ``(V, H, W, 3)`` and the model's light; scores against ``target`` (NaN = none):
    ``shading_mae`` over the target pixels the model hits, ``shading_coverage`` (their
    share), ``light_error_deg`` (learned vs true ``light``).

    Example:
        >>> m = TaylorDepth(level=1, order=2, light=True)
        >>> n = torch.tensor([0.0, 0.0, 1.0]).expand(1, 2, 2, 3)
        >>> s, out = shading_scores(m, n, torch.full((1, 2, 2), 0.5), torch.tensor([0., 1., 0.]))
        >>> out["shading_mae"], out["light_error_deg"]
        (0.5, 90.0)
    """
    with torch.no_grad():
        l_hat = model.light_direction().to(normals.dtype)
        hit = normals.norm(dim=-1) > 0
        s = torch.where(hit, lambert(normals, l_hat), torch.zeros_like(normals[..., 0]))
    ok = hit & torch.isfinite(target)
    mae = float((s - target)[ok].abs().mean()) if bool(ok.any()) else math.nan
    return s, {"shading_mae": mae,
               "shading_coverage": int(ok.sum()) / max(int(torch.isfinite(target).sum()), 1),
               "light_error_deg": angle_deg(l_hat, light),
               "light": [round(float(x), 6) for x in l_hat]}
