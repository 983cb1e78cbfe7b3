"""``quadfree bench taylor``: FC²T² against the peers a user would pick (issue 12).

3-D Gaussian kernel ``exp(−α|r|²)``, uniform random sources and targets in (−1, 1)³, B = C = 1,
float32, one process. For every (level, N = M) row: expansion seconds (P2M … L2L) and
evaluation seconds (L2P at all M targets), medians over ``repeats`` after a warm-up; the
relative L2 error on a random subset of targets against a float64 exact sum; and the peers:

* the truncated cell-list neighbour sum (:mod:`quadfree.taylor.neighbour`, compiled with
  numba on CPU) with its cut-off chosen for the expansion's measured error (``neighbour_s``,
  ``neighbour_rel_error``; timed on a subset of targets and scaled linearly in M when its pair
  count is large: ``neighbour_extrapolated``);
* KeOps (``keops_s``) when ``pykeops`` is installed, else null;
* the blocked dense float32 sum for N ≤ ``dense_max`` only (timed on a subset of targets,
  scaled linearly in M: ``exact_extrapolated``), else null.

``speedup`` is over the dense sum, ``speedup_vs_neighbour`` over the neighbour sum. The width
sweep (α·h² from 1/64 to 2 at the finest level, N = M = ``sweep_size``) gives the same
comparison per width and what :func:`quadfree.taylor.auto.fastest_sum` chose and took
(``auto_method``) at the expansion's own error, which leaves the expansion no margin; so each
width also runs it at a user's tolerance ``user_tol = max(auto_tol, 1.5 × rel_error)``
(``user_auto_method``, ``user_auto_s``, ``user_auto_rel_error``), against the neighbour sum
at that same tolerance (``user_neighbour_s``). ``passes``: per level, seconds, FLOPs and
GFLOP/s of every pass at the largest N, against ``matmul_peak_gflops`` (a 2048² float32
matmul on the same device). A PNG of time vs N + M goes to ``plot``.

Options are typed (:class:`TaylorBenchOptions`); the flags live in
``quadfree.cli.bench_taylor``.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from quadfree.atomic import save_figure
from quadfree.errors import QuadfreeError
from quadfree.machine import machine_info
from quadfree.seeding import seed_everything
from quadfree.taylor import FC2T2, exact_sum
from quadfree.taylor.auto import fastest_sum, neighbour_pairs
from quadfree.taylor.multiindex import MAX_ORDER
from quadfree.taylor.neighbour import backend_available, neighbour_sum
from quadfree.taylor.operators import cells_per_axis
from quadfree.taylor.timing import matmul_peak, profile_expand

SWEEP = (1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0, 2.0)
MAX_LEVELS = 8                     # FC2T2 accepts levels 1 … 8


@dataclass
class TaylorBenchOptions:
    """What ``quadfree bench taylor`` runs (typed; the flags live in
    ``quadfree.cli.bench_taylor``).

    Attributes:
        levels: FC²T² levels, one row per (level, size).
        order: expansion order ρ.
        sizes: N = M values of the rows.
        alpha_h2: α·h² at the finest level (kernel width matched to the grid).
        error_targets: targets for the float64 reference (``rel_error``).
        timing_targets: targets on which the float32 dense sum is timed.
        repeats: timing repeats (median).
        sweep: α·h² values of the width sweep (empty: no sweep).
        sweep_size: N = M of the sweep; sweep_error_targets: its float64 reference targets.
        auto_tol: a user's tolerance for the sweep's second ``fastest_sum`` call (raised to
            1.5 × the expansion's measured error where that is larger).
        dense_max: time the dense sum only up to this N.
        pair_budget: neighbour/KeOps pairs timed before scaling in M.
        plot: write the figure here (None: no figure).
        seed, device, progress: as everywhere.
    """

    levels: tuple[int, ...] = (4, 5)
    order: int = 4
    sizes: tuple[int, ...] = (10**4, 10**5, 10**6)
    alpha_h2: float = 0.5
    error_targets: int = 10_000
    timing_targets: int = 2_000
    repeats: int = 3
    sweep: tuple[float, ...] = SWEEP
    sweep_size: int = 10**5
    sweep_error_targets: int = 2_000
    auto_tol: float = 1e-4
    dense_max: int = 10**5
    pair_budget: float = 2e8
    plot: Path | None = None
    seed: int = 0
    device: torch.device | str = "cpu"
    progress: bool = True

    def check(self) -> None:
        """Raise :class:`QuadfreeError` naming the first option out of range (``param``).

        Example:
            >>> TaylorBenchOptions(levels=(4, 9)).check()
            Traceback (most recent call last):
            ...
            quadfree.errors.QuadfreeError: levels (4, 9): each must be an integer in [1, 8]
        """
        for name, values in (("levels", self.levels), ("sizes", self.sizes)):
            if not values:
                raise QuadfreeError(f"{name}: give at least one value", param=name)
        if any(not 1 <= lev <= MAX_LEVELS for lev in self.levels):
            raise QuadfreeError(f"levels {self.levels}: each must be an integer in "
                                f"[1, {MAX_LEVELS}]", param="levels")
        if not 0 <= self.order <= MAX_ORDER:
            raise QuadfreeError(f"order {self.order}: must be in [0, {MAX_ORDER}]",
                                param="order")
        if any(n < 1 for n in self.sizes):
            raise QuadfreeError(f"sizes {self.sizes}: each must be >= 1", param="sizes")
        for name in ("error_targets", "timing_targets", "repeats", "sweep_size",
                     "sweep_error_targets"):
            if getattr(self, name) < 1:
                raise QuadfreeError(f"{name} {getattr(self, name)}: must be >= 1", param=name)
        if self.dense_max < 0:
            raise QuadfreeError(f"dense_max {self.dense_max}: must be >= 0", param="dense_max")
        if not 0 < self.auto_tol < 1:
            raise QuadfreeError(f"auto_tol {self.auto_tol}: must be in (0, 1)",
                                param="auto_tol")
        for name in ("alpha_h2", "pair_budget"):
            if not getattr(self, name) > 0:
                raise QuadfreeError(f"{name} {getattr(self, name)}: must be > 0", param=name)
        if any(not t > 0 for t in self.sweep):
            raise QuadfreeError(f"sweep {self.sweep}: each α·h² must be > 0", param="sweep")


def _median_time(fn, repeats: int, device: torch.device) -> float:
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _problem(n: int, gen: torch.Generator, device: torch.device):
    p = (torch.rand(1, n, 3, generator=gen) * 2 - 1).to(device)
    w = torch.rand(1, 1, n, generator=gen).to(device)
    q = (torch.rand(1, n, 3, generator=gen) * 2 - 1).to(device)
    return p, w, q


def _rel_error(kernel, y: torch.Tensor, p, w, q) -> float:
    ref = exact_sum(kernel, p.double(), w.double(), q.double())
    return float((y.double() - ref).norm() / ref.norm())


def _kernel(alpha: float) -> str:
    return f"exp(-{alpha!r}*(x**2 + y**2 + z**2))"


def _keops_seconds(p, w, q, alpha: float, m_sub: int, repeats: int, device) -> float | None:
    """KeOps Gaussian sum on ``m_sub`` targets, scaled to all of q; None without pykeops."""
    try:
        from pykeops.torch import LazyTensor
    except ImportError:
        return None
    x = LazyTensor(q[0, :m_sub, None, :].contiguous())
    y = LazyTensor(p[0, None, :, :].contiguous())
    K = (-alpha * ((x - y) ** 2).sum(-1)).exp()
    b = w[0, 0][:, None].contiguous()
    (K @ b)                                            # compile outside the timing
    return _median_time(lambda: K @ b, repeats, device) * q.shape[1] / m_sub


def _neighbour(kernel, p, w, q, tol, alpha, repeats, budget, device):
    """Median seconds of the neighbour sum at ``tol`` (scaled from a target subset when the
    pair count exceeds ``budget``), the targets timed, and its relative error on q_err."""
    M = q.shape[1]
    pairs = neighbour_pairs(alpha, tol, p.shape[1], M)
    m_sub = M if pairs <= budget else max(1000, min(M, int(M * budget / pairs)))
    qs = q[:, :m_sub]
    neighbour_sum(kernel, p[:, :64], w[:, :, :64], qs[:, :64], tol)      # numba compile
    sec = _median_time(lambda: neighbour_sum(kernel, p, w, qs, tol), repeats, device)
    return sec * M / m_sub, m_sub


def _compare(kernel, alpha, S, p, w, q, opts: TaylorBenchOptions, device, err_targets,
             auto: bool) -> dict:
    """Time and check FC²T², the neighbour sum, KeOps and (small N) the dense sum."""
    n = p.shape[1]
    S._ops(p.device, p.dtype)
    holder = {}

    def do_expand():
        holder["E"] = S.expand(p, w)

    do_expand()                                                        # warm-up
    expand_s = _median_time(do_expand, opts.repeats, device)
    E = holder["E"]
    eval_s = _median_time(lambda: E(q), opts.repeats, device)
    qe = q[:, :err_targets]
    rel = _rel_error(S.kernel, E(qe), p, w, qe)
    total = expand_s + eval_s
    tol = min(max(rel, 1e-7), 0.5)                      # matched error for the peers
    nb_s, nb_m = _neighbour(S.kernel, p, w, q, tol, alpha, opts.repeats, opts.pair_budget,
                            device)
    nb_rel = _rel_error(S.kernel, neighbour_sum(S.kernel, p, w, qe, tol), p, w, qe)
    keops_s = _keops_seconds(p, w, q, alpha, nb_m, opts.repeats, device)
    row = {"n": n, "m": q.shape[1], "alpha": alpha, "expand_s": expand_s, "eval_s": eval_s,
           "rel_error": rel, "rel_error_targets": qe.shape[1],
           "neighbour_s": nb_s, "neighbour_rel_error": nb_rel, "neighbour_tol": tol,
           "neighbour_backend": "torch" if device.type == "cuda" else backend_available(),
           "neighbour_timed_targets": nb_m, "neighbour_extrapolated": nb_m < q.shape[1],
           "speedup_vs_neighbour": nb_s / total, "keops_s": keops_s,
           "speedup_vs_keops": None if keops_s is None else keops_s / total}
    if n <= opts.dense_max:
        m_time = min(q.shape[1], opts.timing_targets)
        exact_sub = _median_time(lambda: exact_sum(S.kernel, p, w, q[:, :m_time]), 1, device)
        row.update(exact_s=exact_sub * q.shape[1] / m_time, exact_extrapolated=m_time < n,
                   exact_timed_targets=m_time)
        row["speedup"] = row["exact_s"] / total
    else:
        row.update(exact_s=None, exact_extrapolated=None, exact_timed_targets=0, speedup=None)
    if auto:
        out = {}

        def do_auto():
            out["y"], out["plan"] = fastest_sum(p, w, q, S.kernel, tol, return_plan=True)

        do_auto()
        row["auto_s"] = _median_time(do_auto, opts.repeats, device)
        chosen = out["plan"]
        row.update(auto_method=chosen.method, auto_levels=chosen.levels,
                   auto_order=chosen.order, auto_tol=tol,
                   auto_rel_error=_rel_error(S.kernel, out["y"][:, :, :err_targets], p, w, qe),
                   auto_speedup_vs_neighbour=nb_s / row["auto_s"])
        row.update(_user_tolerance(S.kernel, alpha, p, w, q, qe, rel, opts, device))
    return row


def _user_tolerance(kernel, alpha, p, w, q, qe, rel: float, opts: TaylorBenchOptions,
                    device) -> dict:
    """``fastest_sum`` and its peer, the neighbour sum, at a user's tolerance
    ``max(auto_tol, 1.5 · rel)`` (capped at 0.5): which path answered, seconds, errors."""
    tol = min(max(opts.auto_tol, 1.5 * rel), 0.5)
    out = {}

    def do_auto():
        out["y"], out["plan"] = fastest_sum(p, w, q, kernel, tol, return_plan=True)

    do_auto()
    auto_s = _median_time(do_auto, opts.repeats, device)
    chosen = out["plan"]
    err = _rel_error(kernel, out["y"][:, :, :qe.shape[1]], p, w, qe)
    nb_s, nb_m = _neighbour(kernel, p, w, q, tol, alpha, opts.repeats, opts.pair_budget,
                            device)
    nb_rel = _rel_error(kernel, neighbour_sum(kernel, p, w, qe, tol), p, w, qe)
    return {"user_tol": tol, "user_auto_method": chosen.method,
            "user_auto_levels": chosen.levels, "user_auto_order": chosen.order,
            "user_auto_s": auto_s, "user_auto_rel_error": err,
            "user_auto_met_tol": err <= tol,
            "user_neighbour_s": nb_s, "user_neighbour_rel_error": nb_rel,
            "user_neighbour_timed_targets": nb_m,
            "user_neighbour_extrapolated": nb_m < q.shape[1],
            "user_auto_speedup_vs_neighbour": nb_s / auto_s}


def run_benchmark(opts: TaylorBenchOptions) -> dict:
    """Run the benchmark; returns the JSON-ready result (and writes ``opts.plot``).

    Example:
        >>> run_benchmark(TaylorBenchOptions(repeats=0))
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: repeats 0: must be >= 1
    """
    opts.check()                                       # bad settings fail before any work
    device = torch.device(opts.device)
    gen = seed_everything(opts.seed)
    problems = {n: _problem(n, gen, device) for n in opts.sizes}
    rows = []
    steps = [(lev, n) for lev in opts.levels for n in opts.sizes]
    for lev, n in tqdm(steps, desc="taylor bench", disable=not opts.progress):
        h = 2.0 / cells_per_axis(lev)
        alpha = opts.alpha_h2 / h**2
        S = FC2T2(_kernel(alpha), levels=lev, order=opts.order)
        p, w, q = problems[n]
        row = {"level": lev, "order": opts.order, "alpha_h2": opts.alpha_h2}
        row.update(_compare(S.kernel, alpha, S, p, w, q, opts, device,
                            min(n, opts.error_targets), auto=False))
        rows.append(row)
    scaling = {}
    for lev in opts.levels:
        pts = {r["n"]: r["expand_s"] + r["eval_s"] for r in rows if r["level"] == lev}
        if 10**5 in pts and 10**6 in pts:
            scaling[str(lev)] = math.log(pts[10**6] / pts[10**5]) / math.log(10.0)
    finest = max(opts.levels)
    peak = matmul_peak(device)
    largest = max(opts.sizes)
    p, w, q = problems[largest]
    pass_table = {}
    for lev in opts.levels:
        h = 2.0 / cells_per_axis(lev)
        S = FC2T2(_kernel(opts.alpha_h2 / h**2), levels=lev, order=opts.order)
        S.expand(p, w)
        pass_table[str(lev)] = profile_expand(S, p, w, q[0], opts.repeats, peak)
    sweep = []
    if opts.sweep:
        p, w, q = _problem(opts.sweep_size, gen, device)
        h = 2.0 / cells_per_axis(finest)
        for t in tqdm(opts.sweep, desc="width sweep", disable=not opts.progress):
            S = FC2T2(_kernel(t / h**2), levels=finest, order=opts.order)
            row = {"level": finest, "order": opts.order, "alpha_h2": t,
                   "sigma_over_h": 1 / math.sqrt(2 * t)}
            row.update(_compare(S.kernel, t / h**2, S, p, w, q, opts, device,
                                min(opts.sweep_size, opts.sweep_error_targets), auto=True))
            sweep.append(row)
    result = {
        "benchmark": "taylor",
        "kernel": "exp(-alpha*(x**2+y**2+z**2)), alpha = alpha_h2 / h**2, h = 2 / 2**(level+1)",
        "rows": rows,
        "scaling_exponent": scaling.get(str(finest)),
        "scaling_exponent_by_level": scaling,
        "alpha_sweep": sweep,
        "passes": pass_table,
        "passes_n": largest,
        "matmul_peak_gflops": peak,
        "notes": ("float32, one process, medians over repeats after a warm-up. rel_error: "
                  "relative L2 error against a float64 exact sum on rel_error_targets targets. "
                  "neighbour_s: cell-list sum truncated at the radius whose Gaussian tail share "
                  "equals the expansion's rel_error (neighbour_tol); scaled linearly from "
                  "neighbour_timed_targets targets when neighbour_extrapolated. exact_s: "
                  "blocked dense float32 sum, only for n <= dense_max, scaled from "
                  "exact_timed_targets targets. keops_s: null when pykeops is not installed. "
                  "alpha_sweep: the same per kernel width at the finest level; auto_*: "
                  "quadfree.taylor.auto.fastest_sum at tol = neighbour_tol (which path "
                  "answered, its seconds and error); user_*: the same at user_tol = "
                  "max(auto_tol, 1.5 * rel_error), capped at 0.5, where the expansion has a "
                  "margin, against the neighbour sum at user_tol (user_neighbour_s; "
                  "user_auto_met_tol: user_auto_rel_error <= user_tol). passes: per-pass "
                  "medians at passes_n sources and targets; flops are executed GEMM FLOPs "
                  "(band zeros included) for M2M/M2L/L2L and arithmetic estimates for "
                  "P2M/L2P; peak_fraction = "
                  "gflops / matmul_peak_gflops."),
        "machine": machine_info(device),
    }
    result["machine"]["neighbour_backend"] = backend_available()
    if opts.plot is not None:
        _plot(rows, Path(opts.plot))
    return result


def _plot(rows: list[dict], target: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    levels = sorted({r["level"] for r in rows})
    for lev in levels:
        rs = sorted((r for r in rows if r["level"] == lev), key=lambda r: r["n"])
        x = [2 * r["n"] for r in rs]
        ax.loglog(x, [r["expand_s"] + r["eval_s"] for r in rs], "o-",
                  label=f"FC²T² level {lev} (expand + eval)")
        ax.loglog(x, [r["neighbour_s"] for r in rs], "^:",
                  label=f"neighbour sum, matched error (α of level {lev})")
    rs = sorted((r for r in rows if r["level"] == levels[-1] and r["exact_s"] is not None),
                key=lambda r: r["n"])
    if rs:
        ax.loglog([2 * r["n"] for r in rs], [r["exact_s"] for r in rs], "s--k",
                  label="exact dense sum (float32 torch)")
    ax.set_xlabel("N + M")
    ax.set_ylabel("seconds")
    ax.set_title("3-D Gaussian kernel sum, N = M, ρ = 4")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, target, dpi=120)
    plt.close(fig)
