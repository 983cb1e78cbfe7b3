"""Compiled P2M and L2P for 3-D CPU tensors (numba, one thread).

:func:`p2m_rows_compiled` gives the same moments as the torch scatter-add
(:func:`quadfree.taylor.passes.p2m_rows`) in one numba loop: a counting sort by finest cell
(O(N)), then per cell the Legendre products of its sources are summed in float64 registers
and written once, straight into the rows layout ``(P, n³, R)``. The torch path builds the
``(P, K)`` basis in memory, sorts with a comparison sort and scatters every coefficient with
``index_add_``. The loop is serial (one thread, the project's policy); it is used only without
autograd and on CPU (:func:`usable`), the torch path covers the rest.

:func:`l2p_compiled` evaluates the expansion's values at points in one loop (per point: cell,
Legendre recurrences, the P products against that cell's coefficients), where the torch path
builds ``(K, P)`` basis rows, gathers ``(K, P)`` coefficient rows and multiplies them; it
serves :meth:`~quadfree.taylor.expansion.Expansion.evaluate` without autograd on CPU
(:func:`l2p_usable`); derivatives and autograd keep the torch path.

:func:`rows_to_cells` is the last layout change of the finest level's block passes
(:func:`quadfree.taylor.compact.sum_cells`): one blocked gather-transpose from the z-pass
buffer into the cell layout, where the torch path makes three copies (transpose, row
gather, swap).
"""

from __future__ import annotations

from math import sqrt

import numpy as np
import torch

from quadfree.errors import QuadfreeError
from quadfree.taylor.multiindex import multi_indices

#: L2P sorts the points by cell when one batch's coefficients exceed this many bytes.
SORT_BYTES = 16 << 20

try:  # numba is a pinned dependency; the torch path keeps P2M usable without it
    from numba import njit
except ImportError:  # pragma: no cover - exercised only where numba is missing
    njit = None


if njit is not None:
    @njit(cache=True)
    def _sort_cells(p, w, n):  # pragma: no cover - compiled
        """Counting sort by finest cell: cell starts ``(n³+1,)``, sorted p ``(N, 3)`` and
        w ``(N, R)`` (sequential reads, scattered writes)."""
        N, R = p.shape[0], w.shape[0]
        half = n / 2.0
        cell = np.empty(N, np.int64)
        count = np.zeros(n * n * n + 1, np.int64)
        for i in range(N):
            jx = min(max(int((p[i, 0] + 1.0) * half), 0), n - 1)
            jy = min(max(int((p[i, 1] + 1.0) * half), 0), n - 1)
            jz = min(max(int((p[i, 2] + 1.0) * half), 0), n - 1)
            c = (jx * n + jy) * n + jz
            cell[i] = c
            count[c + 1] += 1
        for c in range(n * n * n):
            count[c + 1] += count[c]
        pos = count[:-1].copy()
        ps = np.empty((N, 3), p.dtype)
        ws = np.empty((N, R), w.dtype)
        for i in range(N):
            t = pos[cell[i]]
            pos[cell[i]] = t + 1
            for ax in range(3):
                ps[t, ax] = p[i, ax]
            for r in range(R):
                ws[t, r] = w[r, i]
        return count, ps, ws

    @njit(cache=True)
    def _legendre_factors(a):  # pragma: no cover - compiled
        """Factors of the normalised Legendre recurrence up to degree ``a − 1`` (no division
        in the loops): ``E_{k+1} = ca_k u E_k − cb_k E_{k−1}``, then ``E_k ·= scale_k``."""
        ca, cb, scale = np.empty(a), np.empty(a), np.empty(a)
        for k in range(a):
            scale[k] = sqrt((2.0 * k + 1.0) / 2.0)
            ca[k] = (2.0 * k + 1.0) / (k + 1.0)
            cb[k] = k / (k + 1.0)
        return ca, cb, scale

    @njit(fastmath=True, cache=True)
    def _accumulate(count, ps, ws, n, order, lex, out):  # pragma: no cover - compiled
        """Per cell: Σ w E_k(u) over its sorted sources in float64, written once to
        ``out (P, n³, R)`` (every cell, so out need not be zeroed); ``lex[j]``: storage index
        of the j-th multi-index in lexicographic order. Legendre recurrence with precomputed
        factors (no division)."""
        R, P, a = ws.shape[1], lex.shape[0], order + 1
        half = n / 2.0
        ca, cb, scale = _legendre_factors(a)
        ex, ey, ez = np.empty(a), np.empty(a), np.empty(a)
        acc = np.zeros((P, R))
        for c in range(n * n * n):
            lo, hi = count[c], count[c + 1]
            acc[:, :] = 0.0                        # empty cells too: out may be uninitialised
            cx, cy, cz = c // (n * n), (c // n) % n, c % n
            for t in range(lo, hi):
                ux = 2.0 * ((ps[t, 0] + 1.0) * half - cx) - 1.0
                uy = 2.0 * ((ps[t, 1] + 1.0) * half - cy) - 1.0
                uz = 2.0 * ((ps[t, 2] + 1.0) * half - cz) - 1.0
                ex[0], ey[0], ez[0] = 1.0, 1.0, 1.0
                if a > 1:
                    ex[1], ey[1], ez[1] = ux, uy, uz
                for k in range(1, order):
                    ex[k + 1] = ca[k] * ux * ex[k] - cb[k] * ex[k - 1]
                    ey[k + 1] = ca[k] * uy * ey[k] - cb[k] * ey[k - 1]
                    ez[k + 1] = ca[k] * uz * ez[k] - cb[k] * ez[k - 1]
                for k in range(a):
                    ex[k] *= scale[k]
                    ey[k] *= scale[k]
                    ez[k] *= scale[k]
                for r in range(R):                 # acc in lexicographic (kx, ky, kz) order
                    wr = ws[t, r]
                    j = 0
                    for i in range(a):
                        wx = ex[i] * wr
                        for i2 in range(a - i):
                            wxy = wx * ey[i2]
                            for i3 in range(a - i - i2):
                                acc[j, r] += wxy * ez[i3]
                                j += 1
            for j in range(P):
                for r in range(R):
                    out[lex[j], c, r] = acc[j, r]


