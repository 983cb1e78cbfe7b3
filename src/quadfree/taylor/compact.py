"""The finest level's separable M2L and L2L on degree blocks: only non-zero slots (3-D).

The dense AG layout (:mod:`quadfree.taylor.passes`) keeps all (ρ+1)³ degree slots per cell,
although the moments hold only the P = C(ρ+3, 3) with total degree ≤ ρ and the finest level
returns only those. Here the grid is split into one block per pair of degrees of the axes not
being processed, and each axis pass runs only where input or output can be non-zero:

* x pass: blocks (n_y, n_z) with n_y + n_z ≤ ρ, input degrees n_x ≤ ρ − n_y − n_z;
* y pass: blocks (k_x, n_z), input n_y ≤ ρ − n_z, output k_y ≤ ρ − k_x;
* z pass: blocks (k_x, k_y) with k_x + k_y ≤ ρ, output k_z ≤ ρ − k_x − k_y.

At ρ = 4 that is 575 instead of 1875 multiply-adds per cell and tap-parity, and 75 instead of
125 slots in the intermediate grids. Each block pass is the same banded GEMM as the dense
path (:func:`quadfree.taylor.passes._band_rows`) with the operator's unused rows and columns
dropped, so results agree with the dense path to rounding. The L2L from the level above
into the finest cells runs the same way (``kind="up"``), and both write the cell layout
``(B, C, n, n, n, P)`` directly, which saves the dense grid's layout change.
"""

from __future__ import annotations

from contextlib import ExitStack
from functools import partial

import torch

from quadfree.taylor import scatter
from quadfree.taylor.multiindex import index_of, multi_indices
from quadfree.taylor.passes import _band_rows, axis_passes_flops, band_rows_flops
from quadfree.taylor.workspace import Workspace

#: the final layout change of :func:`sum_cells` by the compiled gather-transpose
#: (:func:`quadfree.taylor.scatter.rows_to_cells`) where it applies; False keeps the torch
#: copies (for A/B and tests).
FAST_LAYOUT = True


def _sub(W: torch.Tensor, a: int, k_out: int, k_in: int, kind: str) -> torch.Tensor:
    """Per-axis operator restricted to output degrees < k_out and input degrees < k_in.

    M2L ``(2a, T·2a)`` → ``(2·k_out, T·2·k_in)``; L2L ``(2a, a)`` → ``(2·k_out, k_in)``;
    M2M ``(a, 2a)`` → ``(k_out, 2·k_in)``.
    """
    if kind == "up":                                                  # (π_t, k) ← n
        return W.reshape(2, a, a)[:, :k_out, :k_in].reshape(2 * k_out, k_in)
    if kind == "down":                                                # k ← (π_s, n)
        return W.reshape(a, 2, a)[:k_out, :, :k_in].reshape(k_out, 2 * k_in)
    T = W.shape[1] // (2 * a)
    V = W.reshape(2, a, T, 2, a)[:, :k_out, :, :, :k_in]
    return V.reshape(2 * k_out, T * 2 * k_in)


