"""The discrete volume rendering equation (emission–absorption, composited on white).

For samples ``i`` along a ray with density ``σ_i``, colour ``c_i`` and interval length ``δ_i``:
``α_i = 1 − exp(−σ_i δ_i)``, transmittance ``T_i = Π_{j<i} (1 − α_j)``, weight
``w_i = T_i α_i``; colour ``Σ w_i c_i + (1 − Σ w_i)·background``; expected depth ``Σ w_i t_i``;
accumulated opacity ``Σ w_i``. Exact when σ and c are constant on each interval.
"""

from __future__ import annotations

import torch


def alpha_from_density(sigma: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
    """Opacity of each interval, ``1 − exp(−σ·δ)``.

    Shapes: sigma, deltas ``(R, N)`` → ``(R, N)``.

    Example:
        >>> alpha_from_density(torch.tensor([[0.0, 1e9]]), torch.tensor([[1.0, 1.0]])).tolist()
        [[0.0, 1.0]]
    """
    return -torch.expm1(-sigma * deltas)


def weights_from_alpha(alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Compositing weights and transmittance from per-interval opacities.

    Returns ``(weights, transmittance)``, both ``(R, N)``; ``transmittance[:, i]`` is the
    fraction of light surviving to the start of interval ``i`` (1 for ``i = 0``).

    Example:
        >>> w, T = weights_from_alpha(torch.tensor([[0.5, 0.5]]))
        >>> w.tolist(), T.tolist()
        ([[0.5, 0.25]], [[1.0, 0.5]])
    """
    survive = torch.cumprod(1.0 - alpha + 1e-10, dim=-1)
    trans = torch.cat([torch.ones_like(alpha[..., :1]), survive[..., :-1]], dim=-1)
    return trans * alpha, trans


def weights_from_density(sigma: torch.Tensor, deltas: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Compositing weights and transmittance from densities; exact for piecewise-constant σ.

    Uses the optical depth ``τ_i = Σ_{j<i} σ_j δ_j`` (``T_i = exp(−τ_i)``), which is more
    accurate than a product of ``1 − α`` for many thin intervals.

    Shapes: sigma, deltas ``(R, N)`` → weights ``(R, N)``, transmittance ``(R, N)``.

    Example:
        >>> w, T = weights_from_density(torch.tensor([[1.0, 1.0]]), torch.tensor([[1.0, 1.0]]))
        >>> [round(v, 4) for v in w[0].tolist()]
        [0.6321, 0.2325]
    """
    sd = sigma * deltas
    tau = torch.cumsum(sd, dim=-1)
    tau = torch.cat([torch.zeros_like(tau[..., :1]), tau[..., :-1]], dim=-1)
    trans = torch.exp(-tau)
    return trans * (-torch.expm1(-sd)), trans


def composite(weights: torch.Tensor, rgb: torch.Tensor, t: torch.Tensor, *,
              background: float | torch.Tensor = 1.0) -> dict[str, torch.Tensor]:
    """Colour, expected depth and accumulated opacity from weights.

    Args:
        weights: ``(R, N)`` compositing weights ``w_i``.
        rgb: ``(R, N, 3)`` per-sample colours.
        t: ``(R, N)`` sample distances (for depth).
        background: colour behind the volume (white, 1.0, for Blender data); scalar or ``(3,)``.

    Returns:
        ``{"rgb": (R, 3), "depth": (R,), "acc": (R,), "weights": (R, N)}``; depth is the
        expected termination distance ``Σ w_i t_i`` (not normalized by acc).

    Example:
        >>> w, t = torch.tensor([[0.5, 0.0]]), torch.tensor([[1.0, 2.0]])
        >>> out = composite(w, torch.zeros(1, 2, 3), t)
        >>> out["rgb"].tolist(), out["depth"].tolist(), out["acc"].tolist()
        ([[0.5, 0.5, 0.5]], [0.5], [0.5])
    """
    acc = weights.sum(dim=-1)
    color = (weights[..., None] * rgb).sum(dim=-2)
    color = color + (1.0 - acc[..., None]) * background
    depth = (weights * t).sum(dim=-1)
    return {"rgb": color, "depth": depth, "acc": acc, "weights": weights}


def render_density(sigma: torch.Tensor, rgb: torch.Tensor, t: torch.Tensor,
                   deltas: torch.Tensor, *, background: float | torch.Tensor = 1.0
                   ) -> dict[str, torch.Tensor]:
    """Volume-render per-sample ``σ`` and colours in one call (weights + :func:`composite`).

    Shapes: sigma ``(R, N)``, rgb ``(R, N, 3)``, t ``(R, N)``, deltas ``(R, N)`` → see
    :func:`composite`.

    Example:
        >>> R, N = 2, 8
        >>> out = render_density(torch.zeros(R, N), torch.rand(R, N, 3), torch.rand(R, N),
        ...                      torch.full((R, N), 0.1))
        >>> out["rgb"].tolist()  # empty space: the white background
        [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    weights, _ = weights_from_density(sigma, deltas)
    return composite(weights, rgb, t, background=background)
