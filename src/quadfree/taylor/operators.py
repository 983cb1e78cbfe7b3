"""Operator tables of the FC²T² expansion: M2M, L2L and the multi-level M2L, with a cache.

Geometry. Level ``j`` (1 … ``levels``) has ``n_j = 2^(j+1)`` cells per axis of width
``h_j = 2 / n_j`` on (−1, 1)^d; level ``levels`` is the finest. Cell expansions live in the
local coordinate ``u = (x − centre)/(h/2)`` and the orthonormal Legendre basis
(:mod:`quadfree.taylor.legendre`).

M2L. For a target cell ``t`` and a source cell ``s`` at offset ``o = t − s`` (in cells) the
kernel restricted to the two cells, ``F_o(v, u) = φ(h·o + h/2·(v − u))``, is replaced by its
least-squares polynomial fit (§3.1) ``Σ_{|k|≤ρ, |n|≤ρ} G_o[k, n] E_k(v) E_n(u)`` over both cells.
In an orthonormal basis the fit is the projection ``G_o[k, n] = ∫∫ F_o E_k E_n``; for a kernel
that factors per axis it factors too, ``G_o[k, n] = Π_i g_{o_i}[k_i, n_i]`` (separable M2L,
§3.4.1). ``fit="taylor"`` replaces the fit by the plain Taylor polynomial of φ around ``h·o``
truncated at total degree ρ (the paper's eq. 2), which does not factor.

Interaction lists, with separation s (1 in the paper, the default here is 2). A target cell
at level j receives the sources in the cells that are children of its parent's neighbours
within s parent cells: 4s + 2 cells per axis (s = 1: six cells, offsets −2…3 for an even index
and −3…2 for an odd one). At every level but the finest the inner (2s+1)^d "hole"
(|o_i| ≤ s on every axis) is left out, because the next finer level covers it. At the finest
level the hole is included: as in the paper, near-field interactions are approximated by the
expansion too. Every source is counted exactly once for every target. A larger s makes the
coarse levels meet only sources at least s cells away, where a smooth kernel is better fitted
(and a Gaussian much smaller), at (2s+1)/3 times the per-axis M2L cost.

"Pair" form. Writing a cell index as ``2X + π`` (parent X, parity π), the sources of the cells
of parent X depend only on the parents X − s … X + s: per axis the M2L is a (2s+1)-tap
operator on ``(π, n)`` vectors of length ``2(ρ+1)``, which removes the even/odd special
cases.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from math import factorial
from pathlib import Path

import numpy as np

from quadfree.atomic import atomic_path
from quadfree.errors import QuadfreeError
from quadfree.taylor.kernels import Kernel
from quadfree.taylor.legendre import eval_numpy, gauss, shift_matrices
from quadfree.taylor.multiindex import MAX_ORDER, multi_indices

FITS = ("lstsq", "taylor")
SEPARATIONS = (1, 2)


def taps(separation: int) -> tuple[int, ...]:
    """Parent-offset taps −s … s."""
    return tuple(range(-separation, separation + 1))


def cells_per_axis(level: int) -> int:
    """``n = 2^(level+1)`` cells per axis at ``level``.

    Example:
        >>> cells_per_axis(4), cells_per_axis(5)
        (32, 64)
    """
    return 2 ** (level + 1)


def offset_table_1d(f, h: float, order: int, reach: int = 3, q: int = 48) -> np.ndarray:
    """1-D least-squares M2L factors ``g[o+R, k, n] = ∫∫ f(h·o + h/2·(v−u)) e_k(v) e_n(u)``.

    ``f`` is a NumPy function of one coordinate; o = −R … R with R = ``reach``.
    Shape ``(2R+1, ρ+1, ρ+1)``.

    Example:
        >>> g = offset_table_1d(lambda t: np.ones_like(t), 0.5, 2)
        >>> round(float(g[3, 0, 0]), 12)   # ∫∫ 1 · e_0 e_0 = (∫ e_0)² = 2
        2.0
    """
    x, w = gauss(q)
    e = eval_numpy(x, order) * w[:, None]                     # (q, a) weighted basis
    v, u = np.meshgrid(x, x, indexing="ij")                   # (q, q)
    out = np.zeros((2 * reach + 1, order + 1, order + 1))
    for j, o in enumerate(range(-reach, reach + 1)):
        vals = f(h * o + 0.5 * h * (v - u))                   # (q_v, q_u)
        out[j] = e.T @ vals @ e
    return out


def _kappa(order: int, z: np.ndarray) -> np.ndarray:
    """``κ[j, k, n] = ∫ e_k(u + z_j) e_n(u) du`` over u, u + z_j ∈ [−1, 1]."""
    x, w = gauss(order + 2)
    lo = np.maximum(-1.0, -1.0 - z)
    hi = np.minimum(1.0, 1.0 - z)
    half = 0.5 * (hi - lo)
    u = lo[:, None] + half[:, None] * (x[None, :] + 1.0)              # (J, q)
    ek = eval_numpy(u + z[:, None], order)                            # (J, q, a)
    en = eval_numpy(u, order) * (w[None, :] * half[:, None])[..., None]
    return np.einsum("jqk,jqn->jkn", ek, en)


def offset_table_general(kernel: Kernel, h: float, order: int, offsets: np.ndarray,
                         fit: str = "lstsq", q: int = 16) -> np.ndarray:
    """Dense M2L tables ``G[o, k, n]`` for any kernel (no separability assumed).

    ``fit="lstsq"``: the projection ``∫∫ φ(h·o + h/2·(v−u)) E_k(v) E_n(u)``, computed through
    the difference variable z = v − u with per-half Gauss rules (``q`` nodes per half-axis).
    ``fit="taylor"``: the Legendre coefficients of the Taylor polynomial of φ at ``h·o``.
    Shapes: offsets ``(O, d)`` → ``(O, P, P)`` over storage-order multi-indices.

    Example:
        >>> k = Kernel.parse("exp(-(x**2+y**2))", dim=2)
        >>> offset_table_general(k, 0.5, 1, np.array([[0, 0]])).shape
        (1, 3, 3)
    """
    d, a = kernel.dim, order + 1
    idx = multi_indices(d, order)
    if fit == "lstsq":
        xg, wg = gauss(q)
        z = np.concatenate([xg - 1.0, xg + 1.0])                      # nodes on [-2,0],[0,2]
        wz = np.concatenate([wg, wg])
        kap = _kappa(order, z) * wz[:, None, None]                    # (J, a, a)
        grids = np.meshgrid(*[z] * d, indexing="ij")
        dense = np.zeros((len(offsets),) + (a,) * (2 * d))
        for i, o in enumerate(offsets):
            vals = kernel.numpy_fn(*[h * o[ax] + 0.5 * h * grids[ax] for ax in range(d)])
            t = np.broadcast_to(np.asarray(vals, dtype=float), grids[0].shape)
            # contract quadrature axes one at a time: t[j1..jd] -> t[(k1,n1)..(kd,nd)]
            for _ in range(d):
                t = np.tensordot(t, kap, axes=([0], [0]))           # moves (k,n) to the end
            # axes now: k1, n1, k2, n2, ... ; reorder to k1..kd, n1..nd
            perm = [2 * ax for ax in range(d)] + [2 * ax + 1 for ax in range(d)]
            dense[i] = t.transpose(perm)
    elif fit == "taylor":
        dense = _taylor_dense(kernel, h, order, offsets)
    else:
        raise QuadfreeError(f"fit={fit!r}: choose one of {', '.join(FITS)}")
    ks = tuple(np.array(c) for c in zip(*idx))
    out = dense[(slice(None),) + ks]                                  # (O, P, a, …)
    out = out[(slice(None), slice(None)) + ks]                        # (O, P, P)
    return np.ascontiguousarray(out)


def _binomial_projection(order: int) -> np.ndarray:
    """``B[m, k, n] = ∫∫ (v − u)^m e_k(v) e_n(u)`` for m ≤ ρ (exact Gauss)."""
    x, w = gauss(order + 2)
    e = eval_numpy(x, order) * w[:, None]
    v, u = np.meshgrid(x, x, indexing="ij")
    return np.stack([e.T @ ((v - u) ** m) @ e for m in range(order + 1)])


def _taylor_dense(kernel: Kernel, h: float, order: int, offsets: np.ndarray) -> np.ndarray:
    d, a = kernel.dim, order + 1
    B = _binomial_projection(order)
    dense = np.zeros((len(offsets),) + (a,) * (2 * d))
    for m in multi_indices(d, order):
        deriv = kernel.derivative_numpy(m)(*[h * offsets[:, ax].astype(float)
                                             for ax in range(d)])
        scale = (0.5 * h) ** sum(m) / np.prod([factorial(mi) for mi in m])
        prod = B[m[0]]                                                 # (k1, n1)
        for ax in range(1, d):
            prod = np.multiply.outer(prod, B[m[ax]])                   # k1 n1 k2 n2 ...
        perm = [2 * ax for ax in range(d)] + [2 * ax + 1 for ax in range(d)]
        dense += (deriv * scale)[(slice(None),) + (None,) * (2 * d)] * prod.transpose(perm)
    return dense


def in_window(o: np.ndarray, finest: bool, separation: int = 1) -> np.ndarray:
    """Whether offsets ``o`` (…, d) belong to a level's M2L list (hole excluded unless finest).

    Example:
        >>> in_window(np.array([[1, 0, 0], [2, 0, 0]]), finest=False).tolist()
        [False, True]
    """
    return np.ones(o.shape[:-1], bool) if finest else (np.abs(o) > separation).any(-1)


def pair_taps_1d(g: np.ndarray, separation: int = 1, hole_only: bool = False) -> np.ndarray:
    """Per-axis pair operator ``W[(π_t, k), (tap, π_s, n)]`` from the 1-D table ``g``.

    Source cell = ``2(X + tap) + π_s`` for target ``2X + π_t``: offset ``π_t − π_s − 2·tap``,
    tap = −s … s. ``hole_only`` keeps only |o| ≤ s. ``g`` covers o = −(2s+1) … 2s+1.
    Shape ``(2a, (2s+1)·2a)``.

    Example:
        >>> pair_taps_1d(np.zeros((7, 5, 5))).shape
        (10, 30)
    """
    a = g.shape[-1]
    reach = (g.shape[0] - 1) // 2
    tp = taps(separation)
    W = np.zeros((2, a, len(tp), 2, a))
    for pt, ti, ps in itertools.product(range(2), range(len(tp)), range(2)):
        o = pt - ps - 2 * tp[ti]
        if hole_only and abs(o) > separation:
            continue
        W[pt, :, ti, ps, :] = g[o + reach]
    return W.reshape(2 * a, len(tp) * 2 * a)


def pair_taps_general(G: dict, dim: int, P: int, finest: bool, separation: int = 1
                      ) -> np.ndarray:
    """Dense pair-block M2L: ``W[tap, (π_t, k), (π_s, n)]`` for the (2s+1)^d parent taps.

    ``G`` maps an offset tuple to its ``(P, P)`` table. Shape ``((2s+1)^d, 2^d P, 2^d P)``.
    """
    parities = list(itertools.product(range(2), repeat=dim))
    tap_list = list(itertools.product(taps(separation), repeat=dim))
    W = np.zeros((len(tap_list), len(parities), P, len(parities), P))
    for ti, tap in enumerate(tap_list):
        for a_, pt in enumerate(parities):
            for b_, ps in enumerate(parities):
                o = tuple(pt[i] - ps[i] - 2 * tap[i] for i in range(dim))
                if in_window(np.array(o), finest, separation):
                    W[ti, a_, :, b_, :] = G[o]
    return W.reshape(len(tap_list), len(parities) * P, len(parities) * P)


@dataclass
class OperatorTables:
    """Everything the passes need, as float64 NumPy arrays (device copies are made on use).

    Attributes:
        dim, levels, order, fit, separable, separation: the configuration.
        m2m: ``(a, 2a)`` per-axis M2M (parent ← (π, child)); ``l2l`` ``(2a, a)`` its transpose.
        window, hole: separable path, ``[level][axis] → (2a, 6a)`` pair operators
            (``hole`` is None at the finest level); 6a becomes (2s+1)·2a for separation s.
        general: general path, ``[level] → ((2s+1)^d, 2^d P, 2^d P)``.
        Index 0 of the per-level lists is level 1 (4 cells per axis).
    """

    dim: int
    levels: int
    order: int
    fit: str
    separable: bool
    m2m: np.ndarray
    l2l: np.ndarray
    window: list | None = None
    hole: list | None = None
    general: list | None = None
    separation: int = 2


def build_tables(kernel: Kernel, levels: int, order: int, fit: str = "lstsq",
                 separable: bool | None = None, separation: int = 2) -> OperatorTables:
    """Compute the operator tables for (kernel, levels, order, fit).

    ``separable=None`` picks the separable M2L when the kernel factors and ``fit="lstsq"``.

    Example:
        >>> k = Kernel.parse("exp(-8*(x**2+y**2))", dim=2)
        >>> t = build_tables(k, levels=2, order=2, separation=1)
        >>> t.separable, t.window[1][0].shape
        (True, (6, 18))
    """
    if not 0 <= order <= MAX_ORDER:
        raise QuadfreeError(f"order={order}: must be between 0 and {MAX_ORDER}")
    if not 1 <= levels <= 8:
        raise QuadfreeError(f"levels={levels}: must be between 1 and 8")
    if fit not in FITS:
        raise QuadfreeError(f"fit={fit!r}: choose one of {', '.join(FITS)}")
    if separation not in SEPARATIONS:
        raise QuadfreeError(f"separation={separation!r}: choose 1 or 2")
    can_separate = kernel.separable and fit == "lstsq"
    if separable is None:
        separable = can_separate
    elif separable and not can_separate:
        raise QuadfreeError(f"m2l='separable': kernel {kernel.expr} with fit={fit!r} does not "
                            "factor per axis; use m2l='general'")
    S = shift_matrices(order)
    a = order + 1
    m2m = np.concatenate([S[0], S[1]], axis=1)                         # (a, 2a)
    l2l = np.concatenate([S[0].T, S[1].T], axis=0)                     # (2a, a)
    tables = OperatorTables(dim=kernel.dim, levels=levels, order=order, fit=fit,
                            separable=separable, m2m=m2m, l2l=l2l, separation=separation)
    reach = 2 * separation + 1
    d = kernel.dim
    if separable:
        facs = [kernel.factor_numpy(ax) for ax in range(d)]
        tables.window, tables.hole = [], []
        for lev in range(1, levels + 1):
            h = 2.0 / cells_per_axis(lev)
            g = [offset_table_1d(f, h, order, reach) for f in facs]
            tables.window.append([pair_taps_1d(gi, separation) for gi in g])
            tables.hole.append(None if lev == levels else
                               [pair_taps_1d(gi, separation, True) for gi in g])
        assert all(w.shape == (2 * a, (2 * separation + 1) * 2 * a) for w in tables.window[0])
    else:
        offsets = np.array(list(itertools.product(range(-reach, reach + 1), repeat=d)))
        P = len(multi_indices(d, order))
        tables.general = []
        for lev in range(1, levels + 1):
            h = 2.0 / cells_per_axis(lev)
            G = offset_table_general(kernel, h, order, offsets, fit=fit)
            Gd = {tuple(int(v) for v in o): G[i] for i, o in enumerate(offsets)}
            tables.general.append(pair_taps_general(Gd, d, P, lev == levels, separation))
    return tables


_MEMORY: dict[str, OperatorTables] = {}


def _cache_key(kernel: Kernel, levels: int, order: int, fit: str, separable: bool | None,
               separation: int) -> str:
    text = f"v2|{kernel.key}|{levels}|{order}|{fit}|{separable}|{separation}"
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def get_tables(kernel: Kernel, levels: int, order: int, fit: str = "lstsq",
               separable: bool | None = None, cache_dir: str | Path | None = None,
               separation: int = 2) -> OperatorTables:
    """Tables from the memory cache, else the disk cache (``cache_dir``), else computed.

    Computed tables are kept in memory for the life of the process and, with ``cache_dir``,
    written there atomically as ``taylor-<hash>.npz``.

    Example:
        >>> k = Kernel.parse("exp(-8*(x**2+y**2))", dim=2)
        >>> get_tables(k, 2, 2) is get_tables(k, 2, 2)
        True
    """
    key = _cache_key(kernel, levels, order, fit, separable, separation)
    if key in _MEMORY:
        return _MEMORY[key]
    path = Path(cache_dir) / f"taylor-{key}.npz" if cache_dir is not None else None
    tables = None
    if path is not None and path.exists():
        tables = _load(path, kernel.dim, levels, order, fit, separation)
    if tables is None:
        tables = build_tables(kernel, levels, order, fit, separable, separation)
        if path is not None:
            _save(path, tables)
    _MEMORY[key] = tables
    return tables


def _save(path: Path, t: OperatorTables) -> None:
    arrays = {"m2m": t.m2m, "l2l": t.l2l, "separable": np.array(t.separable)}
    for lev in range(t.levels):
        if t.separable:
            for ax in range(t.dim):
                arrays[f"w{lev}_{ax}"] = t.window[lev][ax]
                if t.hole[lev] is not None:
                    arrays[f"h{lev}_{ax}"] = t.hole[lev][ax]
        else:
            arrays[f"g{lev}"] = t.general[lev]
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def _load(path: Path, dim: int, levels: int, order: int, fit: str, separation: int
          ) -> OperatorTables | None:
    try:
        z = np.load(path, allow_pickle=False)     # a cache never unpickles
        sep = bool(z["separable"])
        t = OperatorTables(dim=dim, levels=levels, order=order, fit=fit, separable=sep,
                           m2m=z["m2m"], l2l=z["l2l"], separation=separation)
        if sep:
            t.window = [[z[f"w{lev}_{ax}"] for ax in range(dim)] for lev in range(levels)]
            t.hole = [None if lev == levels - 1 else [z[f"h{lev}_{ax}"] for ax in range(dim)]
                      for lev in range(levels)]
        else:
            t.general = [z[f"g{lev}"] for lev in range(levels)]
        return t
    except (OSError, KeyError, ValueError):
        return None      # unreadable cache entry: recompute (and overwrite) it
