"""Flags of ``quadfree bench surface`` →
:class:`~quadfree.apps.bench.surface.SurfaceBenchOptions`."""

from __future__ import annotations

import argparse
from pathlib import Path

PARAM_FLAGS = {"levels": "--levels", "seconds": "--seconds"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="a ≈1–2 min smoke run (32×32, 20 views, level 4 and the MLP, "
                             "15 s each)")
    parser.add_argument("--data", metavar="DIR",
                        help="Blender-format dataset with depth maps (default: generate "
                             "objects at --res)")
    parser.add_argument("--res", type=int, default=64, help="generated scene size (default 64)")
    parser.add_argument("--seconds", type=float, default=150.0,
                        help="training budget per model (default %(default)s)")
    parser.add_argument("--levels", default="4,5", help="Taylor levels (default %(default)s)")
    parser.add_argument("--no-mlp", action="store_true", help="skip the MLP baseline")
    parser.add_argument("--test-views", type=int, default=5, help="held-out views scored")
    parser.add_argument("--timing-rays", type=int, default=8192, help="rays per timed batch")


def options(args: argparse.Namespace):
    from quadfree.apps.bench.surface import QUICK, SurfaceBenchOptions
    from quadfree.errors import QuadfreeError
    try:
        levels = tuple(int(v) for v in args.levels.split(",") if v.strip())
    except ValueError:
        raise QuadfreeError(f"levels {args.levels!r}: expected comma-separated integers",
                            param="levels") from None
    opts = SurfaceBenchOptions(
        data=Path(args.data) if args.data else None, res=args.res, seconds=args.seconds,
        levels=levels, mlp=not args.no_mlp, test_views=args.test_views,
        timing_rays=args.timing_rays, figure=Path(args.json).with_suffix(".png"),
        seed=args.seed, progress=not args.quiet)
    if args.quick:
        for k, v in QUICK.items():
            setattr(opts, k, v)
    return opts
