"""Volume rendering through an FC²T² expansion (paper §6.1.2, §6.2.2): TeRF's layer.

Density and colour are channels of one expansion: ``σ(x) = g(f₀(x))`` and
``c(x) = s(f_{1..3}(x))`` with ``f = f(x; p, w)`` (C = 4 channels), ``g`` a non-negative map
(``"identity"`` — the published relu on w⁽¹⁾ keeps f₀ ≥ 0 up to the expansion's error —,
``"relu"`` = max(f, 0), or a sharp ``"softplus"`` = softplus(β f)/β) and ``s`` the colour map
(``"sigmoid"`` or ``"identity"``). Per ray the output is ``∫ T σ c dt + T_∞ c_bg`` with
``T(t) = exp(−∫ σ)``, the accumulated opacity ``1 − T_∞`` and the expected depth ``∫ T σ t dt``.

Forward (no network evaluation anywhere): the rays are traversed through the finest grid;
inside each crossed cell density and colour are univariate polynomials of the segment
parameter τ ∈ [−1, 1] (:mod:`~quadfree.taylor.line2poly`). exp(−polynomial) has no closed
form, so each segment is cut into J pieces by the J-point Gauss–Legendre rule: node τ_j
stands for a piece of length ``δ_j = half·gw_j`` (the pieces tile the segment in order — the
Gauss nodes interlace the partial sums of the weights), and the pieces are composited exactly
for piecewise-constant σ and c (``α = 1 − exp(−σδ)``, ``T`` from the running optical depth).
The polynomials are read at the nodes (ρ+1 multiply–adds per node and channel); the rule
converges to the continuous integral as J grows (second order in the piece length for smooth
fields; the accuracy at the default J is stated and tested in ``tests/taylor/test_volume.py``).

Empty space: with ``density="relu"`` a cell whose density polynomial is provably ≤ 0 (the
per-cell bound of :func:`~quadfree.taylor.roots.cell_ranges`) is skipped: σ = 0 there and so
is its gradient, so the skip is exact. Early termination: the density polynomials (one
channel) are read for every remaining crossed cell;
the colour polynomials (three channels) only for segments entered with transmittance above
``t_min``. Segments behind that point are dropped entirely (neither density nor colour), so
the forward is one well-defined function and the colour lost is at most ``t_min``.

View dependence (optional, paper §6.4.2 in its cheapest form): ``color_bias`` ``(B, R, 3)``
is added to every colour logit along ray (b, r), ``c = s(f_{1..3}(x) + β_r)``. It is the same
as shifting all colour weights w⁽²⁾ by one direction-dependent amount (a uniform weight u
gives f ≈ u), so no colour expansion per direction is needed; its gradient is the sum over
the ray's nodes of the case-1 colour weights ``∂L/∂c_k ⊙ s′`` the backward inserts anyway.

View-dependent colour weights (paper §6.4.2, exact low-rank form): with ``color_mix``
``(B, R, K)`` the expansion carries C = 4 + 3K channels — density, the colour weights w⁽²⁾
and K colour-weight directions ΔW_k — and ray (b, r) sees the colour weights
``w⁽²⁾(d) = w⁽²⁾ + Σ_k a_k ΔW_k`` with ``a = color_mix[b, r]``. Colour is linear in the
weights, so its logits are ``f_{1..3}(x) + Σ_k a_k f_{ΔW_k}(x)``: the K + 1 colour expansions
share the sources, one expansion of all channels serves every direction, and per ray only the
mixing coefficients differ. The backward inserts ``a_k ∂L/∂logit`` as the weights of channel
block k (the same node positions, so still one expansion, of C channels), and
``∂L/∂a_k = Σ_nodes ⟨∂L/∂logit, f_{ΔW_k}⟩`` per ray.

Backward (paper §6.2.2, cases 1, 2a, 2b and the background term) through expansions: with
``a_k = σ_k δ_k``, weights ``w_k = T_k(1 − e^{−a_k})`` and ``v_k = ⟨ȳ_rgb, c_k⟩ + ȳ_depth t_k +
ȳ_acc``,

    ``∂L/∂a_k = T_{k+1} v_k − Σ_{j>k} w_j v_j − T_∞ ⟨ȳ_rgb, c_bg⟩``   (cases 2a + 2b + background)
    ``∂L/∂c_k = w_k ȳ_rgb``                                            (case 1)

(the suffix sum is the paper's ``C − C_bwd`` running colour, computed by one reversed cumsum).
Every node x_k then becomes an ordinary source of ONE 4-channel expansion with weights
``ḡ_k = (∂L/∂a_k · δ_k · g′(f₀(x_k)), ∂L/∂c_k ⊙ s′)`` — what the paper's ``ray2M_h`` inserts,
written as weighted Gauss points as in the line-integral layer's ray2M — and
``w̄ = H(p)``, ``p̄ = Σ_c w_c ∇H_c(p)``. The backward therefore costs one expansion of as many
points as the forward read nodes, plus two reads at the sources: no autograd through per-node
tensors. Rays (o, r), near and far get no gradient.
"""

