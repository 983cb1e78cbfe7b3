"""Flags of ``quadfree bench threads`` →
:class:`~quadfree.apps.bench.threads.ThreadsBenchOptions` (its ``--threads`` is ignored: it
tries each of ``--counts``)."""

from __future__ import annotations

import argparse

from quadfree.apps.bench.threads import ThreadsBenchOptions
from quadfree.device import resolve_device
from quadfree.errors import QuadfreeError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``quadfree bench threads``."""
    parser.add_argument("--res", type=int, default=100,
                        help="frame size R×R (default 100, not the scenes' 64: the size of "
                             "the eval measurement in issue 11)")
    parser.add_argument("--counts", default=None,
                        help="comma-separated thread counts (default 1,2,…,cores)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--sections", type=int, default=8, help="AutoInt N (default 8)")
    parser.add_argument("--quick", action="store_true", help="48×48 frames, 2 rounds")


def _counts(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(c) for c in text.split(",") if c.strip())
    except ValueError:
        raise QuadfreeError(f"--counts {text!r}: expected e.g. 1,2") from None


def options(args: argparse.Namespace) -> ThreadsBenchOptions:
    """Typed options from the parsed flags."""
    return ThreadsBenchOptions(
        res=args.res, counts=_counts(args.counts), repeats=args.repeats,
        sections=args.sections, quick=args.quick, seed=args.seed,
        device=resolve_device(args.device), progress=not args.quiet)
