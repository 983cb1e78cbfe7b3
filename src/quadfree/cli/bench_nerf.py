"""Flags of ``quadfree bench nerf`` → :class:`~quadfree.apps.bench.nerf.NerfBenchOptions`."""

from __future__ import annotations

import argparse
from pathlib import Path

from quadfree.apps.bench.nerf import NerfBenchOptions
from quadfree.cli.common import typed_settings
from quadfree.device import resolve_device


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``quadfree bench nerf``."""
    parser.add_argument("--scene", default="objects", choices=["objects", "fog"])
    parser.add_argument("--res", type=int, default=64, help="scene resolution (default 64)")
    parser.add_argument("--data", metavar="DIR", help="use this dataset instead of generating")
    parser.add_argument("--minutes", type=float, default=20.0,
                        help="training-time budget in minutes (default 20)")
    parser.add_argument("--iters", type=int, default=2000,
                        help="training steps; the learning rate decays over them (default 2000)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a method or training config field (repeatable)")
    parser.add_argument("--run", metavar="DIR",
                        help="keep the run (and the generated dataset, RUN/dataset) here "
                             "(default: temporary)")
    parser.add_argument("--eval-views", type=int, default=None,
                        help="evaluate only the first N test views (default all 20)")


def options(args: argparse.Namespace) -> NerfBenchOptions:
    """Typed options from the parsed flags (``--set`` coerced here, once)."""
    return NerfBenchOptions(
        scene=args.scene, res=args.res, data=Path(args.data) if args.data else None,
        minutes=args.minutes, iters=args.iters, settings=typed_settings("nerf", args.set),
        run_dir=Path(args.run) if args.run else None, eval_views=args.eval_views,
        plot=Path(args.json).with_suffix(".png") if args.json else None,
        seed=args.seed, device=resolve_device(args.device), progress=not args.quiet)
