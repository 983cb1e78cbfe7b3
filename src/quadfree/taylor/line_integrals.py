"""Line integrals through an FC²T² expansion (paper §6.1.1): ``∫_near^far f(o + t·r) dt``.

Along a ray the expansion is a piecewise polynomial: one univariate polynomial per crossed
cell (:mod:`~quadfree.taylor.line2poly`), integrated in closed form over its segment
(``∫_{−1}^{1} τ^m dτ = 2/(m+1)`` for even m, 0 for odd m) and summed per ray. No quadrature,
no sampling: the result is exact for the expansion. Only the part of a ray inside [−1, 1]^d
counts (the expansion is not defined outside).

:func:`line_integral` reads a given expansion (gradients by autograd through it).
:func:`line_integral_layer` is the layer ``(p, w, o, r) → y`` with the paper's ray2M backward
(§6.2.1): each ray segment, weighted by the incoming ``ȳ``, is inserted into one expansion
and read at the sources, ``w̄ = H(p)``, ``p̄ = Σ_c w_c ∇H_c(p)`` with
``H(x) = Σ_m ȳ_m ∫ φ(x − o_m − t·r_m) dt``. The segment's multipole moments are polynomials of
degree ≤ ρ in its parameter, so ⌈(ρ+1)/2⌉ Gauss–Legendre points per segment, inserted as
ordinary sources through :meth:`FC2T2.expand`, give exactly the moments of the whole segment
(the paper's ``line2taylor``) — no sampling error. Gradients in o and r are exact for the
forward (piecewise-polynomial) function, boundary terms of the domain clipping included.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from quadfree.errors import QuadfreeError
from quadfree.taylor.expansion import FC2T2, Expansion
from quadfree.taylor.line2poly import gather_segments, integrate_polynomials, segment_polynomials
from quadfree.taylor.rays import batch_rays, traverse


def line_integral(E: Expansion, o: torch.Tensor, r: torch.Tensor, near=0.0, far=math.inf
                  ) -> torch.Tensor:
    """``∫ f(o + t·r) dt`` over ``[near, far] ∩ {t : o + t·r ∈ [−1, 1]^d}`` per ray and channel.

    E: expansion ``(B, C, n…, P)``; o, r: ``(R, d)`` or ``(B, R, d)`` (t is in units of |r|:
    for a unit r the integral is per unit length); near, far: floats or ``(B, R)``.
    Returns ``(B, C, R)``; rays that miss the domain give 0.

    Example:
        >>> from quadfree.taylor import FC2T2
        >>> E = FC2T2("1 + x**2 + y**2", levels=1, order=2, dim=2).expand(
        ...     torch.zeros(1, 1, 2, dtype=torch.float64), torch.ones(1, 1, 1, dtype=torch.float64))
        >>> o = torch.tensor([[-3.0, 0.5]], dtype=torch.float64)
        >>> r = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
        >>> round(float(line_integral(E, o, r)[0, 0, 0]), 6)   # ∫_{-1}^{1} 1.25 + x² dx
        3.166667
    """
    B, C = E.coeffs.shape[:2]
    o, r = batch_rays(o.to(E.coeffs.dtype), r.to(E.coeffs.dtype), B, E.dim)
    R = o.shape[1]
    seg = traverse(o, r, E.n, near, far)
    sl = gather_segments(seg, seg.valid, o, r)
    poly = segment_polynomials(E, sl.batch, sl.cell, sl.a, sl.b)        # (K, C, ρ+1)
    per_segment = sl.half[:, None] * integrate_polynomials(poly)         # (K, C)
    out = per_segment.new_zeros(B * R, C).index_add(0, sl.batch * R + sl.ray, per_segment)
    return out.reshape(B, R, C).permute(0, 2, 1)


def segment_sources(o: torch.Tensor, r: torch.Tensor, weights: torch.Tensor, n: int,
                    order: int, near=0.0, far=math.inf) -> tuple[torch.Tensor, torch.Tensor]:
    """Point sources whose multipole moments on an ``n^d`` grid equal those of the rays.

    Each crossed cell's segment carries ⌈(ρ+1)/2⌉ Gauss–Legendre points with weights
    ``weights × (segment half-length) × (Gauss weight)``. o, r ``(B, R, d)``, weights
    ``(B, C, R)`` → points ``(B, R·S·J, d)``, weights ``(B, C, R·S·J)`` (zero on padding).

    Example:
        >>> pts, wts = segment_sources(torch.tensor([[[-2.0, 0.1]]]),
        ...                            torch.tensor([[[1.0, 0.0]]]), torch.ones(1, 1, 1), 2, 4)
        >>> pts.shape, round(float(wts.sum()), 6)      # 2 cells × 3 points; length 2
        (torch.Size([1, 6, 2]), 2.0)
    """
    B, R, d = o.shape
    x, gw = np.polynomial.legendre.leggauss((order + 2) // 2)
    tau = torch.as_tensor(x, dtype=o.dtype, device=o.device)
    gw = torch.as_tensor(gw, dtype=o.dtype, device=o.device)
    seg = traverse(o, r, n, near, far)
    S = seg.valid.shape[-1]
    mid, half = 0.5 * (seg.t_in + seg.t_out), 0.5 * seg.length            # (B, R, S)
    t = mid[..., None] + half[..., None] * tau                             # (B, R, S, J)
    pts = (o[:, :, None, None, :] + t[..., None] * r[:, :, None, None, :]).clamp(-1.0, 1.0)
    scale = torch.where(seg.valid, half, torch.zeros_like(half))[..., None] * gw
    wts = weights[:, :, :, None, None] * scale[:, None]                   # (B, C, R, S, J)
    J = tau.shape[0]
    return pts.reshape(B, R * S * J, d), wts.reshape(B, weights.shape[1], R * S * J)


class _LineIntegral(torch.autograd.Function):
    """(p, w, o, r) → ∫ f dt with the ray2M backward (see the module docstring)."""

    @staticmethod
    def forward(ctx, p, w, o, r, S, near, far):
        E = S.expand(p.detach(), w.detach())
        ctx.S, ctx.near, ctx.far = S, near, far
        ctx.save_for_backward(p, w, o, r, E.coeffs)
        return line_integral(E, o.detach(), r.detach(), near, far)

    @staticmethod
    @once_differentiable
    def backward(ctx, y_bar):
        p, w, o, r, coeffs = ctx.saved_tensors
        S: FC2T2 = ctx.S
        p_bar = w_bar = o_bar = r_bar = None
        if ctx.needs_input_grad[2] or ctx.needs_input_grad[3]:
            E = Expansion(coeffs=coeffs, order=S.order, clamp=S.clamp)
            with torch.enable_grad():
                o_, r_ = o.detach().requires_grad_(True), r.detach().requires_grad_(True)
                y = line_integral(E, o_, r_, ctx.near, ctx.far)
                o_bar, r_bar = torch.autograd.grad((y * y_bar).sum(), (o_, r_))
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            pts, wts = segment_sources(o, r, y_bar, S.n, S.order, ctx.near, ctx.far)
            H = S.expand(pts, wts)
            w_bar = H.evaluate(p)                                          # (B, C, N)
            p_bar = (w[..., None] * H.gradient(p)).sum(1)                  # (B, N, d)
        return p_bar, w_bar, o_bar, r_bar, None, None, None


def line_integral_layer(S: FC2T2, p: torch.Tensor, w: torch.Tensor, o: torch.Tensor,
                        r: torch.Tensor, near=0.0, far=math.inf) -> torch.Tensor:
    """``y = ∫ f(o + t·r; p, w) dt`` per ray and channel, differentiable in p, w, o, r.

    Shapes: p ``(B, N, d)``, w ``(B, C, N)``, o, r ``(R, d)`` or ``(B, R, d)``, near/far
    floats or ``(B, R)`` (constants) → ``(B, C, R)``. Forward as :func:`line_integral`;
    backward by ray2M: one C-channel expansion of the rays, read at p.

    Example:
        >>> from quadfree.taylor import FC2T2
        >>> S = FC2T2("exp(-4*(x**2+y**2))", levels=2, order=4, dim=2)
        >>> w = torch.ones(1, 1, 1, requires_grad=True)
        >>> y = line_integral_layer(S, torch.zeros(1, 1, 2), w, torch.tensor([[-1.0, 0.0]]),
        ...                         torch.tensor([[1.0, 0.0]]))
        >>> y.backward(); round(float(w.grad), 3) == round(float(y.detach()), 3)   # linear in w
        True
    """
    if not isinstance(S, FC2T2):
        raise QuadfreeError(f"S: expected an FC2T2, got {type(S).__name__}")
    if not isinstance(p, torch.Tensor) or p.dim() != 3:
        raise QuadfreeError(f"sources p: expected a (B, N, {S.dim}) tensor")
    o, r = batch_rays(o.to(p.dtype), r.to(p.dtype), p.shape[0], S.dim)
    return _LineIntegral.apply(p, w.to(p.dtype), o, r, S, near, far)
