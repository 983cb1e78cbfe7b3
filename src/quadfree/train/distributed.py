"""Multi-process training with ``torch.distributed`` (gloo on CPU, NCCL on GPU).

``torchrun --nproc_per_node N quadfree train ...`` starts N processes with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and ``MASTER_ADDR/PORT`` set; :func:`init_distributed` joins
them into one process group. The trainer then wraps the method in
:class:`torch.nn.parallel.DistributedDataParallel` (gradients averaged across ranks in the
backward pass), gives each rank every ``world``-th training ray (``rays[rank::world]``),
draws ``ceil(batch_rays / world)`` rays per rank per step (so the global batch stays
``batch_rays``), averages loss, PSNR's MSE and step time across ranks, and lets rank 0 alone
validate and write files (checkpoint, history, config). Every rank starts from the same seed,
so rank 0's RNG state in the checkpoint resumes every rank exactly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from quadfree.errors import QuadfreeError


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in its process group (a single process: rank 0 of 1).

    Example:
        >>> ctx = DistContext()
        >>> ctx.is_main, ctx.active
        (True, False)
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that validates, prints and writes files."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """More than one process: collectives are needed."""
        return self.world_size > 1


def env_world_size() -> int:
    """``WORLD_SIZE`` from the environment (torchrun sets it; 1 when absent).

    Example:
        >>> env_world_size() >= 1
        True
    """
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise QuadfreeError(f"WORLD_SIZE {os.environ['WORLD_SIZE']!r}: not an integer") \
            from None


def init_distributed(device: torch.device | str = "cpu") -> tuple[DistContext, torch.device]:
    """Join (or reuse) the process group and pick this rank's device.

    Under torchrun (``WORLD_SIZE > 1``) and without an existing group this calls
    :func:`torch.distributed.init_process_group` with ``nccl`` for a CUDA ``device`` (each
    rank on ``cuda:LOCAL_RANK``) or ``gloo`` otherwise. A group created by the caller (tests,
    notebooks) is used as it is. A single process gets ``DistContext()`` and ``device``.

    Example:
        >>> init_distributed("cpu")[0].world_size   # not under torchrun
        1
    """
    device = torch.device(device)
    if not dist.is_available() or (not dist.is_initialized() and env_world_size() <= 1):
        return DistContext(), device
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank), device


def shutdown_distributed() -> None:
    """Leave the process group if one is active (end of ``quadfree train``).

    Example:
        >>> shutdown_distributed()
    """
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def reduce_step(ctx: DistContext, loss: float, mse: float, seconds: float,
                device: torch.device) -> tuple[float, float, float]:
    """Average ``loss``, ``mse`` and ``seconds`` over the ranks (one ``all_reduce``); the
    averaged step time keeps every rank's time budget, hence its stopping step, identical.

    Example:
        >>> reduce_step(DistContext(), 0.5, 0.25, 1.0, torch.device("cpu"))
        (0.5, 0.25, 1.0)
    """
    if not ctx.active:
        return loss, mse, seconds
    values = torch.tensor([loss, mse, seconds], dtype=torch.float64, device=device)
    dist.all_reduce(values)
    loss, mse, seconds = (values / ctx.world_size).tolist()
    return loss, mse, seconds


def any_rank(ctx: DistContext, flag: bool, device: torch.device) -> bool:
    """Whether ``flag`` is set on any rank (e.g. Ctrl-C seen by one process), so that all
    stop at the same step.

    Example:
        >>> any_rank(DistContext(), True, torch.device("cpu"))
        True
    """
    if not ctx.active:
        return flag
    value = torch.tensor([float(flag)], device=device)
    dist.all_reduce(value)
    return bool(value.item() > 0)


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (no-op for one process).

    Example:
        >>> barrier(DistContext())
    """
    if ctx.active:
        dist.barrier()
