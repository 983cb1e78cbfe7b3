"""Flags of ``quadfree bench tomo`` → :class:`~quadfree.apps.bench.tomo.TomoBenchOptions`."""

from __future__ import annotations

import argparse
from pathlib import Path

from quadfree.apps.bench.tomo import TomoBenchOptions
from quadfree.cli.tomo import add_model_options, configs
from quadfree.device import resolve_device
from quadfree.errors import QuadfreeError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``quadfree bench tomo`` (the model options are ``quadfree tomo``'s)."""
    parser.add_argument("--size", type=int, choices=[64, 128], default=64,
                        help="Shepp–Logan size (default %(default)s)")
    parser.add_argument("--angles", type=int, default=128, help="angles of the full scan")
    parser.add_argument("--subsamples", default="4,8,16", help="comma-separated factors")
    parser.add_argument("--compare-activations", default="sine,swish,tanh,softplus",
                        help="activations compared at --compare-at ('' to skip)")
    parser.add_argument("--compare-at", type=int, default=8,
                        help="subsampling of the activation comparison")
    add_model_options(parser)


def _ints(text: str, flag: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise QuadfreeError(f"{flag} {text!r}: expected comma-separated integers") from None
    if not values:
        raise QuadfreeError(f"{flag}: empty list")
    return values


def options(args: argparse.Namespace) -> TomoBenchOptions:
    """Typed options from the parsed flags."""
    model, training = configs(args)
    return TomoBenchOptions(
        size=args.size, angles=args.angles, subsamples=tuple(_ints(args.subsamples,
                                                                   "--subsamples")),
        compare_activations=tuple(a.strip() for a in args.compare_activations.split(",")
                                  if a.strip()),
        compare_at=args.compare_at, model=model, training=training,
        plot=Path(args.json).with_suffix(".png") if args.json else None,
        seed=args.seed, device=resolve_device(args.device), progress=not args.quiet)
