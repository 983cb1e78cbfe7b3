"""The FC²T² passes on grids of cell expansions: P2M, M2M, M2L (separable / general), L2L.

Two layouts are used.

* *Cell layout* ``(B, C, n, …, n, P)``: per cell the P storage-order coefficients (public).
* *Axis-grouped dense layout* (internal, "AG"): a contiguous tensor whose dims are
  ``(n, a)`` per axis followed by ``R = B·C``, i.e. ``(n, a, n, a, n, a, R)`` in 3-D with
  ``a = ρ + 1`` dense degree slots per axis (slots of total degree > ρ hold zeros). A cell
  index ``2X + π`` makes ``(n, a)`` the pair view ``(n/2, 2a)`` by a plain reshape, so every
  per-axis operator (M2M, L2L, the 3-tap separable M2L) is one batched matmul on the leading
  axis group; the group is then rotated to the back (one transpose copy) and the next axis
  comes to the front. No Python loop runs over cells.
"""

from __future__ import annotations

from math import sqrt

import torch
import torch.nn.functional as F

from quadfree.taylor.legendre import basis_torch
from quadfree.taylor.multiindex import dense_mask, multi_indices


def locate(x: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cell index per axis and local coordinate ``u ∈ [−1, 1]`` of points in [−1, 1]^d.

    Shapes: x ``(..., d)`` → index ``(..., d)`` int64, u ``(..., d)`` (differentiable in x).

    Example:
        >>> i, u = locate(torch.tensor([[-1.0, 0.1]]), 4)
        >>> i.tolist(), [round(v, 3) for v in u[0].tolist()]
        ([[0, 2]], [-1.0, -0.6])
    """
    s = (x + 1.0) * (n / 2.0)
    cell = s.detach().floor().clamp_(0, n - 1)
    u = 2.0 * (s - cell) - 1.0
    return cell.long(), u


def flat_index(idx: torch.Tensor, n: int) -> torch.Tensor:
    """Row-major flat cell index from per-axis indices ``(..., d)`` → ``(...)``.

    Example:
        >>> flat_index(torch.tensor([[1, 2, 3]]), 4).tolist()
        [27]
    """
    out = idx[..., 0]
    for ax in range(1, idx.shape[-1]):
        out = out * n + idx[..., ax]
    return out


def _legendre_values(t: torch.Tensor, order: int) -> torch.Tensor:
    """Orthonormal ``e_0..e_ρ`` at ``t`` by the three-term recurrence: ``(K,)`` → ``(K, a)``."""
    vals = [torch.ones_like(t), t]
    for k in range(1, order):
        vals.append(((2 * k + 1) * t * vals[k] - k * vals[k - 1]) / (k + 1))
    vals = vals[: order + 1]
    return torch.stack([v * sqrt((2 * k + 1) / 2) for k, v in enumerate(vals)], dim=-1)


def _pair_indices(dim: int, order: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """For each storage multi-index: position in the dense (a^(d−1)) leading-axes product and
    the last axis degree."""
    a = order + 1
    idx = multi_indices(dim, order)
    lead = [sum(n[i] * a ** (dim - 2 - i) for i in range(dim - 1)) for n in idx]
    return (torch.tensor(lead, device=device), torch.tensor([n[-1] for n in idx], device=device))


def basis_products(u: torch.Tensor, order: int, derivative: tuple[int, ...] | None = None
                   ) -> torch.Tensor:
    """``E_n(u)`` (or a partial derivative in u) for the P storage-order multi-indices.

    ``derivative`` gives the derivative order per axis (each ≤ 2). Shape ``(K, d)`` →
    ``(K, P)``.

    Example:
        >>> basis_products(torch.zeros(1, 2), 1).shape
        torch.Size([1, 3])
    """
    K, d = u.shape
    a = order + 1
    per_axis = []
    if derivative is None or not any(derivative):
        per_axis = [_legendre_values(u[:, ax], order) for ax in range(d)]
    else:
        full = basis_torch(u, order, derivatives=max(derivative))
        per_axis = [full[derivative[ax]][:, ax, :] for ax in range(d)]
    lead = per_axis[0]
    for ax in range(1, d - 1):
        lead = (lead[:, :, None] * per_axis[ax][:, None, :]).reshape(K, -1)
    li, zi = _pair_indices(d, order, u.device)
    del a
    return lead.index_select(1, li) * per_axis[-1].index_select(1, zi)


def _legendre_rows(t: torch.Tensor, order: int) -> torch.Tensor:
    """Orthonormal ``e_0..e_ρ`` at ``t`` as rows: ``(K,)`` → ``(a, K)`` (differentiable)."""
    vals = [torch.ones_like(t), t]
    for k in range(1, order):
        vals.append(((2 * k + 1) * t * vals[k] - k * vals[k - 1]) / (k + 1))
    vals = vals[: order + 1]
    return torch.stack([v * sqrt((2 * k + 1) / 2) for k, v in enumerate(vals)], dim=0)


def basis_rows(u: torch.Tensor, order: int) -> torch.Tensor:
    """``E_n(u)`` for the P storage-order multi-indices as rows: u ``(K, d)`` → ``(P, K)``.

    Row-major per coefficient, so every product reads and writes contiguous memory.

    Example:
        >>> u = torch.rand(5, 3) * 2 - 1
        >>> torch.allclose(basis_rows(u, 2), basis_products(u, 2).T)
        True
    """
    K, d = u.shape
    ut = u.t()
    per_axis = [_legendre_rows(ut[ax].contiguous(), order) for ax in range(d)]   # (a, K)
    lead = per_axis[0]
    for ax in range(1, d - 1):
        lead = (lead[:, None, :] * per_axis[ax][None, :, :]).reshape(-1, K)
    li, zi = _pair_indices(d, order, u.device)
    return lead.index_select(0, li) * per_axis[-1].index_select(0, zi)


def p2m(p: torch.Tensor, w: torch.Tensor, n: int, order: int, chunk: int = 1 << 16
        ) -> torch.Tensor:
    """P2M into the AG layout: :func:`p2m_rows` then :func:`rows_to_ag`.

    Example:
        >>> M = p2m(torch.zeros(1, 3, 2), torch.ones(1, 1, 3), n=4, order=2)
        >>> M.shape, float(M.sum()) > 0
        (torch.Size([4, 3, 4, 3, 1]), True)
    """
    return rows_to_ag(p2m_rows(p, w, n, order, chunk), n, p.shape[-1], order)


def p2m_rows(p: torch.Tensor, w: torch.Tensor, n: int, order: int, chunk: int = 1 << 16
             ) -> torch.Tensor:
    """P2M: moments ``M(n, cell) = Σ_{p_i ∈ cell} w_i E_n(u_i)`` by scatter-add (index_add_),
    one row per coefficient.

    Points are first sorted by cell, so the scatter-add walks the moments in order (the
    random-order scatter was the slowest part of P2M), and the basis is built as ``(P, K)``
    rows, in chunks of ``chunk`` points whose temporaries stay in cache.
    Shapes: p ``(B, N, d)``, w ``(B, C, N)`` → rows ``(P, n^d, B·C)`` (a transposed view).

    Example:
        >>> p2m_rows(torch.zeros(1, 3, 2), torch.ones(1, 1, 3), n=4, order=2).shape
        torch.Size([6, 16, 1])
    """
    B, N, d = p.shape
    C = w.shape[1]
    P = len(multi_indices(d, order))
    grad = torch.is_grad_enabled() and (p.requires_grad or w.requires_grad)
    M = torch.zeros(P, B, C, n**d, dtype=p.dtype, device=p.device)
    for b in range(B):
        idx, _ = locate(p[b].detach(), n)
        cell_all = flat_index(idx, n)
        cell_sorted, order_ = torch.sort(cell_all)
        for start in range(0, N, chunk):
            sel = order_[start: start + chunk]
            cell = cell_sorted[start: start + chunk]
            _, u = locate(p[b].index_select(0, sel), n)
            E = basis_rows(u, order)                                       # (P, K)
            for c in range(C):
                vals = E * w[b, c].index_select(0, sel)
                if grad:                                # out of place: keeps autograd simple
                    M = M.index_put((torch.arange(P, device=p.device)[:, None],
                                     torch.tensor(b), torch.tensor(c), cell[None, :]),
                                    vals, accumulate=True)
                else:
                    M[:, b, c].index_add_(1, cell, vals)
    return M.reshape(P, B * C, n**d).transpose(1, 2)


def p2m_flops(n_points: int, channels: int, dim: int, order: int) -> int:
    """Arithmetic of P2M (Legendre recurrences, basis products, weighting, scatter-add).

    Example:
        >>> p2m_flops(10, 1, 3, 4)
        2000
    """
    P = len(multi_indices(dim, order))
    per_point = 5 * dim * order + 2 * P + 2 * channels * P
    return n_points * per_point


def cells_to_ag(cells: torch.Tensor, order: int) -> torch.Tensor:
    """Cell layout ``(B, C, n…, P)`` → AG dense layout ``(n, a, …, B·C)``.

    Example:
        >>> cells_to_ag(torch.ones(1, 2, 4, 4, 6), order=2).shape
        torch.Size([4, 3, 4, 3, 2])
    """
    B, C = cells.shape[:2]
    d = cells.dim() - 3
    n = cells.shape[2]
    src = cells.reshape(B * C, n**d, -1).permute(2, 1, 0)                # (P, cells, R)
    return rows_to_ag(src, n, d, order)


def rows_to_ag(src: torch.Tensor, n: int, dim: int, order: int) -> torch.Tensor:
    """Per-coefficient rows ``(P, n^d, R)`` (any strides) → AG dense layout ``(n, a, …, R)``.

    Example:
        >>> rows_to_ag(torch.ones(6, 16, 1), 4, 2, 2).shape
        torch.Size([4, 3, 4, 3, 1])
    """
    R, a = src.shape[-1], order + 1
    src = src.reshape((src.shape[0],) + (n,) * dim + (R,))
    out = src.new_zeros([v for _ in range(dim) for v in (n, a)] + [R])
    for i, m in enumerate(multi_indices(dim, order)):
        sl = tuple(v for ax in range(dim) for v in (slice(None), m[ax]))
        out[sl] = src[i]
    return out


def ag_to_cells(A: torch.Tensor, B: int, C: int, dim: int, order: int) -> torch.Tensor:
    """AG dense layout → cell layout ``(B, C, n…, P)`` (drops slots of degree > ρ).

    Example:
        >>> c = torch.rand(1, 2, 4, 4, 6)
        >>> torch.equal(ag_to_cells(cells_to_ag(c, 2), 1, 2, 2, 2), c)
        True
    """
    n = A.shape[0]
    parts = []
    for m in multi_indices(dim, order):
        sl = tuple(v for ax in range(dim) for v in (slice(None), m[ax]))
        parts.append(A[sl])                                            # (n…, R)
    out = torch.stack(parts, 0).reshape(len(parts), n**dim, B * C)     # (P, cells, R)
    out = out.permute(2, 1, 0).reshape((B, C) + (n,) * dim + (len(parts),))
    return out.contiguous()


def mask_degree(A: torch.Tensor, dim: int, order: int) -> torch.Tensor:
    """Zero the AG slots of total degree > ρ (in place); returns ``A``.

    Example:
        >>> float(mask_degree(torch.ones(4, 3, 4, 3, 1), 2, 2).sum())   # 6 of 9 slots × 16
        96.0
    """
    m = dense_mask(dim, order).to(device=A.device, dtype=A.dtype)
    return A.mul_(m.reshape([s for _ in range(dim) for s in (1, order + 1)] + [1]))


def _rotate(out: torch.Tensor, lead: int) -> torch.Tensor:
    """Move the leading ``lead`` elements-per-row block to the back: (lead, rest) → (rest, lead)."""
    return out.reshape(lead, -1).t().contiguous()


def _band_pass(V: torch.Tensor, W: torch.Tensor, m: int, chunk: int = 4) -> torch.Tensor:
    """One per-axis operator on the leading axis group, written straight into rotated layout.

    V ``(m·k, rest)`` holds m (parent) rows of k entries, W ``(o, T·k)`` with T = 2s+1 taps
    (row X reads rows X−s … X+s, zeros outside). Returns ``(rest, m·o)``: the result with the
    processed group moved to the back, so the next axis is in front. Each block of ``chunk``
    output rows is one GEMM ``Vᵀ[:, rows] @ band(Wᵀ)`` on a transposed view of V — no copy of
    V and no separate transpose pass.
    """
    k = V.shape[0] // m
    o, T = W.shape[0], W.shape[1] // k
    s = T // 2
    c = min(chunk, m)
    band = torch.zeros((c + 2 * s) * k, c * o, dtype=V.dtype, device=V.device)
    for j in range(c):
        for t in range(T):
            band[(j + t) * k: (j + t + 1) * k, j * o: (j + 1) * o] = W[:, t * k: (t + 1) * k].T
    Vt = V.t()
    grad = torch.is_grad_enabled() and (V.requires_grad or W.requires_grad)
    out = None if grad else torch.empty(V.shape[1], m * o, dtype=V.dtype, device=V.device)
    parts = []
    for X0 in range(0, m, c):
        cc = min(c, m - X0)
        lo, hi = X0 - s, X0 + cc + s
        clo, chi = max(lo, 0), min(hi, m)
        B = band[(clo - lo) * k: (chi - lo) * k, : cc * o]
        if grad:
            parts.append(Vt[:, clo * k: chi * k] @ B)
        else:
            torch.mm(Vt[:, clo * k: chi * k], B, out=out[:, X0 * o: (X0 + cc) * o])
    return torch.cat(parts, 1) if grad else out


def _band_rows(V: torch.Tensor, W: torch.Tensor, m: int, out: torch.Tensor | None = None,
               chunk: int = 4, alpha: float = 1.0, accumulate: bool = False,
               sink=None) -> torch.Tensor | None:
    """One per-axis operator on the leading axis group, keeping it in front (row form).

    V ``(m·k, rest)`` holds m (parent) rows of k entries, W ``(o, T·k)`` with T = 2s+1 taps
    (row X reads rows X−s … X+s, zeros outside). Returns ``(m·o, rest)``, written into
    ``out`` when given (any row-major ``(m·o, rest)`` view, e.g. rows of a larger buffer),
    as ``alpha ·`` the result, or added to ``out`` with ``accumulate`` (no autograd there).
    With ``sink`` nothing is returned: ``sink(row0, rows)`` receives each block of output rows
    (starting at row ``row0``) while it is still in cache, e.g. to scatter it straight into the
    layout of the next pass (no full-size intermediate).
    Each block of ``chunk`` output rows is one GEMM ``band(W) @ V[rows]`` whose right
    operand is a contiguous row block of V and whose output rows are contiguous: the GEMM
    shape the BLAS runs fastest (the transposed-operand form of :func:`_band_pass` ran
    1.5–10× slower per FLOP for narrow operators). Same FLOPs as :func:`_band_pass`.

    Example:
        >>> V = torch.rand(8 * 4, 7, dtype=torch.float64); W = torch.rand(3, 5 * 4,
        ...                                                     dtype=torch.float64)
        >>> torch.allclose(_band_rows(V, W, 8), _band_pass(V, W, 8).T)
        True
    """
    k = V.shape[0] // m
    o, T = W.shape[0], W.shape[1] // k
    grad = torch.is_grad_enabled() and (V.requires_grad or W.requires_grad)
    if T == 1:                      # M2M / L2L: one batched GEMM, no block-diagonal band
        res = torch.matmul(W, V.reshape(m, k, -1)).reshape(m * o, -1)
        if sink is not None:
            return sink(0, res * alpha if alpha != 1.0 else res)
        if out is None:
            return res * alpha if alpha != 1.0 else res
        if accumulate:
            return out.add_(res, alpha=alpha)
        return out.copy_(res * alpha if alpha != 1.0 else res)
    s = T // 2
    c = min(chunk, m)
    band = torch.zeros(c * o, (c + 2 * s) * k, dtype=V.dtype, device=V.device)
    for j in range(c):
        band[j * o: (j + 1) * o, j * k: (j + T) * k] = W
    if out is None and not grad and sink is None:
        out = torch.empty(m * o, V.shape[1], dtype=V.dtype, device=V.device)
    parts = []
    for X0 in range(0, m, c):
        cc = min(c, m - X0)
        lo, hi = X0 - s, X0 + cc + s
        clo, chi = max(lo, 0), min(hi, m)
        Bm = band[: cc * o, (clo - lo) * k: (chi - lo) * k]
        if grad:
            parts.append(Bm @ V[clo * k: chi * k])
        elif sink is not None:
            sink(X0 * o, torch.mm(Bm, V[clo * k: chi * k]) * alpha if alpha != 1.0
                 else torch.mm(Bm, V[clo * k: chi * k]))
        elif accumulate:
            out[X0 * o: (X0 + cc) * o].addmm_(Bm, V[clo * k: chi * k], alpha=alpha)
        elif alpha == 1.0:
            torch.mm(Bm, V[clo * k: chi * k], out=out[X0 * o: (X0 + cc) * o])
        else:
            torch.addmm(out[X0 * o: (X0 + cc) * o], Bm, V[clo * k: chi * k], beta=0.0,
                        alpha=alpha, out=out[X0 * o: (X0 + cc) * o])
    if not grad:
        return None if sink is not None else out
    res = torch.cat(parts, 0) * alpha
    if sink is not None:
        return sink(0, res)
    if out is None:
        return res
    return out.add_(res) if accumulate else out.copy_(res)


def band_pass_flops(rows: int, rest: int, W: torch.Tensor, m: int, chunk: int = 4) -> int:
    """FLOPs the GEMMs of one :func:`_band_pass` execute (band zeros included).

    ``rows`` = m·k rows of V, ``rest`` its columns, W ``(o, T·k)``.

    Example:
        >>> band_pass_flops(8 * 10, 100, torch.zeros(10, 50), 8)   # 2 chunks: 2·100·60·40 each
        960000
    """
    k = rows // m
    o, T = W.shape[0], W.shape[1] // k
    s = T // 2
    c = min(chunk, m)
    total = 0
    for X0 in range(0, m, c):
        cc = min(c, m - X0)
        total += 2 * rest * (min(X0 + cc + s, m) - max(X0 - s, 0)) * k * cc * o
    return total


def band_rows_flops(rows: int, rest: int, W: torch.Tensor, m: int, chunk: int = 4) -> int:
    """FLOPs the GEMMs of one :func:`_band_rows` execute (band zeros included; a one-tap
    operator runs as one batched GEMM without a band).

    Example:
        >>> band_rows_flops(8 * 10, 100, torch.zeros(10, 50), 8), band_rows_flops(
        ...     8 * 5, 100, torch.zeros(10, 5), 8)
        (960000, 80000)
    """
    k = rows // m
    if W.shape[1] // k == 1:
        return 2 * rest * m * k * W.shape[0]
    return band_pass_flops(rows, rest, W, m, chunk)


def _axis_plan(shape: list[int], dim: int, ops: list, kind: str):
    """(n, a, W, m, new group) of every axis step of :func:`axis_passes`."""
    groups = [(shape[2 * ax], shape[2 * ax + 1]) for ax in range(dim)]
    steps = []
    for ax in range(dim):
        n, a = groups[0]
        W = ops[ax]
        if kind == "down":
            m, new = n // 2, (n // 2, W.shape[0])
        elif kind == "up":
            m, new = n, (2 * n, W.shape[0] // 2)
        else:
            m, new = n // 2, (n, W.shape[0] // 2)
        steps.append((n, a, W, m, new))
        groups = groups[1:] + [new]
    return steps, groups


def axis_passes_flops(shape: list[int] | torch.Size, dim: int, ops: list, kind: str) -> int:
    """FLOPs executed by :func:`axis_passes` on an AG tensor of ``shape`` (GEMMs only).

    Example:
        >>> W = torch.zeros(3, 6)
        >>> axis_passes_flops([8, 3, 8, 3, 1], 2, [W, W], "down")
        20736
    """
    shape = list(shape)
    numel = 1
    for v in shape:
        numel *= v
    steps, _ = _axis_plan(shape, dim, ops, kind)
    total = 0
    for n, a, W, m, new in steps:
        rest = numel // (n * a)
        total += band_pass_flops(n * a, rest, W, m)
        numel = rest * new[0] * new[1]
    return total


def axis_passes(A: torch.Tensor, dim: int, ops: list, kind: str) -> torch.Tensor:
    """Apply one per-axis operator to every axis of an AG tensor; returns AG layout again.

    ``kind``: ``"down"`` (M2M: (n, a) → (n/2, a) with W ``(a, 2a)``), ``"up"`` (L2L:
    (n, a) → (2n, a) with W ``(2a, a)``) or ``"m2l"`` ((2s+1)-tap pair operator
    W ``(2a, (2s+1)·2a)``).

    Example:
        >>> from quadfree.taylor.legendre import shift_matrices
        >>> S = torch.as_tensor(shift_matrices(2)); W = torch.cat([S[0], S[1]], 1)
        >>> A = torch.rand(8, 3, 8, 3, 1, dtype=torch.float64)
        >>> axis_passes(A, 2, [W, W], "down").shape
        torch.Size([4, 3, 4, 3, 1])
    """
    shape = list(A.shape)             # [n, a, n, a, (n, a), R]
    R = shape[-1]
    steps, groups = _axis_plan(shape, dim, ops, kind)
    data = A.reshape(-1)
    for n, a, W, m, _ in steps:
        data = _band_pass(data.reshape(n * a, -1), W, m)           # (rest, lead')
    # data is now (R, axis groups…): rotate R to the back
    data = _rotate(data, R)
    return data.reshape([v for g in groups for v in g] + [R])


def m2l_general(A: torch.Tensor, dim: int, order: int, W: torch.Tensor) -> torch.Tensor:
    """General (dense) M2L in pair-block form: (2s+1)^d taps of ``(2^d P, 2^d P)`` matrices.

    A: AG layout at n cells per axis; W ``((2s+1)^d, 2^d P, 2^d P)``. Returns AG layout.
    Costs (4s+2)^d P² multiply-adds per cell (s = 1: the paper's 6³·P² M2L).

    Example:
        >>> W = torch.zeros(9, 4 * 6, 4 * 6, dtype=torch.float64)   # s = 1, d = 2, ρ = 2
        >>> m2l_general(torch.rand(4, 3, 4, 3, 1, dtype=torch.float64), 2, 2, W).abs().max()
        tensor(0., dtype=torch.float64)
    """
    n, a, R = A.shape[0], order + 1, A.shape[-1]
    P = len(multi_indices(dim, order))
    cells = ag_to_cells(A, R, 1, dim, order)[:, 0]                     # (R, n…, P)
    h = n // 2
    blk = cells.reshape((R,) + sum(((h, 2) for _ in range(dim)), ()) + (P,))
    perm = [0] + [1 + 2 * ax for ax in range(dim)] + [2 + 2 * ax for ax in range(dim)]
    blk = blk.permute(perm + [1 + 2 * dim]).reshape((R,) + (h,) * dim + (2**dim * P,))
    ntaps = W.shape[0]
    s = (round(ntaps ** (1.0 / dim)) - 1) // 2
    pad = F.pad(blk, (0, 0) + (s, s) * dim)                            # zero parent ring
    out = torch.zeros_like(blk)
    taps = torch.cartesian_prod(*[torch.arange(-s, s + 1)] * dim).reshape(-1, dim)
    for ti, tap in enumerate(taps.tolist()):
        sl = (slice(None),) + tuple(slice(s + t, s + t + h) for t in tap)
        out = out + pad[sl] @ W[ti].T
    out = out.reshape((R,) + (h,) * dim + (2,) * dim + (P,))
    inv = [0] + [v for ax in range(dim) for v in (1 + ax, 1 + dim + ax)] + [1 + 2 * dim]
    cells_out = out.permute(inv).reshape((R, 1) + (n,) * dim + (P,))
    del a
    return cells_to_ag(cells_out, order)
