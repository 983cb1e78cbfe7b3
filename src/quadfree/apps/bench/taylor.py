"""``quadfree bench taylor``: FC²T² expansion vs the exact (blocked dense torch) kernel sum.

3-D Gaussian kernel ``exp(−α|r|²)``, uniform random sources and targets in (−1, 1)³, B = C = 1.
For every (level, N = M) row: expansion seconds (P2M … L2L), evaluation seconds (L2P at all
M targets), both medians over ``--repeats``; the relative L2 error on a random subset of
targets against a float64 exact sum; the exact float32 sum's seconds (timed on a subset of
targets and scaled linearly in M when M is larger — ``exact_extrapolated``), and the speedup
``exact_s / (expand_s + eval_s)``. α defaults to ``--alpha-h2 / h²`` (h = finest cell width),
i.e. the kernel width is matched to the grid; ``alpha_sweep`` reports the width/accuracy
trade-off at the finest level. A PNG of time vs N + M goes next to the JSON.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import torch
from tqdm import tqdm

from quadfree.atomic import save_figure
from quadfree.device import resolve_device
from quadfree.machine import machine_info
from quadfree.seeding import seed_everything
from quadfree.taylor import FC2T2, exact_sum
from quadfree.taylor.operators import cells_per_axis


def _ints(text: str) -> list[int]:
    return [int(float(v)) for v in text.split(",") if v]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--levels", type=_ints, default=[4, 5], help="levels (default 4,5)")
    parser.add_argument("--order", type=int, default=4, help="expansion order ρ (default 4)")
    parser.add_argument("--sizes", type=_ints, default=[10**4, 10**5, 10**6],
                        help="N = M values (default 1e4,1e5,1e6)")
    parser.add_argument("--alpha-h2", type=float, default=0.5,
                        help="α·h² at the finest level (kernel width matched to the grid)")
    parser.add_argument("--error-targets", type=int, default=10_000,
                        help="targets for the float64 reference / rel_error (default 1e4)")
    parser.add_argument("--timing-targets", type=int, default=2_000,
                        help="targets on which the float32 exact sum is timed (default 2000)")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (median)")
    parser.add_argument("--sweep", type=_floats, default=[0.125, 0.25, 0.5, 1.0, 2.0, 4.0],
                        help="α·h² values for the width/accuracy sweep ('' to skip)")
    parser.add_argument("--sweep-size", type=int, default=10**5, help="N = M for the sweep")


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


def _rel_error(S: FC2T2, E, p, w, q, count: int) -> float:
    sub = q[:, :count]
    ref = exact_sum(S.kernel, p.double(), w.double(), sub.double())
    approx = E(sub).double()
    return float((approx - ref).norm() / ref.norm())


def run(args: argparse.Namespace) -> dict:
    device = resolve_device(args.device)
    gen = seed_everything(args.seed)
    problems = {n: _problem(n, gen, device) for n in args.sizes}
    rows = []
    steps = [(lev, n) for lev in args.levels for n in args.sizes]
    for lev, n in tqdm(steps, desc="taylor bench", disable=args.quiet):
        h = 2.0 / cells_per_axis(lev)
        alpha = args.alpha_h2 / h**2
        S = FC2T2(f"exp(-{alpha!r}*(x**2 + y**2 + z**2))", levels=lev, order=args.order)
        p, w, q = problems[n]
        S._ops(p.device, p.dtype)           # tables onto the device; first-call costs go
        holder = {}                          # into the median of the repeats

        def do_expand(S=S, p=p, w=w, holder=holder):
            holder["E"] = S.expand(p, w)

        expand_s = _median_time(do_expand, args.repeats, device)
        E = holder["E"]
        eval_s = _median_time(lambda E=E, q=q: E(q), args.repeats, device)
        rel = _rel_error(S, E, p, w, q, min(n, args.error_targets))
        m_time = min(n, args.timing_targets)
        exact_sub = _median_time(lambda S=S, p=p, w=w, q=q, m=m_time:
                                 exact_sum(S.kernel, p, w, q[:, :m]), 1, device)
        exact_s = exact_sub * n / m_time
        total = expand_s + eval_s
        rows.append({"level": lev, "order": args.order, "n": n, "m": n, "alpha": alpha,
                     "alpha_h2": args.alpha_h2, "expand_s": expand_s, "eval_s": eval_s,
                     "exact_s": exact_s, "exact_extrapolated": m_time < n,
                     "exact_timed_targets": m_time, "rel_error": rel,
                     "rel_error_targets": min(n, args.error_targets),
                     "speedup": exact_s / total})
    scaling = {}
    for lev in args.levels:
        pts = {r["n"]: r["expand_s"] + r["eval_s"] for r in rows if r["level"] == lev}
        if 10**5 in pts and 10**6 in pts:
            scaling[str(lev)] = math.log(pts[10**6] / pts[10**5]) / math.log(10.0)
    finest = max(args.levels)
    sweep = []
    if args.sweep:
        p, w, q = _problem(args.sweep_size, gen, device)
        h = 2.0 / cells_per_axis(finest)
        for t in tqdm(args.sweep, desc="alpha sweep", disable=args.quiet):
            S = FC2T2(f"exp(-{t / h**2!r}*(x**2 + y**2 + z**2))", levels=finest,
                      order=args.order)
            E = S.expand(p, w)
            sweep.append({"level": finest, "order": args.order, "alpha_h2": t,
                          "alpha": t / h**2, "sigma_over_h": 1 / math.sqrt(2 * t),
                          "n": args.sweep_size,
                          "rel_error": _rel_error(S, E, p, w, q, args.error_targets)})
    result = {
        "benchmark": "taylor",
        "kernel": "exp(-alpha*(x**2+y**2+z**2)), alpha = alpha_h2 / h**2, h = 2 / 2**(level+1)",
        "rows": rows,
        "scaling_exponent": scaling.get(str(finest)),
        "scaling_exponent_by_level": scaling,
        "alpha_sweep": sweep,
        "notes": ("expand_s, eval_s: medians over repeats (float32). exact_s: blocked dense "
                  "float32 torch sum timed on exact_timed_targets targets and scaled linearly "
                  "to m when exact_extrapolated. rel_error: relative L2 error of the float32 "
                  "expansion against a float64 exact sum on rel_error_targets targets. "
                  "scaling_exponent: slope of log(expand_s + eval_s) vs log(N + M) from 1e5 "
                  "to 1e6 at the finest level."),
        "machine": machine_info(device),
    }
    if args.json:
        _plot(rows, Path(args.json).with_suffix(".png"))
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
    rs = sorted((r for r in rows if r["level"] == levels[-1]), key=lambda r: r["n"])
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
