"""``--threads N`` for the radiance commands (torch intra-op threads; 0 keeps torch's default).

On the project's shared 2-core machines, two torch threads ran small-tensor training steps
several times slower than one (measured: 3.1 s vs 0.36 s per NeRF step) because busy cores make
OpenMP threads wait on each other; ``--threads 1`` avoids that.
"""

from __future__ import annotations

import argparse

import torch

from quadfree.errors import QuadfreeError


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--threads N`` (default 0 = torch's default).

    Example:
        >>> p = argparse.ArgumentParser(); add_threads_option(p)
        >>> p.parse_args(["--threads", "1"]).threads
        1
    """
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="torch CPU threads (0: torch default; 1 is faster on busy machines)")


def apply_threads(args: argparse.Namespace) -> None:
    """Set torch's intra-op thread count from ``args.threads`` (if positive)."""
    if args.threads < 0:
        raise QuadfreeError(f"--threads {args.threads}: must be >= 0")
    if args.threads:
        torch.set_num_threads(args.threads)
