"""Definite integrals from an integral network: Φ(b) − Φ(a), and boxes by inclusion–exclusion."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch

from quadfree.errors import QuadfreeError

Field = Callable[[torch.Tensor], torch.Tensor]
DEFAULT_CHUNK = 1 << 16


def evaluate_chunked(phi: Field, x: torch.Tensor, chunk_size: int = DEFAULT_CHUNK
                     ) -> torch.Tensor:
    """Evaluate ``phi`` on ``x`` in chunks of ``chunk_size`` rows (bounded memory).

    Shapes: x ``(N, d)`` → ``(N, c)``.

    Example:
        >>> evaluate_chunked(lambda x: 2 * x, torch.ones(5, 1), chunk_size=2).sum().item()
        10.0
    """
    if x.shape[0] <= chunk_size:
        return phi(x)
    return torch.cat([phi(part) for part in x.split(chunk_size)], dim=0)


def segment_integral(phi: Field, a: torch.Tensor, b: torch.Tensor,
                     chunk_size: int = DEFAULT_CHUNK) -> torch.Tensor:
    """``Φ(b) − Φ(a)`` per row: the integral of the grad network from ``a`` to ``b``.

    Memory stays bounded for any N: at most ``2·chunk_size`` points are in flight (both ends
    of a chunk go through Φ in one call).

    Shapes: a, b ``(N, d)`` → ``(N, c)``.

    Example:
        >>> phi = lambda x: x ** 2 / 2               # antiderivative of f(x) = x
        >>> segment_integral(phi, torch.tensor([[0.0]]), torch.tensor([[2.0]]))
        tensor([[2.]])
    """
    if a.shape != b.shape:
        raise QuadfreeError(f"interval ends have different shapes: {tuple(a.shape)} vs "
                            f"{tuple(b.shape)}")
    parts = []
    for aa, bb in zip(a.split(chunk_size), b.split(chunk_size)):
        values = phi(torch.cat([bb, aa], dim=0))          # one batched call per chunk
        parts.append(values[:len(bb)] - values[len(bb):])
    if not parts:
        return phi(a)[:0]
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)


def box_corners(lo: torch.Tensor, hi: torch.Tensor, axes: Sequence[int]
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Corners of boxes ``[lo, hi]`` over ``axes`` and their inclusion–exclusion signs.

    Coordinates not in ``axes`` are taken from ``lo``. A corner that takes ``hi`` on j of the
    k axes has sign ``(−1)^(k−j)``.

    Shapes: lo, hi ``(N, d)`` → corners ``(2^k, N, d)``, signs ``(2^k,)``.

    Example:
        >>> c, s = box_corners(torch.zeros(1, 2), torch.ones(1, 2), axes=(0, 1))
        >>> s.tolist()
        [1.0, -1.0, -1.0, 1.0]
    """
    corners, signs = [], []
    k = len(axes)
    for choice in itertools.product((0, 1), repeat=k):
        corner = lo.clone()
        for axis, take_hi in zip(axes, choice):
            if take_hi:
                corner[..., axis] = hi[..., axis]
        corners.append(corner)
        signs.append((-1.0) ** (k - sum(choice)))
    return torch.stack(corners), torch.tensor(signs, dtype=lo.dtype, device=lo.device)


def box_integral(phi: Field, lo: torch.Tensor, hi: torch.Tensor, axes: Sequence[int],
                 chunk_size: int = DEFAULT_CHUNK) -> torch.Tensor:
    """``∫_box ∂^kΦ/∂x_{a1}…∂x_{ak}`` by inclusion–exclusion over the 2^k corners.

    Boxes are processed in chunks so that at most ``chunk_size`` corners are in flight.

    Shapes: lo, hi ``(N, d)`` → ``(N, c)``.

    Example:
        >>> phi = lambda x: (x[..., :1] * x[..., 1:2])      # ∂²Φ/∂x∂y = 1
        >>> box_integral(phi, torch.zeros(1, 2), torch.tensor([[2.0, 3.0]]), axes=(0, 1))
        tensor([[6.]])
    """
    if lo.shape != hi.shape:
        raise QuadfreeError(f"box corners have different shapes: {tuple(lo.shape)} vs "
                            f"{tuple(hi.shape)}")
    per_chunk = max(1, chunk_size >> len(axes))          # 2^k corners per box
    parts = []
    for ll, hh in zip(lo.split(per_chunk), hi.split(per_chunk)):
        corners, signs = box_corners(ll, hh, axes)
        n, d = ll.shape
        values = phi(corners.reshape(-1, d)).reshape(len(signs), n, -1)
        parts.append(torch.einsum("k,knc->nc", signs.to(values.dtype), values))
    if not parts:
        return phi(lo)[:0]
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)
