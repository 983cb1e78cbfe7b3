"""Where to sample along rays: stratified samples and hierarchical (inverse-CDF) resampling.

All functions are pure: they take ``near``/``far`` or bin edges and return sorted distances
``t`` along unit ray directions; randomness comes from an optional ``torch.Generator``.
"""

from __future__ import annotations

import torch


def stratified_samples(near: torch.Tensor, far: torch.Tensor, num: int, *, perturb: bool,
                       generator: torch.Generator | None = None) -> torch.Tensor:
    """``num`` sorted distances per ray, one in each of ``num`` equal bins of ``[near, far]``.

    With ``perturb=False`` the bin midpoints (deterministic, for inference); with
    ``perturb=True`` one uniform sample inside each bin (NeRF's stratified sampling).

    Shapes: near, far ``(R,)`` → ``(R, num)``.

    Example:
        >>> stratified_samples(torch.tensor([2.0]), torch.tensor([6.0]), 4, perturb=False)
        tensor([[2.5000, 3.5000, 4.5000, 5.5000]])
    """
    r = near.shape[0]
    if perturb:
        gen_device = near.device if generator is None else generator.device
        u = torch.rand((r, num), generator=generator, dtype=near.dtype,
                       device=gen_device).to(near.device)
    else:
        u = torch.full((r, num), 0.5, device=near.device, dtype=near.dtype)
    steps = torch.arange(num, device=near.device, dtype=near.dtype)
    frac = (steps + u) / num
    return near[:, None] + (far - near)[:, None] * frac


def sample_pdf(bins: torch.Tensor, weights: torch.Tensor, num: int, *, deterministic: bool,
               generator: torch.Generator | None = None, eps: float = 1e-5) -> torch.Tensor:
    """Draw ``num`` distances per ray from the piecewise-constant density ``weights`` on ``bins``.

    Inverse-CDF sampling (NeRF's hierarchical sampling): the CDF of ``weights + eps`` is
    inverted at ``num`` uniform (or, with ``deterministic``, evenly spaced) levels, linearly
    inside each bin. The result is sorted along the last axis and carries no gradient.

    Shapes: bins ``(R, M+1)`` (sorted edges), weights ``(R, M)`` → ``(R, num)``.

    Example:
        >>> bins = torch.tensor([[0.0, 1.0, 2.0]]); w = torch.tensor([[0.0, 1.0]])
        >>> t = sample_pdf(bins, w, 4, deterministic=True)
        >>> bool(((t >= 1.0) & (t <= 2.0)).all())
        True
    """
    bins, weights = bins.detach(), weights.detach()
    weights = weights + eps
    pdf = weights / weights.sum(dim=-1, keepdim=True)
    cdf = torch.cumsum(pdf, dim=-1)
    cdf = torch.cat([torch.zeros_like(cdf[..., :1]), cdf], dim=-1).clamp(max=1.0)  # (R, M+1)
    r = bins.shape[0]
    if deterministic:
        u = torch.linspace(0.0, 1.0, num + 2, device=bins.device, dtype=bins.dtype)[1:-1]
        u = u.expand(r, num).contiguous()
    else:
        u = torch.rand((r, num), generator=generator, dtype=bins.dtype,
                       device=bins.device if generator is None else generator.device)
        u = u.to(bins.device)
    idx = torch.searchsorted(cdf, u, right=True)
    below = (idx - 1).clamp(min=0, max=cdf.shape[-1] - 1)
    above = idx.clamp(max=cdf.shape[-1] - 1)
    cdf_lo, cdf_hi = cdf.gather(-1, below), cdf.gather(-1, above)
    bin_lo, bin_hi = bins.gather(-1, below), bins.gather(-1, above)
    denom = cdf_hi - cdf_lo
    denom = torch.where(denom < eps, torch.ones_like(denom), denom)
    t = bin_lo + (u - cdf_lo) / denom * (bin_hi - bin_lo)
    return torch.sort(t, dim=-1).values


def midpoints_to_edges(t: torch.Tensor, near: torch.Tensor, far: torch.Tensor) -> torch.Tensor:
    """Interval edges around sorted samples: ``[near, midpoints…, far]``.

    Each sample ``t_i`` then owns the interval between its neighbours' midpoints, so the
    intervals tile ``[near, far]`` exactly (used for ``δ_i`` in compositing).

    Shapes: t ``(R, N)``, near/far ``(R,)`` → ``(R, N+1)``.

    Example:
        >>> midpoints_to_edges(torch.tensor([[2.5, 3.5]]), torch.tensor([2.0]), torch.tensor([4.0]))
        tensor([[2., 3., 4.]])
    """
    mids = 0.5 * (t[..., 1:] + t[..., :-1])
    return torch.cat([near[:, None].to(t.dtype), mids, far[:, None].to(t.dtype)], dim=-1)
