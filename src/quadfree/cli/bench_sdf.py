"""Flags of ``quadfree bench sdf`` → :class:`~quadfree.apps.bench.sdf.SdfBenchOptions`."""

from __future__ import annotations

import argparse
from pathlib import Path

from quadfree.apps.bench.sdf import SdfBenchOptions
from quadfree.cli.sdf import SHAPE_NAMES, add_model_options, model_settings
from quadfree.device import resolve_device


def _list(cast, flag: str):
    def parse(text: str) -> tuple:
        try:
            return tuple(cast(float(v)) if cast is int else cast(v)
                         for v in text.split(",") if v.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated numbers "
                                             f"for {flag}") from None
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``quadfree bench sdf`` (the model options are ``quadfree sdf``'s)."""
    d = SdfBenchOptions()
    parser.add_argument("--quick", action="store_true",
                        help="a ≈1 min smoke run (one shape, level 3, small sizes)")
    parser.add_argument("--shapes", type=_list(str, "--shapes"), default=tuple(SHAPE_NAMES),
                        help="built-in shapes (default all)")
    parser.add_argument("--levels", type=_list(int, "--levels"), default=d.levels,
                        help="Taylor levels (default 4,5)")
    parser.add_argument("--seconds", type=float, default=d.seconds,
                        help="training-time budget per model and shape (default 30)")
    parser.add_argument("--layer-sizes", type=_list(int, "--layer-sizes"),
                        default=d.layer_sizes,
                        help="N = M of the layer timings (default 1e5,1e6)")
    parser.add_argument("--layer-level", type=int, default=d.layer_level,
                        help="level of the layer timings (default 5)")
    parser.add_argument("--cutoff-eps", type=float, default=d.cutoff_eps,
                        help="cutoff sum: drop pairs with φ below this (default 1e-4)")
    parser.add_argument("--baseline-targets", type=int, default=d.baseline_targets,
                        help="targets on which the cutoff sum is timed (dense: 1/20 of it)")
    parser.add_argument("--repeats", type=int, default=d.repeats,
                        help="layer timing repeats (median)")
    parser.add_argument("--epoch-repeats", type=int, default=d.epoch_repeats,
                        help="interleaved epochs per model in the per-epoch A/B (median; "
                             "0: none; default 3)")
    add_model_options(parser)
    parser.set_defaults(samples=d.samples, test_samples=d.test_samples,
                        resolution=d.resolution)


def options(args: argparse.Namespace) -> SdfBenchOptions:
    """Typed options from the parsed flags.

    Example:
        >>> p = argparse.ArgumentParser(); add_arguments(p)
        >>> ns = p.parse_args(["--shapes", "sphere,box", "--levels", "3"])
        >>> ns.device, ns.seed, ns.quiet, ns.json = "cpu", 0, True, None
        >>> o = options(ns); o.shapes, o.levels, o.samples
        (('sphere', 'box'), (3,), 200000)
    """
    return SdfBenchOptions(
        shapes=tuple(args.shapes), levels=tuple(args.levels), seconds=args.seconds,
        layer_sizes=tuple(args.layer_sizes), layer_level=args.layer_level,
        cutoff_eps=args.cutoff_eps, baseline_targets=args.baseline_targets,
        repeats=args.repeats, epoch_repeats=args.epoch_repeats, quick=args.quick,
        **model_settings(args),
        plot=Path(args.json).with_suffix(".png") if args.json else None,
        seed=args.seed, device=resolve_device(args.device), progress=not args.quiet)
