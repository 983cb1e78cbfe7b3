"""Flags of ``quadfree bench volrend`` → :class:`~quadfree.apps.bench.volrend.VolrendBenchOptions`.

Top-level imports stay light (argparse + stdlib): the library is imported inside the functions.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``quadfree bench volrend``."""
    parser.add_argument("--scene", default="objects", choices=["objects", "fog"])
    parser.add_argument("--res", type=int, default=64, help="scene resolution (default 64)")
    parser.add_argument("--data", metavar="DIR", help="use this dataset instead of generating")
    parser.add_argument("--minutes", type=float, default=2.0,
                        help="training-time budget per model in minutes (default 2; four "
                             "models and scoring: about 11 min in all)")
    parser.add_argument("--iters", type=int, default=None,
                        help="train every model for this many steps (still capped at "
                             "--minutes; default: calibrated to fill --minutes)")
    parser.add_argument("--sections", type=int, default=8, help="AutoInt's N (default 8)")
    parser.add_argument("--nonneg", default="relu,weights",
                        help="TeRF non-negativity modes, one row each: relu (max(f, 0)), "
                             "softplus, weights (published relu on w); default relu,weights")
    parser.add_argument("--terf-view-dependent", action="store_true",
                        help="add a TeRF row with view-dependent colour (a small network of "
                             "the view direction shifting the colour logits)")
    parser.add_argument("--terf-view-sh", type=int, default=0, choices=[0, 1, 2], metavar="L",
                        help="add a TeRF row with view-dependent colour weights "
                             "w2 + sum_k Y_k(d) dW_k, spherical harmonics of degree L (1: 3 "
                             "directions, 2: 8); default 0 = no such row")
    parser.add_argument("--figure-views", type=int, default=2, metavar="N",
                        help="held-out views in the image figure written beside the JSON "
                             "as NAME_views.png (default 2)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="training-config override for every model (repeatable)")
    parser.add_argument("--autoint-set", action="append", default=[], metavar="KEY=VALUE",
                        help="AutoInt config override (repeatable)")
    parser.add_argument("--terf-set", action="append", default=[], metavar="KEY=VALUE",
                        help="TeRF config override (repeatable)")
    parser.add_argument("--eval-views", type=int, default=None,
                        help="evaluate only the first N test views (default all 20; min 3)")
    parser.add_argument("--quick", action="store_true",
                        help="reduced run: 0.4 min per model, 3 test views, one TeRF row "
                             "(about 3-4 min)")
    parser.add_argument("--run", metavar="DIR", help="keep the runs here (default: temporary)")


def options(args: argparse.Namespace):
    """Typed options from the parsed flags (``--set`` values coerced here, once).

    Example:
        >>> p = argparse.ArgumentParser(); add_arguments(p)
        >>> ns = p.parse_args(["--nonneg", "relu", "--terf-set", "grid=16"])
        >>> ns.device, ns.seed, ns.quiet, ns.json = "cpu", 0, True, None
        >>> o = options(ns); o.nonneg, o.terf_set, o.view_dependent
        (('relu',), {'grid': 16}, False)
    """
    from quadfree.apps.bench.volrend import VolrendBenchOptions
    from quadfree.cli.common import typed_settings
    from quadfree.config import parse_assignments, typed_overrides
    from quadfree.device import resolve_device
    from quadfree.train import TrainConfig

    return VolrendBenchOptions(
        scene=args.scene, res=args.res, data=Path(args.data) if args.data else None,
        minutes=args.minutes, iters=args.iters, sections=args.sections,
        nonneg=tuple(s.strip() for s in str(args.nonneg).split(",") if s.strip()),
        view_dependent=bool(args.terf_view_dependent), view_sh=args.terf_view_sh,
        train_set=typed_overrides(TrainConfig(), parse_assignments(args.set)),
        autoint_set=typed_settings("autoint", args.autoint_set),
        terf_set=typed_settings("terf", args.terf_set),
        eval_views=args.eval_views, quick=args.quick,
        run_dir=Path(args.run) if args.run else None,
        plot=Path(args.json).with_suffix(".png") if args.json else None,
        figure=(Path(args.json).with_name(Path(args.json).stem + "_views.png")
                if args.json else None),
        figure_views=args.figure_views,
        seed=args.seed, device=resolve_device(args.device), progress=not args.quiet)