def _sizes(n: int, kind: str) -> tuple[int, int]:
    """(parent rows m, output cells per axis) of a pass on n input cells per axis."""
    return {"m2l": (n // 2, n), "up": (n, 2 * n), "down": (n // 2, n // 2)}[kind]


def _x_slab(A: torch.Tensor, ny: int, nz: int, ki: int, order: int) -> torch.Tensor:
    """Input of the x pass for block (n_y, n_z): ``(n·ki, n·n·R)`` from AG or rows."""
    if A.dim() == 7:                                                  # AG (n, a, n, a, n, a, R)
        n, R = A.shape[0], A.shape[-1]
        return A[:, :ki, :, ny, :, nz, :].reshape(n * ki, n * n * R)
    pos = index_of(3, order)                                          # rows (P, n³, R)
    n = round(A.shape[1] ** (1 / 3))
    rows = [A[pos[nx, ny, nz]].reshape(n, n * n * A.shape[-1]) for nx in range(ki)]
    return torch.stack(rows, 1).reshape(n * ki, -1)


def _final_rows(order: int, no: int, device) -> torch.Tensor:
    """Row of the stacked z-pass outputs for every (Z, storage index): ``(no·P,)``.

    The z pass of block (k_x, k_y) writes rows ``(Z, k_z)`` one block after the other
    (blocks in :func:`multi_indices` order of their first appearance)."""
    a = order + 1
    start, blocks = 0, {}
    for kx in range(a):
        for ky in range(a - kx):
            blocks[kx, ky] = start
            start += no * (a - kx - ky)
    idx = multi_indices(3, order)
    rows = [[blocks[kx, ky] + Z * (a - kx - ky) + kz for kx, ky, kz in idx] for Z in range(no)]
    return torch.tensor(rows, device=device).reshape(-1)


def _put(G: torch.Tensor, j: int, shape: tuple, perm: tuple, r0: int, res: torch.Tensor
         ) -> None:
    """Sink of a band pass: output rows ``res`` (first row r0; per row-cell ``shape[0]`` rows)
    viewed as ``(cells,) + shape``, permuted by ``perm``, into ``G[:, :, j, cells]``."""
    blk = res.view((-1,) + shape)
    c0 = r0 // shape[0]
    G[:, :, j, c0: c0 + blk.shape[0]].copy_(blk.permute(perm))


def m2l_cells(A: torch.Tensor, ops: list, order: int, B: int, C: int, kind: str = "m2l",
              workspace: Workspace | None = None) -> torch.Tensor:
    """Separable M2L (no hole; ``kind="m2l"``), L2L (``"up"``) or M2M (``"down"``) of a grid
    whose slots of degree > ρ are zero → cells ``(B, C, n', n', n', P)``, computing only the
    degree blocks that can be non-zero (n' = n, 2n for L2L, n/2 for M2M).

    ``A``: AG ``(n, a, n, a, n, a, R)`` or rows ``(P, n³, R)`` (:func:`~quadfree.taylor.
    passes.p2m_rows`, or :func:`cell_rows` of a cell tensor). ``ops``: the three per-axis
    operators (M2L pair operators ``(2a, (2s+1)·2a)``, L2L ``(2a, a)`` or M2M ``(a, 2a)``);
    R = B·C. :func:`sum_cells` adds several such terms in one output buffer; ``workspace``
    as there.

    Example:
        >>> import torch
        >>> from quadfree.taylor.passes import axis_passes, ag_to_cells, mask_degree
        >>> W = torch.rand(6, 30, dtype=torch.float64)            # ρ = 2, s = 2
        >>> A = mask_degree(torch.rand(4, 3, 4, 3, 4, 3, 1, dtype=torch.float64), 3, 2)
        >>> dense = ag_to_cells(axis_passes(A, 3, [W, W, W], "m2l"), 1, 1, 3, 2)
        >>> torch.allclose(m2l_cells(A, [W, W, W], 2, 1, 1), dense)
        True
    """
    return sum_cells([(A, ops, kind, 1.0)], order, B, C, workspace=workspace)


def cell_rows(cells: torch.Tensor) -> torch.Tensor:
    """Cell layout ``(B, C, n, n, n, P)`` → rows ``(P, n³, B·C)`` (a view, no copy).

    Example:
        >>> cell_rows(torch.zeros(1, 2, 4, 4, 4, 10)).shape
        torch.Size([10, 64, 2])
    """
    B, C, n = cells.shape[:3]
    return cells.reshape(B * C, n**3, cells.shape[-1]).permute(2, 1, 0)


def sum_cells(terms: list, order: int, B: int, C: int, section=None,
              labels: list | None = None, workspace: Workspace | None = None) -> torch.Tensor:
    """``Σ sign · m2l_cells(A, ops, kind)`` over ``terms = [(A, ops, kind, sign), …]`` whose
    outputs have the same number of cells per axis → cells ``(B, C, n', n', n', P)``.

    ``section`` (e.g. :meth:`~quadfree.taylor.timing.PassTimer.section`) with ``labels``
    (one ``(name, flops)`` per term; consecutive equal labels share one section) times the
    terms separately; the final layout change counts to the last one. ``workspace`` (a
    :class:`~quadfree.taylor.workspace.Workspace`) supplies the intermediate grids on CPU
    without autograd, so repeated calls do not page-fault fresh memory; the returned cells
    are always a new tensor.

    Every pass is a row-form band GEMM (:func:`~quadfree.taylor.passes._band_rows`): the
    processed axis stays in front, and one permuting copy per pass (which also gathers the
    degree blocks the next pass reads together) brings the next axis to the front. The z
    passes of all terms accumulate into one buffer ``(n'·P, n'·n'·R)``; a row gather and
    one transpose then give the cell layout.

    Example:
        >>> W = torch.rand(6, 30, dtype=torch.float64)
        >>> A = torch.rand(10, 64, 1, dtype=torch.float64)            # rows, ρ = 2, n = 4
        >>> both = sum_cells([(A, [W] * 3, "m2l", 1.0), (A, [W] * 3, "m2l", -0.5)], 2, 1, 1)
        >>> torch.allclose(both, 0.5 * m2l_cells(A, [W] * 3, 2, 1, 1))
        True
    """
    a, P = order + 1, len(multi_indices(3, order))
    grad = torch.is_grad_enabled() and any(
        A.requires_grad or any(w.requires_grad for w in ops) for A, ops, _, _ in terms)
    Z, parts, no = None, [], None
    labels = labels or [None] * len(terms)
    stack = ExitStack()
    dev = terms[0][0].device
    ws = workspace if workspace is not None and not grad and dev.type == "cpu" else None

    def buf(name, *shape):
        if ws is None:
            return torch.empty(*shape, dtype=terms[0][0].dtype, device=dev)
        return ws.take(name, shape, terms[0][0].dtype, dev)

    for i, (A, ops, kind, sign) in enumerate(terms):
        if section is not None and (i == 0 or labels[i] != labels[i - 1]):
            stack.close()
            stack.enter_context(section(*labels[i]))
        R = A.shape[-1]
        n = A.shape[0] if A.dim() == 7 else round(A.shape[1] ** (1 / 3))
        m, no = _sizes(n, kind)
        # z-pass inputs per kx: (ky, Z, nz, Y', X', R); the y pass scatters into them
        Gz = [buf(("gz", kx), a - kx, n, a, no, no, R) for kx in range(a)]
        for nz in range(a):
            ki = a - nz
            # y-pass input (kx, Y, ny, X', Z, R): every kx is one contiguous block; the x pass
            # scatters each block of its output rows (X', kx | Y, Z, R) into it from cache
            Gy = buf("gy", a, n, ki, no, n, R)
            for ny in range(ki):
                kin = a - ny - nz
                put = partial(_put, Gy, ny, (a, n, n, R), (1, 2, 0, 3, 4))   # (X', kx, Y, Z, R)
                _band_rows(_x_slab(A, ny, nz, kin, order), _sub(ops[0], a, a, kin, kind), m,
                           sink=put)
            for kx in range(a):
                ko = a - kx                                          # rows (Y', ky | X', Z, R)
                put = partial(_put, Gz[kx], nz, (ko, no, n, R), (1, 3, 0, 2, 4))
                _band_rows(Gy[kx].reshape(n * ki, -1), _sub(ops[1], a, ko, ki, kind), m,
                           sink=put)
            del Gy
        if Z is None and not grad:
            Z = buf("z", no * P, R * no * no)
        row, zp = 0, []
        for kx in range(a):
            G, Gz[kx] = Gz[kx], None
            for ky in range(a - kx):
                ko = a - kx - ky
                Wz = _sub(ops[2], a, ko, a, kind)
                V = G[ky].reshape(n * a, -1)
                if grad:
                    zp.append(_band_rows(V, Wz, m))
                else:
                    _band_rows(V, Wz, m, out=Z[row: row + no * ko], alpha=sign,
                               accumulate=len(parts) > 0)
                row += no * ko
        parts.append(torch.cat(zp, 0) * sign if grad else None)
    if grad:
        Z = parts[0]
        for t in parts[1:]:
            Z = Z + t
    R = Z.shape[1] // (no * no)
    rows = _final_rows(order, no, Z.device)
    # Z (rows (block, Z', kz) | Y', X', R) → cells (R, X', Y', Z', P): a 2-D transpose (torch's
    # blocked kernel), a gather inside rows of no·P values and a swap of (Y', X') that moves
    # runs of no·P values (one strided permute copy was 3× slower)
    if FAST_LAYOUT and scatter.rows_to_cells_usable(Z):
        cells = scatter.rows_to_cells(Z, rows, no, P)          # the same in one compiled pass
    else:
        cells = Z.t().contiguous().index_select(1, rows).view(no, no, R, no, P)
        cells = cells.permute(2, 1, 0, 3, 4).contiguous()
    stack.close()
    return cells.view((B, C) + (no,) * 3 + (P,))


def m2l_cells_flops(n: int, R: int, ops: list, order: int, kind: str = "m2l") -> int:
    """GEMM FLOPs :func:`m2l_cells` executes on ``n`` cells per axis and R = B·C columns.

    Example:
        >>> W = torch.zeros(10, 50)
        >>> m2l_cells_flops(64, 1, [W] * 3, 4) < band_dense_flops(64, 1, [W] * 3, 4)
        True
    """
    a = order + 1
    m, no = _sizes(n, kind)
    total = 0
    for ny in range(a):
        for nz in range(a - ny):
            ki = a - ny - nz
            total += band_rows_flops(n * ki, n * n * R, _sub(ops[0], a, a, ki, kind), m)
    for kx in range(a):
        for nz in range(a):
            ki, ko = a - nz, a - kx
            total += band_rows_flops(n * ki, n * R * no, _sub(ops[1], a, ko, ki, kind), m)
    for kx in range(a):
        for ky in range(a - kx):
            total += band_rows_flops(n * a, R * no * no,
                                    _sub(ops[2], a, a - kx - ky, a, kind), m)
    return total


def band_dense_flops(n: int, R: int, ops: list, order: int) -> int:
    """GEMM FLOPs of the dense-layout separable M2L on the same grid (for comparison).

    Example:
        >>> band_dense_flops(8, 1, [torch.zeros(6, 30)] * 3, 2) > 0
        True
    """
    a = order + 1
    return axis_passes_flops([n, a] * 3 + [R], 3, ops, "m2l")
