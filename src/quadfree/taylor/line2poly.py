"""``line2poly`` (paper §5.1.1): each crossed cell's polynomial restricted to the ray.

Inside a segment ``[t_in, t_out]`` the expansion is one polynomial of total degree ≤ ρ in the
cell's local coordinate ``u``; along the ray ``u`` is affine in t, so ``f(o + t·r)`` is a
univariate polynomial of degree ≤ ρ. We write it in the segment's own parameter
``τ ∈ [−1, 1]`` (``t = t_mid + τ·(t_out − t_in)/2``), where ``u(τ) = a + b·τ`` stays inside
the cell, so the coefficients are well conditioned whatever the ray's length or origin.

The coefficients come from the cell polynomial's values at ρ + 1 Chebyshev nodes in τ and
one fixed inverse Vandermonde matrix: the restriction *is* a polynomial of degree ≤ ρ, so
this interpolation is exact up to round-off (it equals the paper's binomial expansion and
needs no per-multi-index bookkeeping). Work is chunked over segments to bound memory.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

import numpy as np
import torch

from quadfree.taylor.expansion import Expansion
from quadfree.taylor.legendre import basis_torch
from quadfree.taylor.multiindex import multi_indices
from quadfree.taylor.rays import Segments

CHUNK = 1 << 13


@cache
def _nodes(order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chebyshev nodes τ_j, the inverse Vandermonde (values → monomial coefficients) and the
    values → Bernstein-coefficient matrix on [−1, 1]."""
    k = order + 1
    tau = np.cos(np.pi * (np.arange(k) + 0.5) / k)[::-1].copy()
    V = tau[:, None] ** np.arange(k)[None, :]
    x = (tau + 1.0) / 2.0
    from math import comb
    Bm = np.stack([[comb(order, i) * xj ** i * (1 - xj) ** (order - i) for i in range(k)]
                   for xj in x])
    return tau, np.linalg.inv(V), np.linalg.inv(Bm)


