"""Kernel sums whose sources are spread over several processes (``torch.distributed``).

An FC²T² expansion is linear in its sources: the expansion of the union of source sets is
the sum of their expansions (every pass, P2M, M2M, M2L, L2L, is linear in the weights). So
each rank expands only the sources it holds, one ``all_reduce(SUM)`` of the
:class:`~quadfree.taylor.expansion.Expansion` coefficients (``(B, C, n^d, P)`` numbers,
independent of how many sources there are) gives every rank the whole field, and the passes
that need the whole field (evaluation at targets, gradients, roots, line integrals) run on
it locally. Forward only: the ``all_reduce`` is not differentiated.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from quadfree.errors import QuadfreeError
from quadfree.taylor.expansion import FC2T2, Expansion


def shard_range(n: int, rank: int, world_size: int) -> slice:
    """The contiguous block of ``n`` items that ``rank`` of ``world_size`` holds (sizes differ
    by at most one).

    Example:
        >>> [shard_range(10, r, 3) for r in range(3)]
        [slice(0, 4, None), slice(4, 7, None), slice(7, 10, None)]
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise QuadfreeError(f"rank {rank}: must be in [0, {world_size})", param="rank")
    base, extra = divmod(n, world_size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (rank < extra))


def sharded_expand(transform: FC2T2, p: torch.Tensor, w: torch.Tensor,
                   group: dist.ProcessGroup | None = None) -> Expansion:
    """Expand this rank's sources ``p (B, N_r, d)`` with weights ``w (B, C, N_r)`` and sum the
    expansions of every rank of ``group`` (the default group; a single process without one
    just expands). Every rank must use the same transform, B and C.

    Returns the :class:`Expansion` of all ranks' sources, on every rank.

    Example (one process: the plain expansion):
        >>> S = FC2T2("exp(-8*(x**2+y**2))", levels=2, order=2, dim=2)
        >>> p, w = torch.zeros(1, 3, 2), torch.ones(1, 1, 3)
        >>> torch.equal(sharded_expand(S, p, w).coeffs, S.expand(p, w).coeffs)
        True
    """
    expansion = transform.expand(p, w)
    if not (dist.is_available() and dist.is_initialized()):
        return expansion
    coeffs = expansion.coeffs.detach().contiguous().clone()
    dist.all_reduce(coeffs, op=dist.ReduceOp.SUM, group=group)
    return Expansion(coeffs=coeffs, order=expansion.order, clamp=expansion.clamp)


def sharded_kernel_sum(p: torch.Tensor, w: torch.Tensor, q: torch.Tensor, transform: FC2T2,
                       group: dist.ProcessGroup | None = None) -> torch.Tensor:
    """``y[b, c, m] = Σ_n φ(q[b, m] − p[b, n]) w[b, c, n]`` over the sources of every rank:
    this rank's ``p (B, N_r, d)``, ``w (B, C, N_r)``; targets ``q (M, d)`` or ``(B, M, d)``
    (any rank may ask for different targets). Returns ``(B, C, M)``.

    Example:
        >>> S = FC2T2("exp(-8*(x**2+y**2))", levels=2, order=2, dim=2)
        >>> sharded_kernel_sum(torch.zeros(1, 3, 2), torch.ones(1, 1, 3), torch.zeros(4, 2),
        ...                    S).shape
        torch.Size([1, 1, 4])
    """
    return sharded_expand(transform, p, w, group).evaluate(q)
