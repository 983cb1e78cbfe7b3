"""Truncated cell-list neighbour sums for the Gaussian kernel: the peer FC²T² has to beat.

``y_m = Σ_{|q_m − p_n| < r_c} exp(−α |q_m − p_n|²) w_n``: sources and targets are sorted into
cells of width ``r_c / cells_per_radius`` on [−1, 1]^d, and every target cell meets the sources
of the ``(2·cells_per_radius + 1)^d`` cells around it; along the last axis those cells are one
contiguous run of the sorted sources. The cut-off ``r_c`` comes from a relative tolerance:
for a uniform density the truncated mass is ``erfc(t) + 2t/√π·e^{−t²}`` of the whole
(t = √α·r_c, 3-D; ``e^{−t²}`` in 2-D), and :func:`cutoff_radius` solves that for ``tol``.

Two backends give the same sums: a compiled numba loop (CPU, the fast one; threads follow
``torch.get_num_threads()``; one channel in 3-D uses a branch-free polynomial exp, relative
error < 3e-7, so the loop vectorises) and a vectorised torch gather (any device, used for
CUDA tensors and when numba is absent).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from quadfree.errors import QuadfreeError
from quadfree.taylor.kernels import Kernel

try:  # numba is a pinned dependency; the torch backend keeps the module usable without it
    import numba
    from numba import njit, prange
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None


def tail_fraction(t: float, dim: int = 3) -> float:
    """Share of a Gaussian's mass beyond radius ``r`` with ``t = √α·r`` (d = 2 or 3).

    Example:
        >>> round(tail_fraction(0.0), 6), tail_fraction(5.0) < 1e-9
        (1.0, True)
    """
    if dim == 2:
        return math.exp(-t * t)
    return math.erfc(t) + 2.0 * t / math.sqrt(math.pi) * math.exp(-t * t)


def cutoff_radius(alpha: float, tol: float, dim: int = 3) -> float:
    """Radius r_c whose truncated Gaussian mass share is ``tol`` (bisection on t = √α·r_c).

    Example:
        >>> r = cutoff_radius(128.0, 1e-4)
        >>> abs(tail_fraction(r * 128.0 ** 0.5) - 1e-4) < 1e-9
        True
    """
    if not 0.0 < tol < 1.0:
        raise QuadfreeError(f"tol={tol!r}: must lie in (0, 1)")
    if not alpha > 0:
        raise QuadfreeError(f"alpha={alpha!r}: must be positive")
    lo, hi = 0.0, 40.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if tail_fraction(mid, dim) > tol:
            lo = mid
        else:
            hi = mid
    return hi / math.sqrt(alpha)


def _gaussian_alpha(kernel: Kernel | str, dim: int) -> tuple[Kernel, float]:
    if not isinstance(kernel, Kernel):
        kernel = Kernel.parse(kernel, dim)
    alpha = kernel.gaussian_alpha
    if alpha is None:
        raise QuadfreeError(f"kernel {kernel.expr}: the neighbour sum needs an isotropic "
                            "Gaussian exp(-alpha*(x**2+...))")
    return kernel, alpha


def _sort_by_cell(x: np.ndarray, G: int) -> tuple[np.ndarray, np.ndarray]:
    """Order of points by row-major cell index and the cell start offsets ``(G^d + 1,)``."""
    d = x.shape[1]
    idx = np.clip(((x + 1.0) * (G / 2.0)).astype(np.int64), 0, G - 1)
    flat = idx[:, 0]
    for ax in range(1, d):
        flat = flat * G + idx[:, ax]
    order = np.argsort(flat, kind="stable")
    counts = np.bincount(flat, minlength=G**d)
    starts = np.zeros(G**d + 1, np.int64)
    np.cumsum(counts, out=starts[1:])
    return order, starts


if numba is not None:
    @njit(parallel=True, fastmath=True, cache=True)
    def _cells_3d(ps, ws, starts, qs, qstarts, G, alpha, r2, reach, out):  # pragma: no cover
        C = ws.shape[1]
        for cell in prange(G * G * G):
            q0, q1 = qstarts[cell], qstarts[cell + 1]
            if q0 == q1:
                continue
            cx, cy, cz = cell // (G * G), (cell // G) % G, cell % G
            zlo, zhi = max(cz - reach, 0), min(cz + reach, G - 1)
            for x in range(max(cx - reach, 0), min(cx + reach, G - 1) + 1):
                for y in range(max(cy - reach, 0), min(cy + reach, G - 1) + 1):
                    base = (x * G + y) * G
                    s0, s1 = starts[base + zlo], starts[base + zhi + 1]
                    for i in range(q0, q1):
                        qx, qy, qz = qs[i, 0], qs[i, 1], qs[i, 2]
                        for j in range(s0, s1):
                            dx, dy, dz = qx - ps[j, 0], qy - ps[j, 1], qz - ps[j, 2]
                            d2 = dx * dx + dy * dy + dz * dz
                            if d2 < r2:
                                e = np.exp(-alpha * d2)
                                for c in range(C):
                                    out[i, c] += e * ws[j, c]

    @njit(fastmath=True, inline="always", cache=True)
    def _exp_neg(y, c):  # pragma: no cover
        """e^{−y} for 0 ≤ y ≤ 16: (e^{−y/16})^16, degree-9 Taylor (rel. error < 3e-7).

        ``c`` holds 1/16 and the Taylor coefficients in the data's dtype, so float32 stays
        float32 (a Python float literal would promote every lane to float64). Branch-free,
        so the inner loop vectorises (numba's exp is a scalar libm call here).
        """
        z = -y * c[0]
        r = c[9]
        for k in range(8, 0, -1):                  # Σ_{k=1..9} z^(k−1)/k!
            r = r * z + c[k]
        r = r * z + c[1]                           # 1 + Σ z^k/k!  (c[1] = 1/1! = 1)
        r = r * r
        r = r * r
        r = r * r
        return r * r

    @njit(parallel=True, fastmath=True, cache=True)
    def _cells_3d_c1(px, py, pz, ws, starts, qx, qy, qz, qstarts, G, alpha, r2, reach,
                     coef, out):  # pragma: no cover
        """One channel, coordinates as separate arrays, polynomial exp (y = α·d² ≤ 16)."""
        zero = out.dtype.type(0.0)
        for cell in prange(G * G * G):
            q0, q1 = qstarts[cell], qstarts[cell + 1]
            if q0 == q1:
                continue
            cx, cy, cz = cell // (G * G), (cell // G) % G, cell % G
            zlo, zhi = max(cz - reach, 0), min(cz + reach, G - 1)
            for i in range(q0, q1):
                ax, ay, az = qx[i], qy[i], qz[i]
                acc = zero
                for x in range(max(cx - reach, 0), min(cx + reach, G - 1) + 1):
                    for y in range(max(cy - reach, 0), min(cy + reach, G - 1) + 1):
                        base = (x * G + y) * G
                        for j in range(starts[base + zlo], starts[base + zhi + 1]):
                            dx, dy, dz = ax - px[j], ay - py[j], az - pz[j]
                            d2 = dx * dx + dy * dy + dz * dz
                            e = _exp_neg(alpha * min(d2, r2), coef) * ws[j]
                            acc += e if d2 < r2 else zero
                out[i] = acc

    @njit(parallel=True, fastmath=True, cache=True)
    def _cells_2d(ps, ws, starts, qs, qstarts, G, alpha, r2, reach, out):  # pragma: no cover
        C = ws.shape[1]
        for cell in prange(G * G):
            q0, q1 = qstarts[cell], qstarts[cell + 1]
            if q0 == q1:
                continue
            cx, cy = cell // G, cell % G
            ylo, yhi = max(cy - reach, 0), min(cy + reach, G - 1)
            for x in range(max(cx - reach, 0), min(cx + reach, G - 1) + 1):
                s0, s1 = starts[x * G + ylo], starts[x * G + yhi + 1]
                for i in range(q0, q1):
                    qx, qy = qs[i, 0], qs[i, 1]
                    for j in range(s0, s1):
                        dx, dy = qx - ps[j, 0], qy - ps[j, 1]
                        d2 = dx * dx + dy * dy
                        if d2 < r2:
                            e = np.exp(-alpha * d2)
                            for c in range(C):
                                out[i, c] += e * ws[j, c]


# index 0: 1/16; index k = 1 … 9: the Taylor coefficient 1/k! (see _exp_neg)
_EXP_COEF = np.array([1 / 16] + [1 / math.factorial(k) for k in range(1, 10)])


def _grid(radius: float, cells_per_radius: int) -> int:
    return max(1, min(512, int(2.0 / (radius / cells_per_radius))))


def _numba_batch(p, w, q, alpha, radius, cells_per_radius):
    d = p.shape[1]
    G = _grid(radius, cells_per_radius)
    reach = cells_per_radius if G > 1 else 0
    order_p, starts = _sort_by_cell(p, G)
    order_q, qstarts = _sort_by_cell(q, G)
    dt = p.dtype
    ps = np.ascontiguousarray(p[order_p])
    ws = np.ascontiguousarray(w.T[order_p])
    qs = np.ascontiguousarray(q[order_q])
    out = np.zeros((q.shape[0], w.shape[0]), dtype=dt)
    a, r2 = dt.type(alpha), dt.type(radius * radius)
    # numba's OpenMP layer shares OpenMP's thread count with torch: launching it (first call
    # in a process) and setting numba's count both change torch.get_num_threads(), so torch's
    # count is read before numba is touched and restored after
    torch_threads = torch.get_num_threads()
    threads = numba.get_num_threads()
    numba.set_num_threads(max(1, min(torch_threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        if d == 3 and w.shape[0] == 1 and alpha * radius * radius <= 16.0:
            res = np.zeros(q.shape[0], dtype=dt)
            _cells_3d_c1(*(np.ascontiguousarray(ps[:, i]) for i in range(3)), ws[:, 0].copy(),
                         starts, *(np.ascontiguousarray(qs[:, i]) for i in range(3)), qstarts,
                         G, a, r2, reach, _EXP_COEF.astype(dt), res)
            out[:, 0] = res
        else:
            fn = _cells_3d if d == 3 else _cells_2d
            fn(ps, ws, starts, qs, qstarts, G, a, r2, reach, out)
    finally:
        numba.set_num_threads(threads)
        torch.set_num_threads(torch_threads)
    res = np.empty_like(out)
    res[order_q] = out
    return res.T                                                   # (C, M)


def _torch_batch(p, w, q, alpha, radius, chunk_elems=1 << 23):
    """Vectorised gather over the 3^d neighbour cells of width ``radius`` (any device)."""
    N, d = p.shape
    G = _grid(radius, 1)
    dev = p.device
    idx = ((p + 1.0) * (G / 2.0)).long().clamp_(0, G - 1)
    flat = idx[:, 0]
    for ax in range(1, d):
        flat = flat * G + idx[:, ax]
    order = torch.argsort(flat)
    flat_sorted = flat[order]
    counts = torch.bincount(flat_sorted, minlength=G**d)
    K = int(counts.max()) if N else 0
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(N, device=dev) - starts[flat_sorted]
    table = torch.full((G**d + 1, max(K, 1)), N, dtype=torch.long, device=dev)
    table[flat_sorted, rank] = order                               # row G^d: the empty cell
    ps = torch.cat([p, torch.zeros(1, d, dtype=p.dtype, device=dev)])
    ws = torch.cat([w.T, torch.zeros(1, w.shape[0], dtype=w.dtype, device=dev)])
    offs = torch.cartesian_prod(*[torch.arange(-1, 2, device=dev)] * d).reshape(-1, d)
    out = []
    step = max(1, chunk_elems // (len(offs) * max(K, 1) * (d + 1)))
    for qc in q.split(step):
        qi = ((qc + 1.0) * (G / 2.0)).long().clamp_(0, G - 1)     # (m, d)
        nb = qi[:, None, :] + offs[None]                           # (m, S, d)
        valid = ((nb >= 0) & (nb < G)).all(-1)
        nflat = nb[..., 0]
        for ax in range(1, d):
            nflat = nflat * G + nb[..., ax]
        nflat = torch.where(valid, nflat, torch.full_like(nflat, G**d))
        src = table[nflat].reshape(qc.shape[0], -1)                # (m, S·K)
        r = qc[:, None, :] - ps[src]                               # (m, S·K, d)
        d2 = (r * r).sum(-1)
        e = torch.where(d2 < radius * radius, torch.exp(-alpha * d2), torch.zeros_like(d2))
        out.append(torch.einsum("ms,msc->cm", e, ws[src]))
    return torch.cat(out, 1) if out else torch.zeros(w.shape[0], 0, dtype=p.dtype, device=dev)


def neighbour_sum(kernel: Kernel | str, p: torch.Tensor, w: torch.Tensor, q: torch.Tensor,
                  tol: float = 1e-4, *, radius: float | None = None,
                  backend: str = "auto", cells_per_radius: int = 3) -> torch.Tensor:
    """Gaussian kernel sum truncated at the cut-off radius for ``tol`` (or ``radius``).

    p ``(B, N, d)``, w ``(B, C, N)``, q ``(M, d)`` or ``(B, M, d)`` → ``(B, C, M)``, like
    :func:`quadfree.taylor.exact_sum`. ``backend``: ``"auto"`` (numba for CPU tensors when
    installed, else torch), ``"numba"`` or ``"torch"``. Not differentiable.

    Example:
        >>> p = torch.zeros(1, 2, 3); w = torch.ones(1, 1, 2)
        >>> neighbour_sum("exp(-50*(x**2+y**2+z**2))", p, w, torch.zeros(3, 3)).tolist()
        [[[2.0, 2.0, 2.0]]]
    """
    if p.dim() != 3 or p.shape[-1] not in (2, 3):
        raise QuadfreeError(f"sources p: shape {tuple(p.shape)} must be (B, N, 2 or 3)")
    kernel, alpha = _gaussian_alpha(kernel, p.shape[-1])
    if backend not in ("auto", "numba", "torch"):
        raise QuadfreeError(f"backend={backend!r}: choose auto, numba or torch")
    if backend == "numba" and numba is None:
        raise QuadfreeError("backend='numba': numba is not installed")
    if radius is None:
        radius = cutoff_radius(alpha, tol, kernel.dim)
    if not radius > 0:
        raise QuadfreeError(f"radius={radius!r}: must be positive")
    if not isinstance(cells_per_radius, int) or cells_per_radius < 1:
        raise QuadfreeError(f"cells_per_radius={cells_per_radius!r}: must be an integer ≥ 1")
    B = p.shape[0]
    if q.dim() == 2:
        q = q.unsqueeze(0).expand(B, -1, -1)
    w = w.to(device=p.device, dtype=p.dtype)
    q = q.to(device=p.device, dtype=p.dtype)
    use_numba = backend == "numba" or (backend == "auto" and numba is not None
                                       and p.device.type == "cpu")
    outs = []
    with torch.no_grad():
        for b in range(B):
            if use_numba:
                res = _numba_batch(p[b].cpu().numpy(), w[b].cpu().numpy(), q[b].cpu().numpy(),
                                   alpha, radius, cells_per_radius)
                outs.append(torch.from_numpy(res.copy()).to(p.device))
            else:
                outs.append(_torch_batch(p[b], w[b], q[b], alpha, radius))
    return torch.stack(outs, 0)


def backend_available() -> str:
    """``"numba"`` when the compiled backend can run, else ``"torch"``.

    Example:
        >>> backend_available() in ("numba", "torch")
        True
    """
    return "torch" if numba is None else "numba"
