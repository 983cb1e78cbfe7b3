"""Rendering depth and normal maps of a model and scoring them against ground truth.

Depth MAE is over the pixels with a measured depth that the model hits, in % of the
measured depth range (max − min over the evaluated views); coverage is the fraction of those
pixels the model hits and ``false_hits`` the fraction of background pixels it hits. Ground-
truth normals come from the depth maps (back-projected points, central differences, only
where the four neighbours are surface pixels at nearby depth); the normal error is the mean
angle between them and the model's outward normals ``−∇F/|∇F|``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from quadfree.surface.data import DepthViews, Frame
from quadfree.surface.models import MLPDepth, TaylorDepth


@dataclass
class Rendered:
    """Maps per view: depth ``(V, H, W)`` (0 = miss), outward normals ``(V, H, W, 3)``,
    colour at the root ``(V, H, W, 3)`` (white where none) for models with a colour layer."""

    depth: torch.Tensor
    normals: torch.Tensor
    rgb: torch.Tensor | None = None


def render_views(model: TaylorDepth | MLPDepth, views: DepthViews, frame: Frame,
                 chunk: int = 1 << 14) -> Rendered:
    """Depth and normal maps of every view (no gradients).

    Example:
        >>> from quadfree.surface.models import MLPDepth
        >>> v = DepthViews(torch.tensor([[[[0.0, 0.0, -3.0]]]]),
        ...                torch.tensor([[[[0.0, 0.0, 1.0]]]]), torch.ones(1, 1, 1))
        >>> out = render_views(MLPDepth(depth=1, width=4), v, Frame((0.0, 0.0, 0.0), 1.0))
        >>> round(float(out.depth[0, 0, 0]), 2), float(out.normals[0, 0, 0, 2])
        (2.15, -1.0)
    """
    V, H, W = views.shape
    o, r = frame.rays(views.origins.reshape(-1, 3), views.directions.reshape(-1, 3))
    depth, normals, rgb = [], [], []
    colour = getattr(model, "colour", False)
    with torch.no_grad():
        for oc, rc in zip(o.split(chunk), r.split(chunk)):
            h = model.hits(oc, rc)
            n = -h.gradient / h.gradient.norm(dim=-1, keepdim=True).clamp(min=1e-12)
            depth.append(torch.where(h.hit, h.t, torch.zeros_like(h.t)).float())
            normals.append(torch.where(h.hit[:, None], n, torch.zeros_like(n)).float())
            if colour:
                c = model.colour_at(oc.to(h.t) + h.t[:, None] * rc.to(h.t)).clamp(0, 1)
                rgb.append(torch.where(h.hit[:, None], c, torch.ones_like(c)).float())
    return Rendered(torch.cat(depth).reshape(V, H, W), torch.cat(normals).reshape(V, H, W, 3),
                    torch.cat(rgb).reshape(V, H, W, 3) if colour else None)


def depth_normals(views: DepthViews, rel_jump: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """Normals ``(V, H, W, 3)`` from the depth maps (facing the camera) and their validity
    mask ``(V, H, W)``.

    Example:
        >>> d = torch.tensor([0.0, 0.0, -1.0]).expand(1, 3, 3, 3)     # orthographic
        >>> g = torch.arange(3.0)
        >>> o = torch.stack(torch.meshgrid(g, -g, indexing="xy") + (torch.zeros(3, 3),), -1)
        >>> n, ok = depth_normals(DepthViews(o[None], d, torch.ones(1, 3, 3)))
        >>> n[0, 1, 1].tolist(), int(ok.sum())
        ([0.0, 0.0, 1.0], 1)
    """
    pts = views.origins + views.depth[..., None] * views.directions
    fg = views.depth > 0
    du = pts[:, 1:-1, 2:] - pts[:, 1:-1, :-2]
    dv = pts[:, :-2, 1:-1] - pts[:, 2:, 1:-1]
    n = torch.linalg.cross(du, dv)
    n = n / n.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    d = views.depth
    c = d[:, 1:-1, 1:-1]
    ok = fg[:, 1:-1, 1:-1] & fg[:, 1:-1, 2:] & fg[:, 1:-1, :-2] & fg[:, 2:, 1:-1] & fg[:, :-2, 1:-1]
    for nb in (d[:, 1:-1, 2:], d[:, 1:-1, :-2], d[:, 2:, 1:-1], d[:, :-2, 1:-1]):
        ok &= (nb - c).abs() <= rel_jump * c
    flip = (n * views.directions[:, 1:-1, 1:-1]).sum(-1) > 0
    n = torch.where(flip[..., None], -n, n)
    full = torch.zeros_like(pts)
    mask = torch.zeros_like(fg)
    full[:, 1:-1, 1:-1] = n
    mask[:, 1:-1, 1:-1] = ok
    return full, mask


def score(rendered: Rendered, views: DepthViews) -> dict:
    """Depth MAE (% of the depth range and absolute), coverage, false hits, normal error.

    Example:
        >>> v = DepthViews(torch.zeros(1, 1, 2, 3), torch.tensor([0., 0., 1.]).expand(1, 1, 2, 3),
        ...                torch.tensor([[[2.0, 4.0]]]))
        >>> s = score(Rendered(torch.tensor([[[2.5, 4.0]]]), torch.zeros(1, 1, 2, 3)), v)
        >>> s["depth_mae"], s["depth_mae_pct"], s["coverage"]
        (0.25, 12.5, 1.0)
    """
    gt = views.depth
    fg = gt > 0
    hit = rendered.depth > 0
    both = fg & hit
    lo, hi = views.depth_range()
    mae = float((rendered.depth - gt)[both].abs().mean()) if both.any() else float("nan")
    n_gt, ok = depth_normals(views)
    ok = ok & hit
    cos = (rendered.normals * n_gt).sum(-1).clamp(-1.0, 1.0)
    angle = torch.rad2deg(torch.arccos(cos[ok]))
    bg = ~fg
    extra = {}
    if rendered.rgb is not None and views.rgb is not None and both.any():
        mse = float((rendered.rgb - views.rgb)[both].square().mean())
        extra["rgb_psnr_surface"] = -10.0 * math.log10(max(mse, 1e-12))
    return extra | {"depth_mae": mae, "depth_range": hi - lo,
            "depth_mae_pct": 100.0 * mae / max(hi - lo, 1e-12),
            "coverage": float(both.sum()) / max(int(fg.sum()), 1),
            "false_hits": float((hit & bg).sum()) / max(int(bg.sum()), 1),
            "normal_error_deg": float(angle.mean()) if angle.numel() else float("nan"),
            "normal_pixels": int(ok.sum())}
