"""Flags of ``quadfree bench autoint`` → :class:`~quadfree.apps.bench.autoint.AutoIntBenchOptions`.

The benchmark itself takes typed options; this module is the only place its flags live.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from quadfree.apps.bench.autoint import AutoIntBenchOptions
from quadfree.cli.common import typed_settings
from quadfree.config import parse_assignments, typed_overrides
from quadfree.device import resolve_device
from quadfree.errors import QuadfreeError
from quadfree.train import TrainConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``quadfree bench autoint``."""
    parser.add_argument("--scene", default="objects", choices=["objects", "fog"])
    parser.add_argument("--res", type=int, default=64, help="scene resolution (default 64)")
    parser.add_argument("--data", metavar="DIR", help="use this dataset instead of generating")
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="training-time budget per model in minutes (default 10; five "
                             "models: about 55 min in all)")
    parser.add_argument("--iters", type=int, default=None,
                        help="train every model for this many steps (still capped at "
                             "--minutes). Default: time a few steps of each model and pick the "
                             "step count that fills --minutes, so every model gets the same "
                             "training time and completes its learning-rate schedule")
    parser.add_argument("--calibrate", action="store_true", help=argparse.SUPPRESS)  # old name
    parser.add_argument("--sections", default="8,16,32",
                        help="comma-separated AutoInt section counts N (default 8,16,32: a "
                             "sweep around AutoInt's default N = 8, which `train` and `demo` "
                             "use)")
    parser.add_argument("--consistency-weight", type=float, default=1.0,
                        help="also train AutoInt N=8 with this view-consistency penalty "
                             "(0: skip that row; default 1.0)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="training-config override for every model (repeatable)")
    parser.add_argument("--autoint-set", action="append", default=[], metavar="KEY=VALUE",
                        help="AutoInt config override (repeatable)")
    parser.add_argument("--eval-views", type=int, default=None,
                        help="evaluate only the first N test views (default all 20; min 3)")
    parser.add_argument("--quick", action="store_true",
                        help="reduced run: 1.5 min per model (calibrated steps; ignores "
                             "--iters), 5 test views")
    parser.add_argument("--run", metavar="DIR", help="keep the runs here (default: temporary)")


def options(args: argparse.Namespace) -> AutoIntBenchOptions:
    """Typed options from the parsed flags (``--set`` / ``--autoint-set`` coerced here, once).

    Example:
        >>> p = argparse.ArgumentParser(); add_arguments(p)
        >>> ns = p.parse_args(["--sections", "8,16", "--autoint-set", "hidden=32"])
        >>> ns.device, ns.seed, ns.quiet, ns.json = "cpu", 0, True, None
        >>> o = options(ns); o.sections, o.autoint_set
        ((8, 16), {'hidden': 32})
    """
    try:
        sections = tuple(int(s) for s in str(args.sections).split(",") if s.strip())
    except ValueError:
        raise QuadfreeError(f"--sections {args.sections!r}: expected e.g. 8,16,32") from None
    return AutoIntBenchOptions(
        scene=args.scene, res=args.res, data=Path(args.data) if args.data else None,
        minutes=args.minutes, iters=args.iters, sections=sections,
        consistency_weight=args.consistency_weight,
        train_set=typed_overrides(TrainConfig(), parse_assignments(args.set)),
        autoint_set=typed_settings("autoint", args.autoint_set),
        eval_views=args.eval_views, quick=args.quick,
        run_dir=Path(args.run) if args.run else None,
        plot=Path(args.json).with_suffix(".png") if args.json else None,
        seed=args.seed, device=resolve_device(args.device), progress=not args.quiet)
