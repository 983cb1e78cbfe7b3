"""Multi-indices of a truncated d-dimensional polynomial expansion.

An expansion of order ρ in d dimensions holds the coefficients of the basis functions
``E_n(u) = e_{n_1}(u_1) ··· e_{n_d}(u_d)`` with total degree ``|n| = n_1 + … + n_d ≤ ρ``:
``P = C(ρ + d, d)`` of them (35 in 3-D at ρ = 4). They are ordered by total degree, then
lexicographically from the first axis, so the constant comes first and the d linear terms
follow in axis order.

Internally the passes also use the *dense* layout: one slot for every ``n`` with
``0 ≤ n_i ≤ ρ``, ``(ρ + 1)^d`` slots, row-major; :func:`dense_positions` maps between the two.
"""

from __future__ import annotations

import itertools
from functools import cache
from math import comb

import torch

MAX_ORDER = 4


@cache
def multi_indices(dim: int, order: int) -> tuple[tuple[int, ...], ...]:
    """All multi-indices of total degree ≤ ``order`` in ``dim`` dimensions, in storage order.

    Example:
        >>> multi_indices(2, 1)
        ((0, 0), (1, 0), (0, 1))
        >>> len(multi_indices(3, 4))
        35
    """
    out: list[tuple[int, ...]] = []
    for total in range(order + 1):
        block = [n for n in itertools.product(range(total + 1), repeat=dim) if sum(n) == total]
        out.extend(sorted(block, reverse=True))
    return tuple(out)


def num_coefficients(dim: int, order: int) -> int:
    """``P = C(order + dim, dim)``: the number of coefficients per cell.

    Example:
        >>> num_coefficients(3, 4), num_coefficients(2, 4)
        (35, 15)
    """
    return comb(order + dim, dim)


@cache
def _dense_positions(dim: int, order: int) -> tuple[int, ...]:
    a = order + 1
    return tuple(sum(ni * a ** (dim - 1 - i) for i, ni in enumerate(n))
                 for n in multi_indices(dim, order))


def dense_positions(dim: int, order: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Positions of the P storage-order multi-indices in the row-major ``(ρ+1)^d`` layout.

    Shape: ``(P,)`` int64.

    Example:
        >>> dense_positions(2, 1).tolist()   # (0,0)→0, (1,0)→2, (0,1)→1 in a 2×2 layout
        [0, 2, 1]
    """
    return torch.tensor(_dense_positions(dim, order), dtype=torch.long, device=device)


def dense_mask(dim: int, order: int) -> torch.Tensor:
    """Boolean ``(ρ+1,)*dim`` tensor, true where the total degree is ≤ ``order``.

    Example:
        >>> dense_mask(2, 1).tolist()
        [[True, True], [True, False]]
    """
    grids = torch.meshgrid(*[torch.arange(order + 1)] * dim, indexing="ij")
    return sum(grids) <= order


def index_of(dim: int, order: int) -> dict[tuple[int, ...], int]:
    """Map from multi-index to its storage position (used by the compact finest-level passes).

    Example:
        >>> index_of(3, 2)[(0, 0, 1)]
        3
    """
    return {n: i for i, n in enumerate(multi_indices(dim, order))}
