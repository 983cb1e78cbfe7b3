"""Flags of ``quadfree bench tomo`` → :class:`~quadfree.apps.bench.tomo.TomoBenchOptions`."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from quadfree.apps.bench.tomo import TomoBenchOptions
from quadfree.cli.tomo import add_model_options, add_taylor_options, configs, taylor_config
from quadfree.device import resolve_device
from quadfree.errors import QuadfreeError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``quadfree bench tomo`` (the model options are ``quadfree tomo``'s)."""
    parser.add_argument("--sizes", default="64",
                        help="comma-separated Shepp–Logan sizes (default %(default)s; the "
                             "issue's table: 64,128)")
    parser.add_argument("--methods", default="autoint,taylor,taylor_autoint,mbir",
                        help="comma-separated methods besides FBP/SART/linear (default "
                             "%(default)s; 'taylor,mbir' skips the slow AutoInt training; "
                             "taylor_autoint runs autoint too)")
    parser.add_argument("--quick", action="store_true",
                        help="fast check: size 64, 8× and 16×, taylor,mbir, 30 Taylor "
                             "iterations (overrides --sizes/--subsamples/--methods)")
    parser.add_argument("--angles", type=int, default=128, help="angles of the full scan")
    parser.add_argument("--subsamples", default="4,8,16", help="comma-separated factors")
    parser.add_argument("--compare-activations", default="sine,swish,tanh,softplus",
                        help="activations compared at --compare-at ('' to skip)")
    parser.add_argument("--compare-at", type=int, default=8,
                        help="subsampling of the activation comparison")
    add_model_options(parser)
    add_taylor_options(parser)


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
    taylor = taylor_config(args)
    sizes, subsamples = _ints(args.sizes, "--sizes"), _ints(args.subsamples, "--subsamples")
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    if args.quick:
        sizes, subsamples, methods = [64], [8, 16], ("taylor", "mbir")
        taylor = replace(taylor, iterations=min(taylor.iterations, 30))
    for n in sizes:
        if n < 8:
            raise QuadfreeError(f"--sizes: {n} is too small (at least 8)")
    return TomoBenchOptions(
        sizes=tuple(sizes), angles=args.angles, subsamples=tuple(subsamples),
        methods=methods, taylor=taylor,
        compare_activations=tuple(a.strip() for a in args.compare_activations.split(",")
                                  if a.strip()),
        compare_at=args.compare_at, model=model, training=training,
        plot=Path(args.json).with_suffix(".png") if args.json else None,
        seed=args.seed, device=resolve_device(args.device), progress=not args.quiet)
