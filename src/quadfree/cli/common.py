"""Options shared by the commands: device, seed, quiet and torch's thread count."""

from __future__ import annotations

import argparse
from typing import Any

import torch

from quadfree.config import parse_assignments, typed_overrides
from quadfree.errors import QuadfreeError
from quadfree.radiance.registry import default_config
from quadfree.train.config import TrainConfig
from quadfree.train.trainer import route_overrides


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


def typed_settings(method: str, items: list[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` items → typed values of ``method``'s config and the training config
    (parsed once, here at the edge; the library never sees the strings).

    Example:
        >>> typed_settings("autoint", ["sections=16", "lr=1e-3"])
        {'sections': 16, 'lr': 0.001}
    """
    method_over, train_over = route_overrides(method, parse_assignments(items))
    return {**typed_overrides(default_config(method), method_over),
            **typed_overrides(TrainConfig(), train_over)}