if njit is not None:
    @njit(fastmath=True, cache=True)
    def _l2p(coef, q, n, order, lex, sort, out):  # pragma: no cover - compiled
        """coef (C, n³, P), q (M, 3) → out (C, M): Σ_k coef[c, cell(q), k] E_k(u(q)) in
        float64, points visited in cell order when ``sort``; ``lex`` as in
        :func:`_accumulate`."""
        M, C, a = q.shape[0], coef.shape[0], order + 1
        half = n / 2.0
        ca, cb, scale = _legendre_factors(a)
        e = np.empty((3, a))
        # counting sort of the points by cell: the coefficients are then read in order
        cells = np.empty(M, np.int64)
        count = np.zeros(n * n * n + 1, np.int64)
        for t in range(M):
            c = 0
            for ax in range(3):
                c = c * n + min(max(int(np.floor((q[t, ax] + 1.0) * half)), 0), n - 1)
            cells[t] = c
            count[c + 1] += 1
        for c in range(n * n * n):
            count[c + 1] += count[c]
        order_ = np.empty(M, np.int64)
        qs = np.empty((M, 3), q.dtype)
        for t in range(M):
            i = count[cells[t]] if sort else t
            count[cells[t]] += 1
            order_[i] = t
            for ax in range(3):
                qs[i, ax] = q[t, ax]
        for i in range(M):
            cell = 0
            for ax in range(3):
                s = (qs[i, ax] + 1.0) * half
                j = min(max(int(np.floor(s)), 0), n - 1)
                cell = cell * n + j
                u = 2.0 * (s - j) - 1.0
                e[ax, 0] = 1.0
                if a > 1:
                    e[ax, 1] = u
                for k in range(1, order):
                    e[ax, k + 1] = ca[k] * u * e[ax, k] - cb[k] * e[ax, k - 1]
                for k in range(a):
                    e[ax, k] *= scale[k]
            t = order_[i]
            for c in range(C):
                acc = 0.0
                j = 0
                for i1 in range(a):
                    for i2 in range(a - i1):
                        exy = e[0, i1] * e[1, i2]
                        for i3 in range(a - i1 - i2):
                            acc += coef[c, cell, lex[j]] * exy * e[2, i3]
                            j += 1
                out[c, t] = acc


