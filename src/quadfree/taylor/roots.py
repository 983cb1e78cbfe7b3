"""The root-implicit layer (paper §5): first root of ``f(o + t·r) − level`` per ray, depth and
surface gradient, trained through the implicit function theorem.

Forward (no L2P): traverse the grid (:mod:`~quadfree.taylor.rays`), turn every crossed cell
into a univariate polynomial (:mod:`~quadfree.taylor.line2poly`), drop the cells whose
Bernstein coefficients share a sign (no root there), and solve the rest exactly: the real
sign changes of a degree-ρ polynomial on [−1, 1] are found by recursion on its derivative
(the derivative's sign changes split [−1, 1] into monotone pieces; each piece holds at most
one root, found by bisection to full precision). The first root along the ray wins. A root of
even multiplicity (the ray only touches the level set) is not a sign change and is not
reported; a ray that starts inside (``f > level`` at ``near``) reports where it leaves.

Backward (§5.2): with ``q = o + t·r``, ``∇f_q`` and the Hessian ``H_q`` of the forward
expansion, and incoming ``t̄`` (depth) and ``ḡ`` (surface gradient),

    ȳ̄ = −(t̄ + ⟨r, H_q ḡ⟩) / ⟨r, ∇f_q⟩

and ONE expansion of sources ``q`` with weights ``[ȳ̄, ḡ_1, …, ḡ_d]`` (just ``ȳ̄`` when only
the depth is used), read at the sources p, gives (φ symmetric, so ∇φ is odd and its Hessian
even):

    w̄ = G(p) − Σ_i ∂_i F_i(p),        p̄ = w ⊙ (∇G(p) − Σ_i ∇∂_i F_i(p)),

where G is the ȳ̄ channel and F_i the ḡ_i channels. The paper's two expansions (projection
and gradient) are the channels of this one (``normal_backward="exact"``); by default the
dipole term ``Σ_i ∂_i F_i`` enters the ȳ̄ channel as pairs of nearby monopoles instead,
so the backward is one single-channel expansion whatever is differentiated (see
:func:`first_root`). Ray origins and directions get exact gradients
of the forward (piecewise-polynomial) function: ``ō = H_q ḡ + ȳ̄ ∇f_q``, ``r̄ = t·ō``.
Rays without a root contribute nothing.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch.autograd.function import once_differentiable

from quadfree.errors import QuadfreeError
from quadfree.taylor.expansion import FC2T2, Expansion, second_derivative_orders
from quadfree.taylor.line2poly import bernstein, flat_cells, gather_segments, segment_polynomials
from quadfree.taylor.multiindex import multi_indices
from quadfree.taylor.rays import batch_rays, traverse


def _horner(c: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Σ_m c[..., m] x^m with c ``(K, k+1)`` and x ``(K, J)`` → ``(K, J)``."""
    out = c[:, -1:].expand_as(x)
    for m in range(c.shape[1] - 2, -1, -1):
        out = out * x + c[:, m: m + 1]
    return out


def _bisect_iterations(dtype: torch.dtype) -> int:
    return 56 if dtype == torch.float64 else 26


