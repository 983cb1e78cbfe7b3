"""Pick the fastest correct kernel sum: FC²T² (which level and order), neighbour or dense.

:func:`plan` predicts, for an isotropic Gaussian ``exp(−α|r|²)`` on [−1, 1]^d, the relative
error of an FC²T² expansion from ``α·h²`` (h = finest cell width) and the order, and the
seconds of every candidate from a simple cost model:

* FC²T² at level L: a fixed cost per finest cell (the passes over the grid: M2L dominates),
  plus per-source (P2M) and per-target (L2P) costs;
* the truncated neighbour sum (:mod:`quadfree.taylor.neighbour`): a cost per candidate pair,
  about ``M · N · (7 r_c / 6)^d`` pairs for the cut-off radius r_c of the tolerance;
* the dense sum: a cost per pair, N·M.

:func:`fastest_sum` runs the winner. The error table was measured on uniform sources (float64,
order 2–4, 2·10⁴ sources; it grows for sparser grids and narrow kernels, and more levels
floor it for wide kernels: :func:`fc2t2_error` applies factors fitted to measured errors); the
cost constants on the project's 2-core CPU (:data:`CPU_COSTS`, one thread). Pass ``costs`` to
use other constants (e.g. from ``quadfree bench taylor`` on another machine). Kernels that are
not isotropic Gaussians get the dense sum up to ``dense_limit`` pairs, else FC²T² at level 4,
order 4 (their error is not predicted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from quadfree.errors import QuadfreeError
from quadfree.taylor.exact import exact_sum
from quadfree.taylor.expansion import FC2T2, check_points
from quadfree.taylor.kernels import Kernel
from quadfree.taylor.multiindex import num_coefficients
from quadfree.taylor.neighbour import cutoff_radius, neighbour_sum
from quadfree.taylor.operators import cells_per_axis

# Relative L2 error of FC²T² (separation 2, least-squares fit, float64) against α·h², per
# order: level 3, 2·10⁴ uniform sources in (−1, 1)³ (39 per finest cell), uniform weights.
ALPHA_H2 = (1 / 64, 1 / 16, 1 / 4, 1 / 2, 1.0, 2.0, 4.0)
ERROR_TABLE = {
    2: (4.10e-4, 4.33e-4, 6.36e-4, 2.34e-3, 9.10e-3, 3.45e-2, 1.14e-1),
    3: (4.54e-5, 7.75e-5, 9.34e-5, 4.11e-4, 2.44e-3, 1.32e-2, 5.87e-2),
    4: (4.22e-6, 9.81e-6, 1.30e-5, 6.79e-5, 5.45e-4, 4.25e-3, 2.68e-2),
}
TABLE_DENSITY = 2e4 / 8**3          # sources per finest cell behind ERROR_TABLE
# Calibration against 105 measured errors (levels 3–5, 10³–10⁵ uniform sources, 0.03–39 per
# finest cell, α·h² 1/64 … 2, orders 2–4, float64; docs/taylor_error_model.md):
# * below SPARSE_DENSITY sources per finest cell the error grows as
#   (SPARSE_DENSITY / density)^β, β rising log-linearly in α·h² from 0 at 1/64 (wide kernels:
#   no growth measured) to SPARSE_EXPONENT at 1/4 and beyond;
# * from level 4 on, wide kernels do not get below the table's value at α·h² = 1/16
#   (MULTILEVEL_FLOOR: the coarser levels' fit error);
# * the fit under-predicts by at most 1.34×; SAFETY = 1.5 covers it.
SPARSE_DENSITY = 6.0
SPARSE_EXPONENT = 0.35
SPARSE_WIDTHS = (1 / 64, 1 / 4)
MULTILEVEL_FLOOR = 1 / 16
SAFETY = 1.5

@dataclass(frozen=True)
class Costs:
    """Seconds of the cost model (one device, float32).

    Attributes:
        fc2t2_per_cell: fixed FC²T² seconds per finest cell at order 4 (scaled by P²/35²
            for lower orders).
        fc2t2_per_source, fc2t2_per_target: P2M and L2P seconds per point.
        neighbour_per_pair: seconds per candidate pair of the neighbour sum.
        neighbour_per_point: sorting and bookkeeping per source/target.
        dense_per_pair: seconds per pair of the blocked dense sum.

    The defaults were measured in one process on the project's 2-core CPU, one thread,
    with only a niced background job on the other core (session 4: level-4/5 expansions of
    10⁶ sources, compiled P2M/L2P, and ``quadfree bench taylor``'s neighbour and dense rows;
    the neighbour sum took 1.3–3·10⁻⁹ s per modelled pair, the lower end is used so that the
    model leans towards it). The former constants came from a heavily loaded machine and
    the slower engine, 2–8× higher.
    """

    fc2t2_per_cell: float = 1.25e-6
    fc2t2_per_source: float = 1e-7
    fc2t2_per_target: float = 1.4e-7
    neighbour_per_pair: float = 1.5e-9
    neighbour_per_point: float = 2e-7
    dense_per_pair: float = 1.4e-9


CPU_COSTS = Costs()


@dataclass(frozen=True)
class Plan:
    """The chosen method and what the model predicted.

    Attributes:
        method: ``"fc2t2"``, ``"neighbour"`` or ``"dense"``.
        levels, order: FC²T² configuration (None for the other methods).
        predicted_error: model error of the chosen method (None when not modelled).
        predicted_s: model seconds of the chosen method.
        candidates: model seconds of every candidate that meets the tolerance.
    """

    method: str
    levels: int | None
    order: int | None
    predicted_error: float | None
    predicted_s: float
    candidates: dict = field(default_factory=dict)


def fc2t2_error(alpha_h2: float, order: int, n_sources: int, levels: int, dim: int = 3
                ) -> float:
    """Predicted relative error of FC²T² for ``α·h²`` and ``order`` (log-log interpolation).

    The level-3 table (:data:`ERROR_TABLE`), floored at α·h² = :data:`MULTILEVEL_FLOOR` from
    level 4 on, times the sparse-grid factor ``(SPARSE_DENSITY / density)^β`` (β from 0 for
    wide kernels to :data:`SPARSE_EXPONENT` for narrow ones) and :data:`SAFETY`. Fitted to
    measured errors at 0.03–39 sources per finest cell (levels 3–5, α·h² 1/64 … 2). Wider
    kernels than the table's range keep its first value, narrower ones extrapolate with the
    last slope.

    Example:
        >>> fc2t2_error(0.5, 4, 10**5, 5) < fc2t2_error(2.0, 4, 10**5, 5)
        True
    """
    if order not in ERROR_TABLE:
        raise QuadfreeError(f"order={order}: the error model covers orders 2 to 4")
    x = np.log(np.asarray(ALPHA_H2))
    y = np.log(np.asarray(ERROR_TABLE[order]))
    width = max(alpha_h2, 1e-12)
    t = math.log(max(width, MULTILEVEL_FLOOR) if levels >= 4 else width)
    if t <= x[0]:
        err = math.exp(y[0])
    elif t >= x[-1]:
        err = math.exp(y[-1] + (t - x[-1]) * (y[-1] - y[-2]) / (x[-1] - x[-2]))
    else:
        err = math.exp(float(np.interp(t, x, y)))
    lo, hi = (math.log(v) for v in SPARSE_WIDTHS)
    beta = SPARSE_EXPONENT * min(max((math.log(width) - lo) / (hi - lo), 0.0), 1.0)
    density = max(n_sources, 1) / cells_per_axis(levels) ** dim
    sparse = max(1.0, SPARSE_DENSITY / density) ** beta
    return min(1.0, SAFETY * err * sparse)


def neighbour_pairs(alpha: float, tol: float, n: int, m: int, dim: int = 3) -> float:
    """Candidate pairs the neighbour sum visits: cells of r_c/3, 7 cells per axis.

    A target at x meets the sources in ``[x − c, x + c] ∩ [−1, 1]`` per axis, c = 7r_c/6;
    averaged over uniform x that interval is ``2c − c²/2`` long (c ≤ 2).

    Example:
        >>> neighbour_pairs(1e-3, 0.5, 100, 100)       # a kernel wider than the domain
        10000.0
    """
    c = min(2.0, 7.0 / 6.0 * cutoff_radius(alpha, tol, dim))
    share = (2.0 * c - 0.5 * c * c) / 2.0
    return m * n * share**dim


def plan(kernel: Kernel | str, n: int, m: int, tol: float = 1e-4, *, dim: int | None = None,
         costs: Costs = CPU_COSTS, max_levels: int = 5, dense_limit: float = 1e8) -> Plan:
    """Choose the fastest method whose predicted relative error is ≤ ``tol``.

    ``n`` sources, ``m`` targets. Levels up to ``max_levels`` (level 6 holds 1 GB per float32
    grid copy). Returns a :class:`Plan`.

    Example:
        >>> plan("exp(-512*(x**2+y**2+z**2))", 10**6, 10**6, 1e-3).method
        'fc2t2'
        >>> plan("exp(-512*(x**2+y**2+z**2))", 10**5, 10**5, 1e-4).method
        'neighbour'
        >>> plan("1/(1+x**2+y**2+z**2)", 1000, 1000).method
        'dense'
    """
    if not 0.0 < tol < 1.0:
        raise QuadfreeError(f"tol={tol!r}: must lie in (0, 1)")
    if n < 0 or m < 0:
        raise QuadfreeError(f"n={n}, m={m}: must not be negative")
    kernel = Kernel.parse(kernel, dim)
    d = kernel.dim
    cand: dict[str, tuple[float, float | None, int | None, int | None]] = {}
    dense_s = costs.dense_per_pair * n * m
    cand["dense"] = (dense_s, 0.0, None, None)
    alpha = kernel.gaussian_alpha
    if alpha is None:
        if n * m > dense_limit:
            s = _fc2t2_seconds(costs, 4, 4, n, m, d)
            return Plan("fc2t2", 4, 4, None, s, {"fc2t2 L4 o4": s, "dense": dense_s})
        return Plan("dense", None, None, 0.0, dense_s, {"dense": dense_s})
    cand["neighbour"] = (costs.neighbour_per_pair * neighbour_pairs(alpha, tol, n, m, d)
                         + costs.neighbour_per_point * (n + m), tol, None, None)
    for lev in range(1, max_levels + 1):
        h = 2.0 / cells_per_axis(lev)
        for order in sorted(ERROR_TABLE):
            err = fc2t2_error(alpha * h * h, order, n, lev, d)
            if err <= tol:
                cand[f"fc2t2 L{lev} o{order}"] = (_fc2t2_seconds(costs, lev, order, n, m, d),
                                                  err, lev, order)
    name = min(cand, key=lambda k: cand[k][0])
    s, err, lev, order = cand[name]
    method = name.split()[0]
    return Plan(method, lev, order, err, s, {k: v[0] for k, v in cand.items()})


def _fc2t2_seconds(costs: Costs, levels: int, order: int, n: int, m: int, dim: int) -> float:
    P = num_coefficients(dim, order) / num_coefficients(dim, 4)
    cells = cells_per_axis(levels) ** dim * 8 / 7          # all levels of the grid
    return (costs.fc2t2_per_cell * cells * P * P + costs.fc2t2_per_source * n * P
            + costs.fc2t2_per_target * m * P)


def fastest_sum(p: torch.Tensor, w: torch.Tensor, q: torch.Tensor, kernel: Kernel | str,
                tol: float = 1e-4, *, costs: Costs = CPU_COSTS,
                return_plan: bool = False):
    """``Σ_n φ(q_m − p_n) w_n`` by whichever method :func:`plan` predicts to be fastest.

    p ``(B, N, d)``, w ``(B, C, N)``, q ``(M, d)`` or ``(B, M, d)`` → ``(B, C, M)``; with
    ``return_plan`` also the :class:`Plan` that answered. The result is within about ``tol``
    (relative L2) of the exact sum for Gaussian kernels.

    Example:
        >>> p = torch.rand(1, 300, 3) * 2 - 1; w = torch.ones(1, 1, 300)
        >>> y, chosen = fastest_sum(p, w, p[0], "1/(1+x**2+y**2+z**2)", return_plan=True)
        >>> y.shape, chosen.method
        (torch.Size([1, 1, 300]), 'dense')
    """
    if not isinstance(p, torch.Tensor) or p.dim() != 3:
        raise QuadfreeError("sources p: expected a (B, N, d) tensor")
    kernel = Kernel.parse(kernel, p.shape[-1])
    p = check_points("sources p", p, kernel.dim)
    q = check_points("query points q", q, kernel.dim)
    chosen = plan(kernel, p.shape[1], q.shape[-2], tol, costs=costs)
    if chosen.method == "dense":
        y = exact_sum(kernel, p, w, q)
    elif chosen.method == "neighbour":
        y = neighbour_sum(kernel, p, w, q, tol)
    else:
        y = FC2T2(kernel, levels=chosen.levels, order=chosen.order).expand(p, w)(q)
    return (y, chosen) if return_plan else y
