"""Volume rendering through an integration engine: the one path NeRF and AutoInt share.

A method hands over an :class:`~quadfree.integrals.IntegralEngine` (quadrature of its field,
or AutoInt's antiderivative), the section edges along each ray, and how raw section means
become density and colour; :func:`render_sections` asks the engine for the means and
composites them (:func:`quadfree.render.compositing.render_density`). The methods then differ
only in the engine they hand over.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from quadfree.integrals import IntegralEngine, section_lengths
from quadfree.render.compositing import render_density
from quadfree.render.rays import RayBundle

Shade = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
"""``raw section means (R, N, C) -> (density (R, N) >= 0, colour (R, N, 3))``."""


def render_sections(engine: IntegralEngine, rays: RayBundle, edges: torch.Tensor, shade: Shade,
                    *, depth_at: torch.Tensor | None = None,
                    background: float | torch.Tensor = 1.0) -> dict[str, torch.Tensor]:
    """Composite the per-section means an engine returns along ``rays``.

    Args:
        engine: answers ``section_means(origins, directions, edges)``.
        rays: the rays (origins, unit directions).
        edges: ``(R, N+1)`` section edges along each ray.
        shade: maps raw means ``(R, N, C)`` to density ``(R, N)`` and colour ``(R, N, 3)``.
        depth_at: ``(R, N)`` distance that stands for each section in the expected depth
            (default: section midpoints).
        background: colour behind the volume.

    Returns:
        ``{"rgb": (R, 3), "depth": (R,), "acc": (R,), "weights": (R, N), "edges": (R, N+1)}``.

    Example:
        >>> from quadfree.quadrature import QuadratureEngine
        >>> field = lambda o, d, t: torch.zeros(*t.shape, 4)          # empty space
        >>> rays = RayBundle(torch.zeros(2, 3), torch.eye(3)[:2], torch.full((2,), 2.0),
        ...                  torch.full((2,), 6.0))
        >>> edges = torch.linspace(2, 6, 5).expand(2, 5)
        >>> out = render_sections(QuadratureEngine(field), rays, edges,
        ...                       lambda m: (m[..., 0], m[..., 1:]))
        >>> out["rgb"].tolist()
        [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    means = engine.section_means(rays.origins, rays.directions, edges)
    sigma, rgb = shade(means)
    if depth_at is None:
        depth_at = 0.5 * (edges[:, 1:] + edges[:, :-1])
    out = render_density(sigma, rgb, depth_at, section_lengths(edges), background=background)
    out["edges"] = edges
    return out