from __future__ import annotations

import math
from functools import cache
from typing import NamedTuple

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from quadfree.errors import QuadfreeError
from quadfree.taylor.expansion import FC2T2, Expansion
from quadfree.taylor.line2poly import flat_cells, gather_segments
from quadfree.taylor.multiindex import num_coefficients as basis_size
from quadfree.taylor.passes import basis_products
from quadfree.taylor.rays import batch_rays, traverse
from quadfree.taylor.roots import cell_ranges

CHUNK = 2048
DENSITY_MAPS = ("identity", "relu", "softplus")
COLOR_MAPS = ("sigmoid", "identity")


@cache
def _gauss_np(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(nodes)


def gauss_nodes(nodes: int, dtype: torch.dtype = torch.float64,
                device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss–Legendre nodes and weights on [−1, 1]: ``(J,)``, ``(J,)`` (weights sum to 2).

    Example:
        >>> tau, gw = gauss_nodes(2)
        >>> [round(v, 4) for v in tau.tolist()], gw.tolist()
        ([-0.5774, 0.5774], [1.0, 1.0])
    """
    if not isinstance(nodes, int) or nodes < 1:
        raise QuadfreeError(f"nodes={nodes!r}: must be an integer >= 1", param="nodes")
    x, w = _gauss_np(nodes)
    return (torch.as_tensor(x, dtype=dtype, device=device),
            torch.as_tensor(w, dtype=dtype, device=device))


def density_map(f: torch.Tensor, kind: str, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """σ = g(f) and g′(f) for a density map (see :data:`DENSITY_MAPS`). Shapes preserved.

    Example:
        >>> s, ds = density_map(torch.tensor([-1.0, 2.0]), "relu", 10.0)
        >>> s.tolist(), ds.tolist()
        ([0.0, 2.0], [0.0, 1.0])
    """
    if kind == "identity":
        return f, torch.ones_like(f)
    if kind == "relu":
        return f.clamp_min(0.0), (f > 0).to(f.dtype)
    if kind == "softplus":
        return torch.nn.functional.softplus(beta * f) / beta, torch.sigmoid(beta * f)
    raise QuadfreeError(f"density={kind!r}: choose from {DENSITY_MAPS}", param="density")


def color_map(f: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """c = s(f) and s′(f) for a colour map (see :data:`COLOR_MAPS`). Shapes preserved.

    Example:
        >>> c, dc = color_map(torch.zeros(1), "sigmoid")
        >>> c.tolist(), dc.tolist()
        ([0.5], [0.25])
    """
    if kind == "sigmoid":
        c = torch.sigmoid(f)
        return c, c * (1.0 - c)
    if kind == "identity":
        return f, torch.ones_like(f)
    raise QuadfreeError(f"color={kind!r}: choose from {COLOR_MAPS}", param="color")


class VolumeNodes(NamedTuple):
    """What the backward needs about the K·J read nodes of the active segments.

    Attributes (nodes of the active segments, row-major over (batch, ray, segment, node)):
        batch: ``(M,)`` batch index; x: ``(M, d)`` positions in [−1, 1]^d.
        mask: ``(B, R, S′, J)`` bool, where the nodes sit in the compact per-ray layout (each
    ray's read segments in order, padded to S′).
        dsig: ``(M,)`` ``δ_k · g′(f₀)``; dcol: ``(M, 3)`` ``s′(f_c)``.
        mix: ``(M, K + 1)`` the node's colour mixing coefficients ``(1, a_1 … a_K)`` and
    deltas ``(M, K, 3)`` the ΔW_k colour logits there (both ``None`` without ``color_mix``).
    Dense per-ray tensors ``(B, R, L)`` (L = S′·J, zero outside ``mask``): ``weights`` w_k,
    ``t_next`` T_{k+1}, ``t`` node distances; ``color`` ``(B, R, L, 3)``;
    ``t_inf`` ``(B, R)``.
    """

    batch: torch.Tensor
    x: torch.Tensor
    mask: torch.Tensor
    dsig: torch.Tensor
    dcol: torch.Tensor
    weights: torch.Tensor
    t_next: torch.Tensor
    t: torch.Tensor
    color: torch.Tensor
    t_inf: torch.Tensor
    mix: torch.Tensor | None = None
    deltas: torch.Tensor | None = None


class VolumeOutput(NamedTuple):
    """Per-ray results: ``rgb (B, R, 3)``, ``acc (B, R)``, ``depth (B, R)``, plus for work
    counts the numbers of crossed segments, of segments whose density was read (all but the
    provably empty cells with ``density="relu"``) and of segments whose colour was read
    (before termination)."""

    rgb: torch.Tensor
    acc: torch.Tensor
    depth: torch.Tensor
    segments: int
    density_segments: int
    active_segments: int


def _check_options(nodes: int, density: str, color: str, beta: float, t_min: float) -> None:
    if not isinstance(nodes, int) or nodes < 1:
        raise QuadfreeError(f"nodes={nodes!r}: must be an integer >= 1", param="nodes")
    if density not in DENSITY_MAPS:
        raise QuadfreeError(f"density={density!r}: choose from {DENSITY_MAPS}", param="density")
    if color not in COLOR_MAPS:
        raise QuadfreeError(f"color={color!r}: choose from {COLOR_MAPS}", param="color")
    if not beta > 0:
        raise QuadfreeError(f"beta={beta!r}: must be > 0", param="beta")
    if not 0.0 <= t_min < 1.0:
        raise QuadfreeError(f"t_min={t_min!r}: must be in [0, 1)", param="t_min")


def _background(background, like: torch.Tensor) -> torch.Tensor:
    bg = torch.as_tensor(background, dtype=like.dtype, device=like.device)
    if bg.dim() == 0:
        bg = bg.expand(3)
    if bg.shape != (3,):
        raise QuadfreeError(f"background: shape {tuple(bg.shape)}; expected a scalar or (3,)",
                            param="background")
    return bg


def node_basis(a: torch.Tensor, b: torch.Tensor, tau: torch.Tensor, order: int,
               chunk: int = CHUNK) -> torch.Tensor:
    """Cell basis ``E_k(u)`` at nodes τ_j of K segments, ``u(τ) = a + b·τ``: ``(K, J, P)``.

    a, b ``(K, d)`` from :func:`~quadfree.taylor.line2poly.gather_segments`, tau ``(J,)``.
    Differentiable in a and b.

    Example:
        >>> node_basis(torch.zeros(2, 3), torch.ones(2, 3), torch.tensor([-0.5, 0.5]), 4).shape
        torch.Size([2, 2, 35])
    """
    K, d = a.shape
    J = tau.shape[0]
    out = []
    for s in range(0, K, chunk):            # chunks keep the temporaries in cache
        u = (a[s: s + chunk, None, :] + b[s: s + chunk, None, :] * tau[:, None]).clamp(-1, 1)
        out.append(basis_products(u.reshape(-1, d), order).reshape(-1, J, basis_size(d, order)))
    if not out:
        return a.new_zeros(0, J, basis_size(d, order))
    return torch.cat(out, 0)


def read_nodes(rows: torch.Tensor, batch: torch.Tensor, cell: torch.Tensor,
               basis: torch.Tensor, chunk: int = CHUNK) -> torch.Tensor:
    """Cell polynomials read at the nodes of K segments: ``(K, C, J)``.

    rows ``(B, n^d, C, P)`` (an expansion's coefficients per flat cell), batch/cell ``(K,)``,
    basis ``(K, J, P)`` from :func:`node_basis`. Reading the cell polynomial at the J nodes
    is reading the segment's univariate polynomial (:func:`~quadfree.taylor.line2poly.line2poly`)
    there; one batched product skips the monomial coefficients. Differentiable in both.

    Example:
        >>> from quadfree.taylor import FC2T2
        >>> E = FC2T2("1 + x**2 + y**2", levels=1, order=2, dim=2).expand(
        ...     torch.zeros(1, 1, 2), torch.ones(1, 1, 1))
        >>> rows = E.coeffs.reshape(1, 1, -1, 6).permute(0, 2, 1, 3)
        >>> basis = node_basis(torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 0.0]]),
        ...                    torch.tensor([-1.0, 1.0]), 2)
        >>> v = read_nodes(rows, torch.tensor([0]), torch.tensor([0]), basis)
        >>> [round(x, 4) for x in v[0, 0].tolist()]       # at (−1, −0.75) and (−0.5, −0.75)
        [2.5625, 1.8125]
    """
    B, cells, C, P = rows.shape
    flat = rows.reshape(B * cells, C * P)
    idx = batch * cells + cell
    out = []
    for s in range(0, idx.shape[0], chunk):
        coef = flat.index_select(0, idx[s: s + chunk]).reshape(-1, C, P)            # (k, C, P)
        out.append(torch.bmm(coef, basis[s: s + chunk].transpose(1, 2)))           # (k, C, J)
    if not out:
        return rows.new_zeros(0, C, basis.shape[1])
    return torch.cat(out, 0)


def _render(E: Expansion, o: torch.Tensor, r: torch.Tensor, near, far, nodes: int,
            density: str, color: str, background, beta: float, t_min: float,
            skip_empty: bool = True, color_bias: torch.Tensor | None = None,
            need_nodes: bool = True, color_mix: torch.Tensor | None = None
            ) -> tuple[VolumeOutput, VolumeNodes | None]:
    """The forward pass on an expansion with C = 4 + 3K channels (K = ``color_mix``'s last
    size, 0 without it); rays already (B, R, d).

    Per-ray tensors use a compact layout ``(B, R, S′, J)``: each ray's read segments in
    order, padded to the longest such list (S′ ≤ the crossed-cell count S), so the
    compositing work follows the cells read, not the cells crossed. ``need_nodes=False``
    (inference) skips what only the backward needs and returns ``None`` for it.
    """
    B, C = E.coeffs.shape[:2]
    K = 0 if color_mix is None else color_mix.shape[-1]
    if C != 4 + 3 * K:
        raise QuadfreeError(f"expansion: {C} channels; volume rendering needs 4 + 3K = "
                            f"{4 + 3 * K} (density, r, g, b, then 3 per colour-mix "
                            f"coefficient; K = {K})", param="w")
    dtype, device = E.coeffs.dtype, E.coeffs.device
    R = o.shape[1]
    tau, gw = gauss_nodes(nodes, dtype, device)
    J = nodes
    seg = traverse(o, r, E.n, near, far)
    S = seg.valid.shape[-1]
    rows = E.coeffs.reshape(B, C, -1, E.coeffs.shape[-1]).permute(0, 2, 1, 3)  # (B, n^d, C, P)
    # 0. empty-space skipping, exact for max(f, 0): a cell whose density polynomial is ≤ 0
    #    everywhere (bound of roots.cell_ranges) has σ = 0 and g' = 0, so it is never read
    occupied = seg.valid
    if density == "relu" and skip_empty:
        hi = cell_ranges(E, 0)[1]                                                   # (B, n^d)
        cells = flat_cells(seg.cell, seg.n).reshape(B, -1)
        occupied = occupied & (hi.gather(1, cells).reshape(B, R, S) > 0)
    # 1. density at every node of every occupied crossed segment (one channel)
    sl = gather_segments(seg, occupied, o, r)                       # K segments, row-major
    basis = node_basis(sl.a, sl.b, tau, E.order)                                     # (K, J, P)
    f0 = read_nodes(rows[:, :, :1].contiguous(), sl.batch, sl.cell, basis)[:, 0]
    sigma, dsigma = density_map(f0, density, beta)                                     # (K, J)
    delta = sl.half[:, None] * gw                                                       # (K, J)
    # compact layout: slot of segment k = (ray, its rank among the ray's occupied segments)
    counts = occupied.sum(-1)                                                           # (B, R)
    Sp = max(int(counts.max()), 1) if counts.numel() else 1
    rank = (torch.cumsum(occupied, -1) - 1)[occupied]                                   # (K,)
    slot = (sl.batch * R + sl.ray) * Sp + rank                                          # (K,)
    a_c = torch.zeros(B * R * Sp, J, dtype=dtype, device=device)
    a_c.index_copy_(0, slot, sigma * delta)
    # 2. early termination: keep segments entered with transmittance above t_min
    seg_depth = a_c.sum(-1).reshape(B, R, Sp)
    entry = torch.exp(-(torch.cumsum(seg_depth, -1) - seg_depth))
    active = (torch.arange(Sp, device=device) < counts[..., None]) & (entry > t_min)  # (B,R,S′)
    active_flat = active.reshape(-1)
    keep_mask = active_flat.index_select(0, slot)                                       # (K,)
    all_kept = bool(keep_mask.all())
    keep = None if all_kept else keep_mask.nonzero().squeeze(1)

    def kept(t: torch.Tensor) -> torch.Tensor:
        return t if keep is None else t.index_select(0, keep)

    b2, r2, slot2 = kept(sl.batch), kept(sl.ray), kept(slot)
    mid2, half2 = kept(sl.mid), kept(sl.half)
    # 3. colour only where the ray still sees something
    fc = read_nodes(rows[:, :, 1:].contiguous(), b2, kept(sl.cell), kept(basis))
    mix = deltas = None
    if K:                                   # (K2, 3(K+1), J) → w⁽²⁾(d)'s logits (K2, 3, J)
        blocks = fc.reshape(fc.shape[0], K + 1, 3, J)
        mix = torch.cat([torch.ones_like(color_mix[..., :1]), color_mix], -1)[b2, r2]
        fc = (blocks * mix[:, :, None, None]).sum(1)
        deltas = blocks[:, 1:]                                                  # (K2, K, 3, J)
    if color_bias is not None:                              # per-ray view-dependent shift
        fc = fc + color_bias[b2, r2][:, :, None]
    col, dcol = color_map(fc.permute(0, 2, 1), color)                                # (K2, J, 3)
    # 4. composite the pieces in order along each ray
    a = (a_c if all_kept else a_c * active_flat[:, None].to(dtype)).reshape(B, R, Sp * J)
    depth_excl = torch.cumsum(a, -1) - a
    T = torch.exp(-depth_excl)
    alpha = -torch.expm1(-a)
    weights = T * alpha
    t_inf = torch.exp(-a.sum(-1))
    colors = torch.zeros(B * R * Sp, J, 3, dtype=dtype, device=device)
    colors.index_copy_(0, slot2, col)
    colors = colors.reshape(B, R, Sp * J, 3)
    t_node = mid2[:, None] + half2[:, None] * tau                                        # (K2, J)
    t_dense = torch.zeros(B * R * Sp, J, dtype=dtype, device=device)
    t_dense.index_copy_(0, slot2, t_node)
    t_dense = t_dense.reshape(B, R, Sp * J)
    bg = _background(background, a)
    rgb = (weights[..., None] * colors).sum(-2) + t_inf[..., None] * bg
    acc = weights.sum(-1)
    depth = (weights * t_dense).sum(-1)
    out = VolumeOutput(rgb=rgb, acc=acc, depth=depth, segments=int(seg.valid.sum()),
                       density_segments=int(sl.batch.shape[0]),
                       active_segments=int(b2.shape[0]))
    if not need_nodes:
        return out, None
    ob, rb = o[b2, r2], r[b2, r2]
    x = (ob[:, None, :] + t_node[..., None] * rb[:, None, :]).clamp(-1.0, 1.0)       # (K2, J, d)
    d = o.shape[-1]
    info = VolumeNodes(batch=b2[:, None].expand(-1, J).reshape(-1),
                       x=x.reshape(-1, d), mask=active[..., None].expand(B, R, Sp, J),
                       dsig=kept(delta * dsigma).reshape(-1), dcol=dcol.reshape(-1, 3),
                       weights=weights, t_next=T * torch.exp(-a), t=t_dense, color=colors,
                       t_inf=t_inf,
                       mix=None if mix is None else mix[:, None].expand(-1, J, -1)
                       .reshape(-1, K + 1),
                       deltas=None if deltas is None else deltas.permute(0, 3, 1, 2)
                       .reshape(-1, K, 3))
    return out, info


def volume_render(E: Expansion, o: torch.Tensor, r: torch.Tensor, near=0.0, far=math.inf, *,
                  nodes: int = 4, density: str = "relu", color: str = "sigmoid",
                  background: float | torch.Tensor = 1.0, beta: float = 10.0,
                  t_min: float = 1e-4, skip_empty: bool = True,
                  color_bias: torch.Tensor | None = None,
                  color_mix: torch.Tensor | None = None) -> VolumeOutput:
    """Render rays through a 4-channel expansion (density, r, g, b); see the module docstring.

    ``skip_empty`` (``density="relu"`` only) skips cells whose density is provably ≤ 0; the
    result is the same either way (it exists to test that). ``color_bias`` ``(B, R, 3)`` or
    ``(R, 3)`` (optional) is added to the colour logits of every node of a ray.
    ``color_mix`` ``(B, R, K)`` or ``(R, K)`` (optional): view-dependent colour weights
    ``w⁽²⁾ + Σ_k a_k ΔW_k`` per ray; E then has 4 + 3K channels (density, w⁽²⁾, ΔW_1 … ΔW_K).

    E: expansion ``(B, 4, n…, P)``; o, r: ``(R, d)`` or ``(B, R, d)`` (t in units of |r|);
    near, far: floats or ``(B, R)``. Only the part of a ray inside [−1, 1]^d sees the volume.
    Returns :class:`VolumeOutput` with ``rgb (B, R, 3)``, ``acc (B, R)``, ``depth (B, R)``.
    Differentiable in E.coeffs by autograd (use :func:`volume_render_layer` for the
    expansion backward in p and w).

    Example:
        >>> from quadfree.taylor import FC2T2
        >>> S = FC2T2("exp(-8*(x**2+y**2+z**2))", levels=1, order=2)
        >>> w = torch.tensor([[[20.0], [2.0], [-2.0], [-2.0]]])    # dense red blob
        >>> E = S.expand(torch.zeros(1, 1, 3), w)
        >>> o, r = torch.tensor([[0.0, 0.0, -3.0]]), torch.tensor([[0.0, 0.0, 1.0]])
        >>> out = volume_render(E, o, r)                 # opaque: stops before the centre (t=3)
        >>> out.rgb.shape, round(float(out.acc), 3), round(float(out.depth), 2)
        (torch.Size([1, 1, 3]), 1.0, 2.61)
    """
    _check_options(nodes, density, color, beta, t_min)
    o, r = batch_rays(o.to(E.coeffs.dtype), r.to(E.coeffs.dtype), E.coeffs.shape[0], E.dim)
    bias = _color_bias(color_bias, o)
    mix = _color_mix(color_mix, o)
    return _render(E, o, r, near, far, nodes, density, color, background, beta, t_min,
                   skip_empty, bias, need_nodes=False, color_mix=mix)[0]


def _color_bias(bias: torch.Tensor | None, o: torch.Tensor) -> torch.Tensor | None:
    """``None`` or the per-ray colour-logit shift as ``(B, R, 3)`` in o's dtype."""
    if bias is None:
        return None
    B, R = o.shape[:2]
    if not isinstance(bias, torch.Tensor) or bias.shape[-1] != 3 or bias.shape[-2] != R \
            or bias.dim() not in (2, 3):
        raise QuadfreeError(f"color_bias: expected a ({R}, 3) or ({B}, {R}, 3) tensor",
                            param="color_bias")
    return bias.to(o.dtype).expand(B, R, 3)


def _color_mix(mix: torch.Tensor | None, o: torch.Tensor) -> torch.Tensor | None:
    """``None`` or the per-ray colour mixing coefficients as ``(B, R, K)`` in o's dtype."""
    if mix is None:
        return None
    B, R = o.shape[:2]
    if not isinstance(mix, torch.Tensor) or mix.dim() not in (2, 3) or mix.shape[-2] != R \
            or mix.shape[-1] < 1 or (mix.dim() == 3 and mix.shape[0] not in (1, B)):
        raise QuadfreeError(f"color_mix: expected an ({R}, K) or ({B}, {R}, K) tensor, K >= 1",
                            param="color_mix")
    return mix.to(o.dtype).expand(B, R, mix.shape[-1])


def _pad_by_batch(batch: torch.Tensor, values: torch.Tensor, B: int) -> torch.Tensor:
    """Rows ``(M, …)`` grouped by ``batch (M,)`` → ``(B, max count, …)`` (zero padding)."""
    counts = torch.bincount(batch, minlength=B)
    width = int(counts.max()) if batch.numel() else 0
    start = torch.cumsum(counts, 0) - counts
    rank = torch.arange(batch.shape[0], device=batch.device) - start[batch]
    out = values.new_zeros(B, max(width, 1), *values.shape[1:])
    out[batch, rank] = values
    return out


class _VolumeRender(torch.autograd.Function):
    """(p, w) → (rgb, acc, depth) with the expansion backward of the module docstring."""

    @staticmethod
    def forward(ctx, p, w, o, r, S, near, far, nodes, density, color, background, beta, t_min,
                bias, mix):
        E = S.expand(p.detach(), w.detach())
        out, info = _render(E, o, r, near, far, nodes, density, color, background, beta,
                            t_min, color_bias=None if bias is None else bias.detach(),
                            color_mix=None if mix is None else mix.detach())
        ctx.S, ctx.info = S, info
        ctx.bg = _background(background, out.rgb)
        ctx.save_for_backward(p, w)
        ctx.work = (out.segments, out.active_segments)
        return out.rgb, out.acc, out.depth

    @staticmethod
    @once_differentiable
    def backward(ctx, rgb_bar, acc_bar, depth_bar):
        p, w = ctx.saved_tensors
        info: VolumeNodes = ctx.info
        S: FC2T2 = ctx.S
        B, R, L = info.weights.shape
        rgb_bar = torch.zeros(B, R, 3, dtype=p.dtype, device=p.device) if rgb_bar is None \
            else rgb_bar
        acc_bar = torch.zeros(B, R, dtype=p.dtype, device=p.device) if acc_bar is None \
            else acc_bar
        depth_bar = torch.zeros(B, R, dtype=p.dtype, device=p.device) if depth_bar is None \
            else depth_bar
        v = ((info.color * rgb_bar[:, :, None, :]).sum(-1) + depth_bar[..., None] * info.t
             + acc_bar[..., None])                                                 # (B, R, L)
        wv = info.weights * v
        suffix = wv.flip(-1).cumsum(-1).flip(-1) - wv                               # Σ_{j>k}
        bg_term = (rgb_bar * ctx.bg).sum(-1)                                        # (B, R)
        da = info.t_next * v - suffix - (info.t_inf * bg_term)[..., None]          # (B, R, L)
        mask = info.mask.reshape(B, R, L)
        g_sigma = da[mask] * info.dsig                                              # (M,)
        g_col = (info.weights[..., None] * rgb_bar[:, :, None, :])[mask] * info.dcol  # (M, 3)
        p_bar = w_bar = bias_bar = mix_bar = None
        if ctx.needs_input_grad[13]:          # ∂L/∂β_r: the ray's case-1 colour weights
            dense = g_col.new_zeros(B, R, L, 3)   # (∂L/∂logit before the mix: β shifts the
            dense[mask] = g_col                   # mixed logits)
            bias_bar = dense.sum(2)
        if info.mix is not None:              # channel block k carries a_k ∂L/∂logit
            if ctx.needs_input_grad[14]:      # ∂L/∂a_k: Σ over the ray's nodes ⟨∂L/∂logit, ΔW_k⟩
                per_node = (g_col[:, None, :] * info.deltas).sum(-1)                 # (M, K)
                dense = per_node.new_zeros(B, R, L, per_node.shape[1])
                dense[mask] = per_node
                mix_bar = dense.sum(2)
            g_col = (g_col[:, None, :] * info.mix[:, :, None]).reshape(g_col.shape[0], -1)
        g = torch.cat([g_sigma[:, None], g_col], 1)                                 # (M, C)
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            pts = _pad_by_batch(info.batch, info.x, B)                              # (B, M', d)
            wts = _pad_by_batch(info.batch, g, B).permute(0, 2, 1)                  # (B, 4, M')
            H = S.expand(pts, wts)
            w_bar = H.evaluate(p)                                                   # (B, C, N)
            if ctx.needs_input_grad[0]:
                p_bar = (w[..., None] * H.gradient(p)).sum(1)                       # (B, N, d)
        return (p_bar, w_bar) + (None,) * 11 + (bias_bar, mix_bar)


def volume_render_layer(S: FC2T2, p: torch.Tensor, w: torch.Tensor, o: torch.Tensor,
                        r: torch.Tensor, near=0.0, far=math.inf, *, nodes: int = 4,
                        density: str = "relu", color: str = "sigmoid",
                        background: float | torch.Tensor = 1.0, beta: float = 10.0,
                        t_min: float = 1e-4, color_bias: torch.Tensor | None = None,
                        color_mix: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """TeRF's layer: render rays through ``f(x; p, w)``, differentiable in p and w.

    Shapes: p ``(B, N, d)`` in [−1, 1]^d, w ``(B, 4, N)`` (channel 0 density, 1–3 colour),
    o, r ``(R, d)`` or ``(B, R, d)``, near/far floats or ``(B, R)`` (constants). Returns
    ``{"rgb": (B, R, 3), "acc": (B, R), "depth": (B, R)}``. Forward as :func:`volume_render`;
    backward: one 4-channel expansion of the read nodes, read at p (module docstring).
    For the published non-negativity pass ``relu(w)`` in channel 0 and ``density="identity"``.
    ``color_bias`` ``(R, 3)`` or ``(B, R, 3)`` (optional, differentiable): a per-ray shift of
    the colour logits (view-dependent colour, module docstring). ``color_mix`` ``(R, K)`` or
    ``(B, R, K)`` (optional, differentiable): per-ray colour weights ``w⁽²⁾ + Σ_k a_k ΔW_k``;
    w is then ``(B, 4 + 3K, N)`` (density, w⁽²⁾, ΔW_1 … ΔW_K; module docstring).

    Example:
        >>> from quadfree.taylor import FC2T2
        >>> S = FC2T2("exp(-8*(x**2+y**2+z**2))", levels=1, order=2)
        >>> w = torch.tensor([[[20.0], [2.0], [-2.0], [-2.0]]], requires_grad=True)
        >>> o, r = torch.tensor([[0.0, 0.0, -3.0]]), torch.tensor([[0.0, 0.0, 1.0]])
        >>> out = volume_render_layer(S, torch.zeros(1, 1, 3), w, o, r)
        >>> out["rgb"][..., 0].sum().backward(); w.grad.shape
        torch.Size([1, 4, 1])
    """
    if not isinstance(S, FC2T2):
        raise QuadfreeError(f"S: expected an FC2T2, got {type(S).__name__}", param="S")
    if not isinstance(p, torch.Tensor) or p.dim() != 3 or p.shape[-1] != S.dim:
        raise QuadfreeError(f"sources p: expected a (B, N, {S.dim}) tensor", param="p")
    K = int(color_mix.shape[-1]) if isinstance(color_mix, torch.Tensor) and color_mix.dim() \
        else 0
    if not isinstance(w, torch.Tensor) or w.dim() != 3 or w.shape[1] != 4 + 3 * K:
        raise QuadfreeError(f"weights w: expected a (B, {4 + 3 * K}, N) tensor (density, "
                            "r, g, b" + (f", then {K} colour-weight directions" if K else "")
                            + ")", param="w")
    _check_options(nodes, density, color, beta, t_min)
    o, r = batch_rays(o.to(p.dtype), r.to(p.dtype), p.shape[0], S.dim)
    bias = _color_bias(color_bias, o)
    mix = _color_mix(color_mix, o)
    rgb, acc, depth = _VolumeRender.apply(p, w.to(p.dtype), o.detach(), r.detach(), S, near,
                                          far, nodes, density, color, background, beta, t_min,
                                          bias, mix)
    return {"rgb": rgb, "acc": acc, "depth": depth}
