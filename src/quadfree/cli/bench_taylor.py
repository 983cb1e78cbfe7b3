"""Flags of ``quadfree bench taylor`` → :class:`~quadfree.apps.bench.taylor.TaylorBenchOptions`.

The library module (and torch) is imported inside the functions, not when this module loads.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:                 # torch is imported only when the benchmark is chosen
    from quadfree.apps.bench.taylor import TaylorBenchOptions


def _list(cast: type, flag: str) -> Callable[[str], tuple]:
    """A parser of comma-separated numbers for ``flag`` (``1e5`` is accepted as an int).

    Example:
        >>> _list(int, "--sizes")("300,1e5"), _list(float, "--sweep")("")
        ((300, 100000), ())
    """
    def parse(text: str) -> tuple:
        try:
            values = tuple(float(v) for v in text.split(",") if v.strip())
        except ValueError:
            values = None
        if values is None or (cast is int and any(v != int(v) for v in values)):
            kind = "integers" if cast is int else "numbers"
            raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated {kind} "
                                             f"for {flag}")
        return tuple(cast(v) for v in values)
    return parse


def _join(values: tuple) -> str:
    return ",".join(str(v) if isinstance(v, int) else f"{v:g}" for v in values)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``quadfree bench taylor`` (defaults: :class:`TaylorBenchOptions`)."""
    from quadfree.apps.bench.taylor import TaylorBenchOptions

    d = TaylorBenchOptions()
    parser.add_argument("--levels", type=_list(int, "--levels"), default=d.levels,
                        help=f"levels (default {_join(d.levels)})")
    parser.add_argument("--order", type=int, default=d.order,
                        help=f"expansion order ρ (default {d.order})")
    parser.add_argument("--sizes", type=_list(int, "--sizes"), default=d.sizes,
                        help=f"N = M values (default {_join(d.sizes)})")
    parser.add_argument("--alpha-h2", type=float, default=d.alpha_h2,
                        help="α·h² at the finest level (kernel width matched to the grid; "
                             f"default {d.alpha_h2:g})")
    parser.add_argument("--error-targets", type=int, default=d.error_targets,
                        help="targets for the float64 reference / rel_error "
                             f"(default {d.error_targets})")
    parser.add_argument("--timing-targets", type=int, default=d.timing_targets,
                        help="targets on which the float32 exact sum is timed "
                             f"(default {d.timing_targets})")
    parser.add_argument("--repeats", type=int, default=d.repeats,
                        help=f"timing repeats (median; default {d.repeats})")
    parser.add_argument("--sweep", type=_list(float, "--sweep"), default=d.sweep,
                        help="α·h² values for the width sweep ('' to skip; "
                             f"default {_join(d.sweep)})")
    parser.add_argument("--sweep-size", type=int, default=d.sweep_size,
                        help=f"N = M for the sweep (default {d.sweep_size})")
    parser.add_argument("--sweep-error-targets", type=int, default=d.sweep_error_targets,
                        help="targets for the sweep's float64 reference "
                             f"(default {d.sweep_error_targets})")
    parser.add_argument("--auto-tol", type=float, default=d.auto_tol,
                        help="a user's tolerance for the sweep's fastest_sum (raised to "
                             f"1.5x the expansion's error where larger; default {d.auto_tol:g})")
    parser.add_argument("--dense-max", type=int, default=d.dense_max,
                        help=f"time the dense sum only up to this N (default {d.dense_max})")
    parser.add_argument("--pair-budget", type=float, default=d.pair_budget,
                        help="neighbour/KeOps pairs timed before scaling in M "
                             f"(default {d.pair_budget:g})")


def options(args: argparse.Namespace) -> TaylorBenchOptions:
    """Typed options from the parsed flags.

    Example:
        >>> p = argparse.ArgumentParser(); add_arguments(p)
        >>> ns = p.parse_args(["--levels", "1,2", "--sizes", "300,2e3", "--sweep", ""])
        >>> ns.device, ns.seed, ns.quiet, ns.json = "cpu", 0, True, "out/taylor.json"
        >>> o = options(ns); o.levels, o.sizes, o.sweep, o.plot.name, o.progress
        ((1, 2), (300, 2000), (), 'taylor.png', False)
    """
    from quadfree.apps.bench.taylor import TaylorBenchOptions
    from quadfree.device import resolve_device

    names = ("levels", "order", "sizes", "alpha_h2", "error_targets", "timing_targets",
             "repeats", "sweep", "sweep_size", "sweep_error_targets", "auto_tol",
             "dense_max", "pair_budget")
    return TaylorBenchOptions(
        **{k: getattr(args, k) for k in names},
        plot=Path(args.json).with_suffix(".png") if args.json else None,
        seed=args.seed, device=resolve_device(args.device), progress=not args.quiet)