if njit is not None:
    @njit(cache=True)
    def _rows_to_cells(Z, rows, no, R, out, ZB=64):  # pragma: no cover - compiled
        """out[r, x, y, zp] = Z[rows[zp], (y·no + x)·R + r]; Z ``(no·P, no·no·R)``, out
        ``(R, no, no, no·P)``. Runs of ZB output slots are written sequentially while their
        ZB source rows stay in cache (ZB = 64 was the fastest of 32 … 2240 at level 5; one
        output cell at a time reading full source rows was 2× slower)."""
        K, W = rows.shape[0], Z.shape[1]
        zf, of = Z.reshape(-1), out.reshape(-1)
        rw = rows * W
        for z0 in range(0, K, ZB):
            z1 = min(z0 + ZB, K)
            for y in range(no):
                for x in range(no):
                    for r in range(R):
                        src = (y * no + x) * R + r
                        dst = ((r * no + x) * no + y) * K
                        for zp in range(z0, z1):
                            of[dst + zp] = zf[rw[zp] + src]


def _lex_order(order: int) -> np.ndarray:
    """Storage index of each 3-D multi-index of total degree ≤ ``order``, in the
    lexicographic order the compiled loops enumerate."""
    idx = multi_indices(3, order)
    return np.asarray([idx.index(m) for m in sorted(idx)], dtype=np.int64)


def rows_to_cells_usable(Z: torch.Tensor) -> bool:
    """Whether :func:`rows_to_cells` applies: numba present, a CPU tensor, no autograd.

    Example:
        >>> rows_to_cells_usable(torch.zeros(4, 4)) in (True, False)
        True
    """
    grad = torch.is_grad_enabled() and Z.requires_grad
    return njit is not None and not grad and Z.device.type == "cpu"


def rows_to_cells(Z: torch.Tensor, rows: torch.Tensor, no: int, P: int) -> torch.Tensor:
    """Cells ``(R, no, no, no, P)`` from the z-pass buffer ``Z (K, no·no·R)`` of
    :func:`quadfree.taylor.compact.sum_cells` (columns ``(Y', X', R)``): cell
    ``(r, X', Y', Z')``, slot p is ``Z[rows[Z'·P + p], (Y'·no + X')·R + r]``.

    Equals ``Z.t().index_select(1, rows).view(no, no, R, no, P).permute(2, 1, 0, 3, 4)``
    in one pass over memory.

    Example:
        >>> Z = torch.rand(12, 8, dtype=torch.float64)               # no = 2, P = 3, R = 2
        >>> rows = torch.tensor([5, 0, 7, 2, 11, 1])
        >>> ref = Z.t().index_select(1, rows).view(2, 2, 2, 2, 3).permute(2, 1, 0, 3, 4)
        >>> torch.equal(rows_to_cells(Z, rows, 2, 3), ref)
        True
    """
    R = Z.shape[1] // (no * no)
    out = torch.empty(R, no, no, no, P, dtype=Z.dtype)
    _rows_to_cells(Z.detach().contiguous().numpy(), rows.cpu().numpy().astype(np.int64), no,
                   R, out.view(R, no, no, no * P).numpy())
    return out


def l2p_usable(coeffs: torch.Tensor, q: torch.Tensor) -> bool:
    """Whether :func:`l2p_compiled` applies: numba present, 3-D CPU tensors and no autograd
    through the coefficients or q.

    Example:
        >>> l2p_usable(torch.zeros(1, 1, 2, 2, 2, 4), torch.zeros(1, 3, 3)) in (True, False)
        True
    """
    grad = torch.is_grad_enabled() and (coeffs.requires_grad or q.requires_grad)
    return (njit is not None and not grad and coeffs.device.type == "cpu"
            and q.device.type == "cpu" and q.shape[-1] == 3 and coeffs.dim() == 6)


