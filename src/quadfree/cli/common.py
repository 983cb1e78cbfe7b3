"""Options shared by the commands: device, seed, quiet and torch's thread count."""

from __future__ import annotations

import argparse
from typing import Any

from quadfree.errors import QuadfreeError
from quadfree.threads import DEFAULT_THREADS
from quadfree.threads import apply_threads as _apply_threads

MAX_SEED = 2**32 - 1


def add_runtime_options(parser: argparse.ArgumentParser, seed: int = 0,
                        threads: bool | int | None = True) -> None:
    """Add ``--device {auto,cpu,cuda[:N]}``, ``--seed N``, ``--quiet`` and ``--threads N``.

    Every command has the same ``--threads`` default, :data:`quadfree.threads.DEFAULT_THREADS`
    (the one thread policy); ``threads=None`` (or False) leaves the option out.

    Example:
        >>> p = argparse.ArgumentParser(); add_runtime_options(p)
        >>> a = p.parse_args([])
        >>> a.device, a.threads
        ('auto', 1)
    """
    parser.add_argument("--device", default="auto",
                        help="torch device: auto (CUDA if present), cpu, cuda, cuda:N")
    parser.add_argument("--seed", type=int, default=seed,
                        help=f"random seed in [0, {MAX_SEED}] (default %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    if threads is not None and threads is not False:
        parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, metavar="N",
                            help="torch CPU threads (default %(default)s for every command; "
                                 "0: torch's default, one per core; see README 'Threads')")


def check_seed(args: argparse.Namespace) -> None:
    """Reject a ``--seed`` outside [0, 2³²−1] (NumPy's range) before any work.

    Example:
        >>> check_seed(argparse.Namespace(seed=-1))
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: --seed -1: must be an integer in [0, 4294967295]
    """
    seed = getattr(args, "seed", None)
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise QuadfreeError(f"--seed {seed}: must be an integer in [0, {MAX_SEED}]")


def apply_threads(args: argparse.Namespace) -> None:
    """Set torch's intra-op thread count from ``args.threads`` (0 or absent: leave it).

    Example:
        >>> apply_threads(argparse.Namespace(threads=0))
    """
    threads = getattr(args, "threads", 0)
    if threads < 0:
        raise QuadfreeError(f"--threads {threads}: must be >= 0")
    _apply_threads(threads)


def typed_settings(method: str, items: list[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` items → typed values of ``method``'s config and the training config
    (parsed once, here at the edge; the library never sees the strings).

    Example:
        >>> typed_settings("autoint", ["sections=16", "lr=1e-3"])
        {'sections': 16, 'lr': 0.001}
    """
    from quadfree.config import parse_assignments, typed_overrides
    from quadfree.radiance.registry import default_config
    from quadfree.train.config import TrainConfig
    from quadfree.train.trainer import route_overrides

    method_over, train_over = route_overrides(method, parse_assignments(items))
    return {**typed_overrides(default_config(method), method_over),
            **typed_overrides(TrainConfig(), train_over)}
