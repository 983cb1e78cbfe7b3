"""Options shared by the commands: device, seed, quiet and torch's thread count."""

from __future__ import annotations

import argparse

import torch

from quadfree.errors import QuadfreeError


def add_runtime_options(parser: argparse.ArgumentParser, seed: int = 0,
                        threads: int | None = 0) -> None:
    """Add ``--device {auto,cpu,cuda[:N]}``, ``--seed N``, ``--quiet`` and ``--threads N``.

    ``threads`` is the command's default thread count (0 keeps torch's default; None leaves
    the option out). On the project's shared 2-core machines two torch threads ran small
    networks several times slower than one (3.1 s vs 0.36 s per NeRF step), hence defaults
    of 1 for the commands that train small networks.

    Example:
        >>> p = argparse.ArgumentParser(); add_runtime_options(p, threads=1)
        >>> a = p.parse_args([])
        >>> a.device, a.threads
        ('auto', 1)
    """
    parser.add_argument("--device", default="auto",
                        help="torch device: auto (CUDA if present), cpu, cuda, cuda:N")
    parser.add_argument("--seed", type=int, default=seed, help="random seed (default %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    if threads is not None:
        parser.add_argument("--threads", type=int, default=threads, metavar="N",
                            help="torch CPU threads (default %(default)s; 0: torch's default; "
                                 "1 is fastest for small networks on a busy machine)")


def apply_threads(args: argparse.Namespace) -> None:
    """Set torch's intra-op thread count from ``args.threads`` (0 or absent: leave it).

    Example:
        >>> apply_threads(argparse.Namespace(threads=0))
    """
    threads = getattr(args, "threads", 0)
    if threads < 0:
        raise QuadfreeError(f"--threads {threads}: must be >= 0")
    if threads:
        torch.set_num_threads(threads)