def l2p_compiled(coeffs: torch.Tensor, q: torch.Tensor, order: int) -> torch.Tensor:
    """Values of per-cell expansions at points: coeffs ``(B, C, n, n, n, P)``, q ``(B, M, 3)``
    in [−1, 1]³ → ``(B, C, M)`` in the coefficients' dtype (sums in float64).

    Example:
        >>> from quadfree.taylor import FC2T2
        >>> S = FC2T2("exp(-8*(x**2+y**2+z**2))", levels=1, order=3)
        >>> E = S.expand(torch.zeros(1, 1, 3, dtype=torch.float64),
        ...              torch.ones(1, 1, 1, dtype=torch.float64))
        >>> q = torch.rand(1, 20, 3, dtype=torch.float64) * 2 - 1
        >>> bool(torch.allclose(l2p_compiled(E.coeffs, q, 3), E(q)))
        True
    """
    B, C, n = coeffs.shape[:3]
    lex = _lex_order(order)
    out = torch.empty(B, C, q.shape[1], dtype=coeffs.dtype)
    # visit points in cell order once the coefficients outgrow the cache (level 5: 37 MB;
    # 1.5× faster there, slower at level 4's 4.6 MB)
    sort = coeffs[0].numel() * coeffs.element_size() > SORT_BYTES
    for b in range(B):
        coef = coeffs[b].detach().reshape(C, n**3, -1).contiguous().numpy()
        _l2p(coef, q[b].detach().to(coeffs.dtype).contiguous().numpy(), n, order, lex, sort,
             out[b].numpy())
    return out


def usable(p: torch.Tensor, w: torch.Tensor) -> bool:
    """Whether :func:`p2m_rows_compiled` applies: numba present, 3-D CPU float tensors and no
    autograd through p or w.

    Example:
        >>> usable(torch.zeros(1, 2, 3), torch.zeros(1, 1, 2)) in (True, False)
        True
    """
    grad = torch.is_grad_enabled() and (p.requires_grad or w.requires_grad)
    return (njit is not None and not grad and p.device.type == "cpu" and p.shape[-1] == 3
            and w.device.type == "cpu")


def p2m_rows_compiled(p: torch.Tensor, w: torch.Tensor, n: int, order: int,
                      out: torch.Tensor | None = None) -> torch.Tensor:
    """P2M moments ``M(k, cell) = Σ_{p_i ∈ cell} w_i E_k(u_i)`` for 3-D CPU tensors.

    Shapes: p ``(B, N, 3)``, w ``(B, C, N)`` → rows ``(P, n³, B·C)`` (contiguous), in p's
    dtype; sums in float64. Needs numba (:func:`usable`). ``out``: an optional contiguous
    tensor of that shape and dtype to write into (every entry is overwritten).

    Example:
        >>> from quadfree.taylor.passes import p2m_rows
        >>> p = torch.rand(1, 50, 3, dtype=torch.float64) * 2 - 1
        >>> w = torch.rand(1, 2, 50, dtype=torch.float64)
        >>> torch.allclose(p2m_rows_compiled(p, w, 4, 3), p2m_rows(p, w, 4, 3))
        True
    """
    B, N, _ = p.shape
    C = w.shape[1]
    idx = multi_indices(3, order)
    lex = _lex_order(order)
    if out is None:
        out = torch.empty(len(idx), n**3, B * C, dtype=p.dtype)
    elif out.shape != (len(idx), n**3, B * C) or out.dtype != p.dtype or not out.is_contiguous():
        raise QuadfreeError(f"out: shape {tuple(out.shape)}, {out.dtype} must be contiguous "
                            f"({len(idx)}, {n**3}, {B * C}), {p.dtype}", param="out")
    for b in range(B):
        pb = p[b].detach().contiguous().numpy()
        wb = w[b].detach().contiguous().numpy()
        part = out[:, :, b * C: (b + 1) * C]
        if B == 1:
            _accumulate(*_sort_cells(pb, wb, n), n, order, lex, out.numpy())
        else:
            tmp = torch.empty(len(idx), n**3, C, dtype=p.dtype)
            _accumulate(*_sort_cells(pb, wb, n), n, order, lex, tmp.numpy())
            part.copy_(tmp)
    return out
