"""One thread policy for every command: torch's CPU thread count.

Default: **one intra-op thread** (:data:`DEFAULT_THREADS`), for every command. The networks in
this project are small (widths 64–256, a few thousand rays per forward pass); on the project's
2-core machines a second thread helps little when the machine is idle and costs several times
when anything else runs, because the threads wait on each other (measurements and the command
that makes them: README, "Threads"). ``--threads N`` overrides it; ``--threads 0`` keeps torch's
own default (one thread per core), which pays off on larger, idle machines.
"""

from __future__ import annotations

import os

from quadfree.errors import QuadfreeError

DEFAULT_THREADS = 1


def passive_wait() -> None:
    """Make idle OpenMP threads sleep instead of spin (set before torch is imported; spinning
    made small torch ops several times slower on shared machines). Keeps a user's setting.

    Example:
        >>> passive_wait(); "OMP_WAIT_POLICY" in os.environ
        True
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def apply_threads(threads: int | None = DEFAULT_THREADS) -> int:
    """Set torch's intra-op thread count: ``threads`` ≥ 1 sets it, 0 or None keeps torch's
    default. Returns the count in effect.

    Example:
        >>> apply_threads(1)
        1
    """
    if threads is not None and threads < 0:
        raise QuadfreeError(f"threads {threads}: must be >= 0 (0: torch's default)",
                            param="threads")
    import torch

    if threads:
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()
