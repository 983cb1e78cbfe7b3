"""Flags of ``quadfree bench integrate`` →
:class:`~quadfree.apps.bench.integrate.IntegrateBenchOptions`."""

from __future__ import annotations

import argparse
from pathlib import Path

from quadfree.apps.bench.integrate import IntegrateBenchOptions
from quadfree.device import resolve_device
from quadfree.errors import QuadfreeError


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``quadfree bench integrate``."""
    d = IntegrateBenchOptions()
    p.add_argument("--intervals", type=int, default=d.intervals, help="random intervals")
    p.add_argument("--min-length", type=float, default=d.min_length,
                   help="shortest interval (and shortest box side)")
    p.add_argument("--repeats", type=int, default=d.repeats, help="timing repeats (median)")
    p.add_argument("--scan-intervals", type=int, default=d.scan_intervals,
                   help="intervals used to search the quadrature node count")
    p.add_argument("--max-nodes", type=int, default=d.max_nodes,
                   help="give up above this node count")
    p.add_argument("--steps", type=int, default=d.steps, help="training steps")
    p.add_argument("--hidden", type=int, default=d.hidden, help="SIREN width")
    p.add_argument("--depth", type=int, default=d.depth, help="SIREN hidden layers")
    p.add_argument("--w0", type=float, default=d.w0, help="SIREN w0")
    p.add_argument("--lr", type=float, default=d.lr, help="initial learning rate")
    p.add_argument("--spline-coarse", type=int, default=d.spline_coarse,
                   help="samples of the coarse spline row (evenly spaced)")
    p.add_argument("--box-dims", default=",".join(map(str, d.box_dims)),
                   help="box-integral dimensions to run: 2, 3, '2,3' or 'none'")
    p.add_argument("--boxes", type=int, default=d.boxes, help="random boxes per dimension")
    p.add_argument("--box-samples", type=int, default=d.box_samples,
                   help="scattered samples of the box field")
    p.add_argument("--box-noise", type=float, default=d.box_noise,
                   help="standard deviation of the samples' Gaussian noise")
    p.add_argument("--box-steps", type=int, default=d.box_steps,
                   help="training steps (boxes)")
    p.add_argument("--box-hidden", type=int, default=d.box_hidden, help="SIREN width (boxes)")
    p.add_argument("--rbf-grid", type=int, default=d.rbf_grid,
                   help="cells per axis of the RBF resampling (0: 128 in 2-D, 32 in 3-D)")
    p.add_argument("--rbf-smoothing", type=float, default=d.rbf_smoothing,
                   help="RBF smoothing parameter")
    p.add_argument("--peer-boxes", type=int, default=d.peer_boxes,
                   help="boxes for Monte Carlo / Gauss-Legendre of the learned field")
    p.add_argument("--mc-samples", type=int, default=d.mc_samples,
                   help="Monte Carlo points per box")


def parse_box_dims(text: str) -> list[int]:
    """``"2,3"`` → ``[2, 3]``; ``"none"`` → ``[]``.

    Example:
        >>> parse_box_dims("3"), parse_box_dims("none")
        ([3], [])
    """
    if text.strip().lower() in ("none", ""):
        return []
    try:
        dims = [int(part) for part in text.split(",")]
    except ValueError:
        dims = []
    if not dims or any(d not in (2, 3) for d in dims):
        raise QuadfreeError(f"box dimensions {text!r}: expected 2, 3, '2,3' or 'none'",
                            param="box_dims")
    return dims


def options(args: argparse.Namespace) -> IntegrateBenchOptions:
    """Typed options from the parsed flags.

    Example:
        >>> p = argparse.ArgumentParser(); add_arguments(p)
        >>> ns = p.parse_args(["--box-dims", "none", "--intervals", "10"])
        >>> ns.device, ns.seed, ns.quiet, ns.json = "cpu", 0, True, None
        >>> o = options(ns); o.box_dims, o.intervals
        ((), 10)
    """
    names = ("intervals", "min_length", "repeats", "scan_intervals", "max_nodes", "steps",
             "hidden", "depth", "w0", "lr", "spline_coarse", "boxes", "box_samples",
             "box_noise", "box_steps", "box_hidden", "rbf_grid", "rbf_smoothing",
             "peer_boxes", "mc_samples")
    return IntegrateBenchOptions(
        **{k: getattr(args, k) for k in names},
        box_dims=tuple(parse_box_dims(args.box_dims)),
        plot=Path(args.json).with_suffix(".png") if args.json else None,
        seed=args.seed, device=resolve_device(args.device), progress=not args.quiet)