def crossings(c: torch.Tensor) -> torch.Tensor:
    """All sign changes in [−1, 1] of polynomials with monomial coefficients ``(K, k+1)``.

    Returns ``(K, k)`` roots in increasing order, padded with ``+inf``. Exact up to the
    bisection's round-off; roots of even multiplicity (no sign change) are not reported.

    Example:
        >>> crossings(torch.tensor([[-0.25, 0.0, 1.0]], dtype=torch.float64)).tolist()
        [[-0.5, 0.5]]
    """
    K, k = c.shape[0], c.shape[1] - 1
    inf = torch.full((K, max(k, 1)), math.inf, dtype=c.dtype, device=c.device)
    if k == 0:
        return inf[:, :0]
    if k == 1:
        ok = c[:, 1] != 0
        root = -c[:, 0] / torch.where(ok, c[:, 1], torch.ones_like(c[:, 1]))
        ok = ok & (root >= -1.0) & (root <= 1.0)
        return torch.where(ok, root, inf[:, 0])[:, None]
    deriv = c[:, 1:] * torch.arange(1, k + 1, dtype=c.dtype, device=c.device)
    crit = crossings(deriv).clamp(max=1.0)                              # (K, k−1)
    ends = torch.ones(K, 1, dtype=c.dtype, device=c.device)
    knots = torch.cat([-ends, crit, ends], 1)                           # (K, k+1) sorted
    lo, hi = knots[:, :-1], knots[:, 1:]
    g = _horner(c, knots)
    neg = g < 0
    has = (neg[:, :-1] != neg[:, 1:]) & (hi > lo)
    lo_neg = neg[:, :-1]
    for _ in range(_bisect_iterations(c.dtype)):
        mid = 0.5 * (lo + hi)
        mneg = _horner(c, mid) < 0
        left = mneg != lo_neg                       # the sign change is in [lo, mid]
        hi = torch.where(left, mid, hi)
        lo = torch.where(left, lo, mid)
    root = torch.where(has, 0.5 * (lo + hi), inf[:, :k])
    return torch.sort(root, dim=1).values


class RootHits(NamedTuple):
    """First roots along rays.

    Attributes:
        t: ``(B, R)`` ray parameter of the first root (0 where there is none).
        hit: ``(B, R)`` bool, whether the ray has a root in [near, far] inside the domain.
        q: ``(B, R, d)`` root positions ``o + t·r`` (0 where there is none).
    """

    t: torch.Tensor
    hit: torch.Tensor
    q: torch.Tensor


