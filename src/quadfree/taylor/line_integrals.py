"""Line integrals through an FC²T² expansion (paper §6.1.1): ``∫_near^far f(o + t·r) dt``.

Along a ray the expansion is a piecewise polynomial: one univariate polynomial per crossed
cell (:mod:`~quadfree.taylor.line2poly`), integrated in closed form over its segment
(``∫_{−1}^{1} τ^m dτ = 2/(m+1)`` for even m, 0 for odd m) and summed per ray. No quadrature,
no sampling: the result is exact for the expansion. Only the part of a ray inside [−1, 1]^d
counts (the expansion is not defined outside).

This is the forward pass. Gradients flow by autograd through the expansion (in p and w) and
through the segment bounds (in o and r); the paper's ray2M backward (§6.2.1) is separate work.
"""

from __future__ import annotations

import math

import torch

from quadfree.taylor.expansion import Expansion
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
