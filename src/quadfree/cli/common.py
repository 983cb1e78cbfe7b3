"""Options shared by several commands (device, seed, quiet)."""

from __future__ import annotations

import argparse


def add_runtime_options(parser: argparse.ArgumentParser, seed: int = 0) -> None:
    """Add ``--device {auto,cpu,cuda[:N]}``, ``--seed N`` and ``--quiet`` to ``parser``.

    Example:
        >>> p = argparse.ArgumentParser(); add_runtime_options(p)
        >>> p.parse_args([]).device
        'auto'
    """
    parser.add_argument("--device", default="auto",
                        help="torch device: auto (CUDA if present), cpu, cuda, cuda:N")
    parser.add_argument("--seed", type=int, default=seed, help="random seed (default %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