def cell_ranges(E: Expansion, channel: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Bounds ``lo ≤ f ≤ hi`` of each cell's polynomial over the whole cell: ``(B, n^d)`` each.

    ``|E_k(u)| ≤ Π_i sqrt((2k_i + 1)/2)`` on [−1, 1]^d, so the constant term ± the weighted
    sum of the other coefficients' magnitudes bounds the cell. Cells whose range excludes
    the level hold no root and are skipped before any ray polynomial is built.

    Example:
        >>> S = FC2T2("1 + x**2 + y**2", levels=1, order=2, dim=2)
        >>> lo, hi = cell_ranges(S.expand(torch.zeros(1, 1, 2), torch.ones(1, 1, 1)))
        >>> round(float(lo[0, 0]), 3), round(float(hi[0, 0]), 3)   # cell [−1, −0.5]²: f ∈ [1.5, 3]
        (1.333, 3.0)
    """
    B, P = E.coeffs.shape[0], E.coeffs.shape[-1]
    coef = E.coeffs[:, channel].reshape(B, -1, P)
    idx = torch.tensor(multi_indices(E.dim, E.order), dtype=coef.dtype, device=coef.device)
    bound = torch.sqrt((2 * idx + 1) / 2).prod(-1)                       # (P,)
    centre = coef[..., 0] * bound[0]
    spread = (coef[..., 1:].abs() * bound[1:]).sum(-1)
    return centre - spread, centre + spread


RAY_CHUNK = 1 << 14


def _first_root_chunk(E: Expansion, lo: torch.Tensor, hi: torch.Tensor, o: torch.Tensor,
                      r: torch.Tensor, level: float, near: torch.Tensor, far: torch.Tensor
                      ) -> torch.Tensor:
    """First root t ``(B, R)`` (+inf where none) for one chunk of rays; see find_first_root."""
    B = o.shape[0]
    seg = traverse(o, r, E.n, near, far)
    cells = flat_cells(seg.cell, seg.n)                                  # (B, R, S)
    bi = torch.arange(B, device=cells.device)[:, None, None].expand_as(cells)
    maybe = seg.valid & (lo[bi, cells] <= level) & (hi[bi, cells] >= level)
    t_root = torch.full(seg.valid.shape, math.inf, dtype=E.coeffs.dtype, device=o.device)
    if maybe.any():
        sl = gather_segments(seg, maybe, o, r)
        poly = segment_polynomials(E, sl.batch, sl.cell, sl.a, sl.b)[:, 0]   # (K, ρ+1)
        poly[:, 0] -= level
        bern = bernstein(poly)
        keep = ~((bern > 0).all(-1) | (bern < 0).all(-1))
        tau = torch.full_like(sl.mid, math.inf)
        if keep.any():
            tau[keep] = crossings(poly[keep])[:, 0]                      # first per segment
        t_root[maybe] = torch.where(torch.isfinite(tau), sl.mid + tau * sl.half, tau)
    return t_root.min(-1).values


@torch.no_grad()
def find_first_root(E: Expansion, o: torch.Tensor, r: torch.Tensor, level: float = 0.0,
                    near=0.0, far=math.inf, channel: int = 0, chunk: int = RAY_CHUNK
                    ) -> RootHits:
    """First sign change of ``f(o + t·r) − level`` for t in [near, far] (no gradients).

    E: expansion ``(B, C, n…, P)``; o, r: ``(R, d)`` or ``(B, R, d)``; near, far: floats or
    ``(B, R)``. Only the part of each ray inside [−1, 1]^d is searched. Three filters keep
    the work on the few cells near the level set: the cell's range (:func:`cell_ranges`),
    the segment polynomial's Bernstein coefficients, then exact :func:`crossings`. Rays
    are processed ``chunk`` at a time to bound memory.

    Example:
        >>> S = FC2T2("exp(-10*(x**2+y**2+z**2))", levels=2, order=4)
        >>> E = S.expand(torch.zeros(1, 1, 3, dtype=torch.float64),
        ...              torch.ones(1, 1, 1, dtype=torch.float64))
        >>> o = torch.tensor([[-1.0, 0.0, 0.0]], dtype=torch.float64)
        >>> r = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
        >>> hits = find_first_root(E, o, r, level=math.exp(-2.5))   # |x| = 0.5
        >>> bool(hits.hit[0, 0]), round(float(hits.t[0, 0]), 2)
        (True, 0.5)
    """
    B, C = E.coeffs.shape[:2]
    d = E.dim
    if not 0 <= channel < C:
        raise QuadfreeError(f"channel={channel}: the expansion has {C} channel(s)")
    o, r = batch_rays(o.to(E.coeffs.dtype), r.to(E.coeffs.dtype), B, d)
    R = o.shape[1]
    near_t = torch.as_tensor(near, dtype=o.dtype, device=o.device)
    far_t = torch.as_tensor(far, dtype=o.dtype, device=o.device)
    try:
        near_t, far_t = near_t.expand(B, R), far_t.expand(B, R)
    except RuntimeError:
        raise QuadfreeError(f"near/far: shapes {tuple(near_t.shape)}, {tuple(far_t.shape)} "
                            f"do not broadcast to the rays' ({B}, {R})") from None
    lo, hi = cell_ranges(E, channel)
    sub = Expansion(coeffs=E.coeffs[:, channel: channel + 1], order=E.order, clamp=E.clamp)
    t = torch.cat([_first_root_chunk(sub, lo, hi, o[:, s: s + chunk], r[:, s: s + chunk],
                                     level, near_t[:, s: s + chunk], far_t[:, s: s + chunk])
                   for s in range(0, R, chunk)], 1) if R else o.new_zeros(B, 0)
    hit = torch.isfinite(t)
    t = torch.where(hit, t, torch.zeros_like(t))
    q = torch.where(hit[..., None], (o + t[..., None] * r).clamp(-1.0, 1.0), torch.zeros_like(o))
    return RootHits(t=t, hit=hit, q=q)


def _full_hessian(h: torch.Tensor, d: int) -> torch.Tensor:
    """Upper-triangle second derivatives ``(..., d(d+1)/2)`` → symmetric ``(..., d, d)``."""
    out = h.new_zeros(h.shape[:-1] + (d, d))
    k = 0
    for i in range(d):
        for j in range(i, d):
            out[..., i, j] = h[..., k]
            out[..., j, i] = h[..., k]
            k += 1
    assert k == len(second_derivative_orders(d))
    return out


DIPOLE_STEP = 1e-2      # dipole half-separation, in cell widths (normal_backward="dipole")


def _source_gradients(S: FC2T2, p: torch.Tensor, q: torch.Tensor, ybb: torch.Tensor,
                      g_bar: torch.Tensor | None, hit: torch.Tensor, mode: str
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """w̄ ``(B, 1, N)`` and ``p̄ / w`` ``(B, N, d)`` from one expansion of the roots q.

    ``H(x) = Σ_m φ(x − q_m) ȳ̄_m − Σ_m ⟨∇φ(x − q_m), ḡ_m⟩``; ``w̄ = H(p)``, ``p̄ = w ∇H(p)``.
    mode "exact": channels ``[ȳ̄, ḡ_1..ḡ_d]``, the dipole term read as ``Σ_i ∂_i F_i`` (and
    its gradient from the Hessian). mode "dipole": one channel; each dipole becomes two
    monopoles ``∓|ḡ|/(2δ)`` at ``q ∓ δ ĝ`` (central difference, relative error ~ (δ/σ)²
    for a kernel of width σ, δ = DIPOLE_STEP cell widths).
    """
    d = p.shape[-1]
    if g_bar is None:
        E2 = S.expand(q, ybb[:, None, :])
        return E2.evaluate(p), E2.gradient(p)[:, 0]
    if mode == "dipole":
        delta = DIPOLE_STEP * 2.0 / S.n
        norm = g_bar.norm(dim=-1)
        unit = g_bar / torch.where(norm > 0, norm, torch.ones_like(norm))[..., None]
        centre = q.clamp(-1.0 + delta, 1.0 - delta)
        pts = torch.cat([q, centre - delta * unit, centre + delta * unit], 1)
        half = torch.where(hit, norm / (2 * delta), torch.zeros_like(norm))
        E2 = S.expand(pts, torch.cat([ybb, -half, half], 1)[:, None, :])
        return E2.evaluate(p), E2.gradient(p)[:, 0]
    E2 = S.expand(q, torch.cat([ybb[:, None, :], g_bar.transpose(1, 2)], 1))   # (B, 1+d, ·)
    G = E2.evaluate(p)                                                       # (B, 1+d, N)
    dG = E2.gradient(p)                                                      # (B, 1+d, N, d)
    w_bar = G[:, :1] - sum(dG[:, 1 + i, :, i] for i in range(d))[:, None]
    F = Expansion(coeffs=E2.coeffs[:, 1:], order=E2.order, clamp=E2.clamp)
    HF = _full_hessian(F.hessian(p), d)                                      # (B, d, N, d, d)
    return w_bar, dG[:, 0] - sum(HF[:, i, :, :, i] for i in range(d))


class _FirstRoot(torch.autograd.Function):
    """(p, w, o, r) → (t, ∇f(q), hit) with the implicit-function-theorem backward."""

    @staticmethod
    def forward(ctx, p, w, o, r, S, level, near, far, normal_backward):
        E = S.expand(p.detach(), w.detach())
        hits = find_first_root(E, o.detach(), r.detach(), level, near, far)
        grad = E.gradient(hits.q)[:, 0]                                   # (B, R, d)
        grad = torch.where(hits.hit[..., None], grad, torch.zeros_like(grad))
        ctx.S, ctx.normal_backward = S, normal_backward
        ctx.save_for_backward(p, w, r, E.coeffs, hits.t, hits.q, hits.hit, grad)
        ctx.mark_non_differentiable(hits.hit)
        ctx.set_materialize_grads(False)
        return hits.t, grad, hits.hit

    @staticmethod
    @once_differentiable
    def backward(ctx, t_bar, g_bar, _hit_bar):
        p, w, r, coeffs, t, q, hit, grad = ctx.saved_tensors
        S: FC2T2 = ctx.S
        d = p.shape[-1]
        E = Expansion(coeffs=coeffs, order=S.order, clamp=S.clamp)
        denom = (r * grad).sum(-1)
        denom = torch.where(hit, denom, torch.ones_like(denom))
        num = torch.zeros_like(t) if t_bar is None else t_bar
        o_bar = torch.zeros_like(q)
        if g_bar is not None:
            g_bar = torch.where(hit[..., None], g_bar, torch.zeros_like(g_bar))
            H = _full_hessian(E.hessian(q)[:, 0], d)                          # (B, R, d, d)
            Hg = (H @ g_bar[..., None])[..., 0]
            num = num + (r * Hg).sum(-1)
            o_bar = Hg
        ybb = torch.where(hit, -num / denom, torch.zeros_like(num))
        o_bar = o_bar + ybb[..., None] * grad
        r_bar = t[..., None] * o_bar
        p_bar = w_bar = None
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            w_bar, p_dir = _source_gradients(S, p, q, ybb, g_bar, hit, ctx.normal_backward)
            p_bar = w[:, 0, :, None] * p_dir
        return p_bar, w_bar, o_bar, r_bar, None, None, None, None, None


class SurfaceHits(NamedTuple):
    """Output of :func:`first_root`.

    Attributes:
        t: ``(B, R)`` depth (ray parameter of the first root; 0 where none).
        gradient: ``(B, R, d)`` surface gradient ∇f at the root (0 where none); normals are
            ``gradient / |gradient|``.
        hit: ``(B, R)`` bool mask of the rays with a root.
    """

    t: torch.Tensor
    gradient: torch.Tensor
    hit: torch.Tensor


def first_root(S: FC2T2, p: torch.Tensor, w: torch.Tensor, o: torch.Tensor, r: torch.Tensor,
               level: float = 0.0, near=0.0, far=math.inf, normal_backward: str = "dipole"
               ) -> SurfaceHits:
    """Depth and surface gradient at the first root of ``f(o + t·r; p, w) − level``.

    ``f(x) = Σ_n φ(x − p_n) w_n`` through the FC²T² expansion ``S``. Shapes: p ``(B, N, d)``,
    w ``(B, 1, N)`` (one channel: the implicit function), o, r ``(R, d)`` or ``(B, R, d)``
    (r need not be unit length: t is in units of |r|), near/far floats or ``(B, R)``.
    Differentiable in p, w, o and r (depth: paper §5.2.1; gradient: §5.2.2); near, far and
    level are constants (pick a level the field crosses cleanly: with ``level = 0`` a
    field that decays to ~0 away from its sources has round-off roots there; the paper adds
    a bias). Rays without a root have ``hit = False``, ``t = 0``, gradient 0
    and receive no gradient.

    The backward pass costs one expansion of the roots: one channel for the depth alone; for
    the surface gradient, ``normal_backward="dipole"`` (default) keeps one channel by
    writing each dipole ``⟨∇φ(x − q), ḡ⟩`` as two nearby monopoles (a central difference at
    1/100 of a cell: relative error ~1e-4 for kernels about a cell wide, below the
    expansion's own error, and it reads only first derivatives at p), while ``"exact"`` uses
    1 + d channels (the paper's projection and gradient expansions) and reads Hessians at p:
    exact for the expansion, about (1 + d)× the cost. Roots within 1/100 of a cell of the
    domain boundary get their dipole shifted inwards by at most that distance. Gradients
    near grazing rays (``⟨r, ∇f⟩ → 0``) grow like ``1/⟨r, ∇f⟩``, as the implicit function
    theorem says.

    Example:
        >>> S = FC2T2("exp(-10*(x**2+y**2+z**2))", levels=2, order=4)
        >>> p = torch.zeros(1, 1, 3, dtype=torch.float64)
        >>> w = torch.ones(1, 1, 1, dtype=torch.float64, requires_grad=True)
        >>> o = torch.tensor([[-1.0, 0.0, 0.0]], dtype=torch.float64)
        >>> r = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
        >>> out = first_root(S, p, w, o, r, level=math.exp(-2.5))
        >>> out.t.shape, out.gradient.shape, out.hit.tolist()
        (torch.Size([1, 1]), torch.Size([1, 1, 3]), [[True]])
        >>> out.t.sum().backward()           # heavier weight → surface moves out
        >>> bool(w.grad[0, 0, 0] < 0)
        True
    """
    if not isinstance(S, FC2T2):
        raise QuadfreeError(f"S: expected an FC2T2, got {type(S).__name__}")
    if not isinstance(p, torch.Tensor) or p.dim() != 3:
        raise QuadfreeError(f"sources p: expected a (B, N, {S.dim}) tensor")
    if not isinstance(w, torch.Tensor) or w.dim() != 3 or w.shape[1] != 1:
        shape = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
        raise QuadfreeError(f"weights w: shape {shape} must be (B, 1, N): the root layer "
                            "reads one implicit function")
    try:
        level = float(level)
    except (TypeError, ValueError):
        raise QuadfreeError(f"level={level!r}: expected a number") from None
    if not math.isfinite(level):
        raise QuadfreeError(f"level={level}: must be finite")
    o, r = batch_rays(o.to(p.dtype), r.to(p.dtype), p.shape[0], S.dim)
    if normal_backward not in ("exact", "dipole"):
        raise QuadfreeError(f"normal_backward={normal_backward!r}: choose exact or dipole")
    t, grad, hit = _FirstRoot.apply(p, w.to(p.dtype), o, r, S, level, near, far,
                                    normal_backward)
    return SurfaceHits(t=t, gradient=grad, hit=hit)


def depth(S: FC2T2, p: torch.Tensor, w: torch.Tensor, o: torch.Tensor, r: torch.Tensor,
          level: float = 0.0, near=0.0, far=math.inf) -> tuple[torch.Tensor, torch.Tensor]:
    """The depth layer: ``(t (B, R), hit (B, R))``; see :func:`first_root`. Its backward
    costs one single-channel expansion.

    Example:
        >>> S = FC2T2("exp(-10*(x**2+y**2+z**2))", levels=2, order=4)
        >>> t, hit = depth(S, torch.zeros(1, 1, 3), torch.ones(1, 1, 1),
        ...                torch.tensor([[0.0, 0.0, -1.0]]), torch.tensor([[0.0, 0.0, 1.0]]),
        ...                level=math.exp(-2.5))
        >>> round(float(t[0, 0]), 2)
        0.5
    """
    out = first_root(S, p, w, o, r, level, near, far)
    return out.t, out.hit


def surface_gradient(S: FC2T2, p: torch.Tensor, w: torch.Tensor, o: torch.Tensor,
                     r: torch.Tensor, level: float = 0.0, near=0.0, far=math.inf,
                     normal_backward: str = "dipole") -> tuple[torch.Tensor, torch.Tensor]:
    """The surface-gradient layer: ``(∇f at the root (B, R, d), hit (B, R))``; see
    :func:`first_root`. Normalise for normals.

    Example:
        >>> S = FC2T2("exp(-10*(x**2+y**2+z**2))", levels=2, order=4)
        >>> g, hit = surface_gradient(S, torch.zeros(1, 1, 3), torch.ones(1, 1, 1),
        ...                           torch.tensor([[0.0, 0.0, -1.0]]),
        ...                           torch.tensor([[0.0, 0.0, 1.0]]), level=math.exp(-2.5))
        >>> n = g / g.norm(dim=-1, keepdim=True)
        >>> bool(n[0, 0, 2] > 0.99)         # ∇f points into the blob, along +z
        True
    """
    out = first_root(S, p, w, o, r, level, near, far, normal_backward)
    return out.gradient, out.hit