def segment_coordinates(seg: Segments, o: torch.Tensor, r: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Local cell coordinates ``u(τ) = a + b·τ`` of each segment: a, b ``(..., S, d)``.

    ``a`` is the segment midpoint and ``b`` the half-segment in units of the half cell width;
    o, r ``(..., d)`` as passed to :func:`~quadfree.taylor.rays.traverse`.

    Example:
        >>> from quadfree.taylor.rays import traverse
        >>> o, r = torch.tensor([[-2.0, -0.75]]), torch.tensor([[1.0, 0.0]])
        >>> a, b = segment_coordinates(traverse(o, r, 4), o, r)
        >>> a[0, 0].tolist(), b[0, 0].tolist()
        ([0.0, 0.0], [1.0, 0.0])
    """
    half_cell = 1.0 / seg.n
    mid = 0.5 * (seg.t_in + seg.t_out)
    half = 0.5 * (seg.t_out - seg.t_in)
    a = (o[..., None, :] + mid[..., None] * r[..., None, :] - seg.centres) / half_cell
    b = half[..., None] * r[..., None, :] / half_cell
    return a, b


class SegmentList(NamedTuple):
    """A flat list of K selected segments (see :func:`gather_segments`).

    Attributes:
        batch, ray: ``(K,)`` batch and ray index; cell: ``(K,)`` flat cell index.
        mid, half: ``(K,)`` segment midpoint and half-length in t.
        a, b: ``(K, d)`` local coordinates ``u(τ) = a + b·τ``.
    """

    batch: torch.Tensor
    ray: torch.Tensor
    cell: torch.Tensor
    mid: torch.Tensor
    half: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor


def gather_segments(seg: Segments, mask: torch.Tensor, o: torch.Tensor, r: torch.Tensor
                    ) -> SegmentList:
    """The segments where ``mask (B, R, S)`` holds, as a flat :class:`SegmentList`.

    o, r ``(B, R, d)``; differentiable in o and r (and in seg's t_in/t_out).

    Example:
        >>> from quadfree.taylor.rays import traverse
        >>> o, r = torch.tensor([[[-2.0, -0.75]]]), torch.tensor([[[1.0, 0.0]]])
        >>> seg = traverse(o, r, 4)
        >>> sl = gather_segments(seg, seg.valid, o, r)
        >>> sl.ray.tolist(), sl.mid.tolist(), sl.a[0].tolist()
        ([0, 0, 0, 0], [1.25, 1.75, 2.25, 2.75], [0.0, 0.0])
    """
    b_idx, r_idx, _ = mask.nonzero(as_tuple=True)
    t_in, t_out = seg.t_in[mask], seg.t_out[mask]
    mid, half = 0.5 * (t_in + t_out), 0.5 * (t_out - t_in)
    centre = -1.0 + (seg.cell[mask].to(mid.dtype) + 0.5) * (2.0 / seg.n)
    ob, rb = o[b_idx, r_idx], r[b_idx, r_idx]
    a = (ob + mid[:, None] * rb - centre) * seg.n          # half a cell is 1/n
    b = half[:, None] * rb * seg.n
    return SegmentList(batch=b_idx, ray=r_idx, cell=flat_cells(seg.cell, seg.n)[mask],
                       mid=mid, half=half, a=a, b=b)


def _basis_values(u: torch.Tensor, order: int) -> torch.Tensor:
    """``E_k(u)`` for the storage-order multi-indices: ``(K, d)`` → ``(K, P)``."""
    d = u.shape[-1]
    e = basis_torch(u, order)[0].permute(1, 2, 0).contiguous()     # (d, ρ+1, K)
    idx = torch.tensor(multi_indices(d, order), device=u.device)   # (P, d)
    out = e[0].index_select(0, idx[:, 0])
    for ax in range(1, d):
        out = out * e[ax].index_select(0, idx[:, ax])
    return out.T                                                   # (K, P)


def flat_cells(cell: torch.Tensor, n: int) -> torch.Tensor:
    """Row-major flat index of per-axis cell indices ``(..., d)`` → ``(...)``.

    Example:
        >>> flat_cells(torch.tensor([[1, 2]]), 4).tolist()
        [6]
    """
    out = cell[..., 0]
    for ax in range(1, cell.shape[-1]):
        out = out * n + cell[..., ax]
    return out


def segment_polynomials(E: Expansion, batch: torch.Tensor, cell: torch.Tensor,
                        a: torch.Tensor, b: torch.Tensor, chunk: int = CHUNK) -> torch.Tensor:
    """Univariate polynomials of a flat list of K segments: ``(K, C, ρ+1)`` coefficients of τ^m.

    batch ``(K,)`` batch index, cell ``(K,)`` flat cell index (see :func:`flat_cells`),
    a, b ``(K, d)`` from :func:`segment_coordinates`. Differentiable in E.coeffs, a and b.

    Example:
        >>> from quadfree.taylor import FC2T2
        >>> E = FC2T2("1 + x**2 + y**2", levels=1, order=2, dim=2).expand(
        ...     torch.zeros(1, 1, 2), torch.ones(1, 1, 1))
        >>> c = segment_polynomials(E, torch.tensor([0]), torch.tensor([0]),
        ...                         torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 0.0]]))
        >>> [round(v, 4) for v in c[0, 0].tolist()]      # x = −0.75 + 0.25 τ, y = −0.75
        [2.125, -0.375, 0.0625]
    """
    B, C = E.coeffs.shape[:2]
    P, order, d = E.coeffs.shape[-1], E.order, E.dim
    dtype, device = E.coeffs.dtype, E.coeffs.device
    tau, vinv, _ = _nodes(order)
    tau = torch.as_tensor(tau, dtype=dtype, device=device)
    vinv = torch.as_tensor(vinv, dtype=dtype, device=device)
    rows = E.coeffs.reshape(B, C, -1, P).permute(0, 2, 1, 3).reshape(-1, C, P)   # (B·n^d, C, P)
    row = batch * (rows.shape[0] // B) + cell
    out = []
    for s in range(0, row.shape[0], chunk):
        coef = rows.index_select(0, row[s: s + chunk])                    # (k, C, P)
        k = coef.shape[0]
        u = (a[s: s + chunk, None, :] + b[s: s + chunk, None, :] * tau[:, None]).clamp(-1, 1)
        Ev = _basis_values(u.reshape(-1, d).to(dtype), order).reshape(k, order + 1, P)
        vals = (coef[:, :, None, :] * Ev[:, None]).sum(-1)                 # (k, C, ρ+1)
        out.append(vals @ vinv.T)
    if not out:
        return torch.zeros(0, C, order + 1, dtype=dtype, device=device)
    return torch.cat(out, 0)


def line2poly(E: Expansion, seg: Segments, o: torch.Tensor, r: torch.Tensor,
              chunk: int = CHUNK) -> torch.Tensor:
    """Univariate polynomial of every segment: monomial coefficients in τ ∈ [−1, 1].

    E: expansion with coeffs ``(B, C, n…, P)``; seg from ``traverse(o, r, E.n)`` with rays
    ``o, r`` of shape ``(B, R, d)``. Returns ``(B, C, R, S, ρ+1)``:
    ``f(o + t·r) = Σ_m out[..., m] τ^m`` on segment s, ``t = t_mid + τ·(t_out − t_in)/2``.
    Invalid segments get the polynomial of cell 0 (mask them with ``seg.valid``).
    Differentiable in E.coeffs, o and r.

    Example:
        >>> from quadfree.taylor import FC2T2
        >>> from quadfree.taylor.rays import traverse
        >>> E = FC2T2("1 + x**2 + y**2", levels=1, order=2, dim=2).expand(
        ...     torch.zeros(1, 1, 2, dtype=torch.float64), torch.ones(1, 1, 1, dtype=torch.float64))
        >>> o = torch.tensor([[[-2.0, 0.0]]], dtype=torch.float64)
        >>> r = torch.tensor([[[1.0, 0.0]]], dtype=torch.float64)
        >>> seg = traverse(o, r, E.n)
        >>> c = line2poly(E, seg, o, r)       # first cell: x = −0.75 + 0.25 τ → 1 + x²
        >>> [round(v, 6) for v in c[0, 0, 0, 0].tolist()]
        [1.5625, -0.375, 0.0625]
    """
    B, C = E.coeffs.shape[:2]
    d = E.dim
    R, S = seg.valid.shape[1:]
    a, b = segment_coordinates(seg, o.to(E.coeffs.dtype), r.to(E.coeffs.dtype))
    batch = torch.arange(B, device=a.device).repeat_interleave(R * S)
    poly = segment_polynomials(E, batch, flat_cells(seg.cell, seg.n).reshape(-1),
                               a.reshape(-1, d), b.reshape(-1, d), chunk)
    return poly.reshape(B, R, S, C, -1).permute(0, 3, 1, 2, 4)


def bernstein(poly: torch.Tensor) -> torch.Tensor:
    """Bernstein coefficients on τ ∈ [−1, 1] of monomial coefficients ``(..., ρ+1)``.

    A polynomial has no root in [−1, 1] when all its Bernstein coefficients share a strict
    sign (convex-hull property): the cheap exclusion test of the root finder.

    Example:
        >>> bernstein(torch.tensor([0.0, 1.0], dtype=torch.float64)).tolist()   # τ
        [-1.0, 1.0]
    """
    order = poly.shape[-1] - 1
    tau, _, binv = _nodes(order)
    V = torch.as_tensor(tau[:, None] ** np.arange(order + 1)[None, :], dtype=poly.dtype,
                        device=poly.device)
    M = torch.as_tensor(binv, dtype=poly.dtype, device=poly.device) @ V
    return poly @ M.T


def integrate_polynomials(poly: torch.Tensor) -> torch.Tensor:
    """``∫_{−1}^{1} Σ_m c_m τ^m dτ = Σ_{m even} 2·c_m/(m+1)`` for coefficients ``(..., ρ+1)``.

    Multiply by a segment's half-length for its integral in t. Returns ``(...)``.

    Example:
        >>> float(integrate_polynomials(torch.tensor([1.0, 5.0, 3.0])))     # 2 + 0 + 2
        4.0
    """
    m = torch.arange(poly.shape[-1], device=poly.device, dtype=poly.dtype)
    weights = torch.where(m % 2 == 0, 2.0 / (m + 1.0), torch.zeros_like(m))
    return poly @ weights
