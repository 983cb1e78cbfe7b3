"""What a user would use instead of AutoInt for integrals: the peers of ``bench integrate``.

- 1-D samples: a cubic spline's antiderivative (``scipy.interpolate.CubicSpline``), so
  ∫_a^b = S(b) − S(a), exact for the spline.
- Gridded data in 2-D/3-D: a summed-volume table (:class:`SummedVolumeTable`), 2^d look-ups
  per box, exact for the piecewise-constant field of the cell values.
- Scattered samples in 2-D/3-D: a scattered-data interpolant (``scipy.interpolate.
  RBFInterpolator``) resampled onto a grid, then a summed-volume table (:func:`rbf_to_grid`).
- A learned field: Monte Carlo (:func:`monte_carlo_box`) or tensor Gauss–Legendre
  (:func:`gauss_legendre_box`) of the same grad network that AutoInt integrates exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from quadfree.errors import QuadfreeError
from quadfree.quadrature.rules import gauss_legendre

Field = Callable[[torch.Tensor], torch.Tensor]


def spline_antiderivative(x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The antiderivative S of the not-a-knot cubic spline through ``(x, y)``.

    ∫_a^b of the spline is ``S(b) − S(a)``. Shapes: x, y ``(N,)``; S: ``(M,) -> (M,)``.

    Example:
        >>> x = np.linspace(0.0, 1.0, 9)
        >>> S = spline_antiderivative(x, 3 * x ** 2)          # a cubic spline is exact here
        >>> round(float(S(np.array([1.0]))[0] - S(np.array([0.0]))[0]), 12)
        1.0
    """
    from scipy.interpolate import CubicSpline

    return CubicSpline(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
                       ).antiderivative()


def cell_centres(shape: Sequence[int], lo: Sequence[float], hi: Sequence[float]
                 ) -> torch.Tensor:
    """Centres of the cells of a uniform grid on the box ``[lo, hi]``, in C order.

    Shapes: ``len(shape) = d`` → ``(prod(shape), d)`` float64.

    Example:
        >>> cell_centres((2, 1), (0.0, 0.0), (1.0, 2.0)).tolist()
        [[0.25, 1.0], [0.75, 1.0]]
    """
    axes = [torch.linspace(a, b, n + 1, dtype=torch.float64) for n, a, b in zip(shape, lo, hi)]
    mids = [(t[1:] + t[:-1]) / 2 for t in axes]
    return torch.stack(torch.meshgrid(*mids, indexing="ij"), -1).reshape(-1, len(shape))


class SummedVolumeTable:
    """Box integrals of a piecewise-constant field on a uniform grid, 4^d look-ups per box.

    The table holds F at the grid nodes, F(x) = ∫_{lo}^{x} of the field (cumulative sums of
    cell values × cell volume along every axis). Inside a cell F is multilinear, so multilinear
    interpolation of the table gives F anywhere exactly, and a box is the inclusion–exclusion
    sum of F over its 2^d corners: the exact integral of the piecewise-constant field (second-
    order accurate for a smooth field sampled at the cell centres).

    Args:
        cells: ``(n_1, …, n_d)`` value of each cell (e.g. the field at the cell centre).
        lo, hi: the grid's domain, ``d`` numbers each.

    Example:
        >>> svt = SummedVolumeTable(torch.ones(4, 4), (-1.0, -1.0), (1.0, 1.0))
        >>> svt.integrate(torch.tensor([[-0.3, 0.0]]), torch.tensor([[0.5, 0.25]]))
        tensor([0.2000], dtype=torch.float64)
    """

    def __init__(self, cells: torch.Tensor, lo: Sequence[float], hi: Sequence[float]) -> None:
        d = cells.ndim
        if not (len(lo) == len(hi) == d) or d < 1:
            raise QuadfreeError(f"cells: a {d}-D grid needs d = {d} bounds, got lo {tuple(lo)}, "
                                f"hi {tuple(hi)}")
        self.lo = torch.as_tensor(lo, dtype=torch.float64)
        self.hi = torch.as_tensor(hi, dtype=torch.float64)
        self.shape = torch.tensor(cells.shape)
        self.cell = (self.hi - self.lo) / self.shape
        table = cells.to(torch.float64) * self.cell.prod()
        for axis in range(d):
            table = table.cumsum(axis)
        self.table = torch.nn.functional.pad(table, (1, 0) * d)       # F = 0 on the low faces
        sizes = torch.tensor(self.table.shape)
        self._strides = [int(sizes[i + 1:].prod()) for i in range(d)]

    @property
    def dim(self) -> int:
        return len(self.shape)

    def _axis(self, x: torch.Tensor, axis: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Table nodes ``(N, 2)`` around coordinate ``x`` ``(N,)`` and their linear weights."""
        n = int(self.shape[axis])
        u = ((x.to(torch.float64) - self.lo[axis]) / self.cell[axis]).clamp(0, n)
        i0 = u.floor().long().clamp(max=n - 1)
        t = u - i0
        return torch.stack([i0, i0 + 1], -1), torch.stack([1 - t, t], -1)

    def _contract(self, nodes: list[torch.Tensor], weights: list[torch.Tensor]) -> torch.Tensor:
        """Σ over the tensor product of per-axis nodes of Π weights × table: ``(N,)``."""
        d, n = self.dim, len(nodes[0])
        flat = torch.zeros((n,) + (1,) * d, dtype=torch.long)
        weight = torch.ones((n,) + (1,) * d, dtype=torch.float64)
        for axis, (i, w) in enumerate(zip(nodes, weights)):
            shape = [n] + [1] * d
            shape[axis + 1] = i.shape[1]
            flat = flat + (i * self._strides[axis]).reshape(shape)
            weight = weight * w.reshape(shape)
        return (weight * self.table.reshape(-1)[flat]).reshape(n, -1).sum(-1)

    def cumulative(self, x: torch.Tensor) -> torch.Tensor:
        """F(x) = ∫ from the domain's low corner to x. Shapes: ``(N, d) -> (N,)``."""
        pairs = [self._axis(x[:, a], a) for a in range(self.dim)]
        return self._contract([p[0] for p in pairs], [p[1] for p in pairs])

    def integrate(self, lo: torch.Tensor, hi: torch.Tensor, chunk_size: int = 1 << 16
                  ) -> torch.Tensor:
        """Integrals over the boxes ``[lo, hi]`` (inside the grid's domain).

        Inclusion–exclusion is separable: per axis, F's multilinear weights at ``hi`` minus
        those at ``lo`` (4 table nodes per axis), contracted with the table — 4^d look-ups.

        Shapes: lo, hi ``(N, d)`` → ``(N,)`` float64.
        """
        parts = []
        for ll, hh in zip(lo.split(chunk_size), hi.split(chunk_size)):
            nodes, weights = [], []
            for a in range(self.dim):
                (i_lo, w_lo), (i_hi, w_hi) = self._axis(ll[:, a], a), self._axis(hh[:, a], a)
                nodes.append(torch.cat([i_lo, i_hi], -1))
                weights.append(torch.cat([-w_lo, w_hi], -1))
            parts.append(self._contract(nodes, weights))
        return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)


def rbf_to_grid(points: np.ndarray, values: np.ndarray, shape: Sequence[int],
                lo: Sequence[float], hi: Sequence[float], neighbors: int = 32,
                smoothing: float = 0.0) -> torch.Tensor:
    """Resample scattered data onto the cell centres of a grid with a thin-plate-spline RBF
    interpolant (``scipy.interpolate.RBFInterpolator``, local: ``neighbors`` nearest samples).

    ``smoothing`` > 0 makes it a smoothing spline for noisy samples. Shapes: points ``(N, d)``,
    values ``(N,)`` → ``shape`` float64.

    Example:
        >>> p = np.random.default_rng(0).uniform(-1, 1, (200, 2))
        >>> g = rbf_to_grid(p, p[:, 0] + 2 * p[:, 1], (4, 4), (-1, -1), (1, 1))
        >>> bool(torch.allclose(g[:, 0], torch.tensor([-2.25, -1.75, -1.25, -0.75],
        ...                                            dtype=torch.float64)))
        True
    """
    from scipy.interpolate import RBFInterpolator

    if neighbors < 1:
        raise QuadfreeError(f"neighbors: must be >= 1, got {neighbors}")
    interp = RBFInterpolator(np.asarray(points, dtype=np.float64),
                             np.asarray(values, dtype=np.float64),
                             neighbors=min(neighbors, len(points)), smoothing=smoothing,
                             kernel="thin_plate_spline")
    centres = cell_centres(shape, lo, hi).numpy()
    return torch.as_tensor(interp(centres)).reshape(tuple(shape))


def monte_carlo_box(f: Field, lo: torch.Tensor, hi: torch.Tensor, samples: int,
                    generator: torch.Generator, chunk_size: int = 1 << 16) -> torch.Tensor:
    """Box integrals by plain Monte Carlo: volume × mean of f at ``samples`` uniform points
    per box. At most ``chunk_size`` points go through f at once.

    Shapes: lo, hi ``(N, d)`` → ``(N, c)``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> monte_carlo_box(lambda x: torch.ones(len(x), 1), torch.zeros(2, 2),
        ...                 torch.tensor([[1.0, 2.0], [3.0, 1.0]]), 8, g)
        tensor([[2.],
                [3.]])
    """
    if samples < 1:
        raise QuadfreeError(f"samples: must be >= 1, got {samples}")
    per_chunk = max(1, chunk_size // samples)
    parts = []
    for ll, hh in zip(lo.split(per_chunk), hi.split(per_chunk)):
        u = torch.rand(len(ll), samples, ll.shape[1], generator=generator, dtype=ll.dtype)
        pts = ll[:, None] + u.to(ll.device) * (hh - ll)[:, None]
        vals = f(pts.reshape(-1, ll.shape[1])).reshape(len(ll), samples, -1)
        parts.append(vals.mean(1) * (hh - ll).prod(-1, keepdim=True).to(vals.dtype))
    return torch.cat(parts)


def gauss_legendre_box(f: Field, lo: torch.Tensor, hi: torch.Tensor, nodes: int,
                       chunk_size: int = 1 << 16) -> torch.Tensor:
    """Box integrals by the tensor-product ``nodes``-point Gauss–Legendre rule (``nodes^d``
    evaluations of f per box). At most ``chunk_size`` points go through f at once.

    Shapes: lo, hi ``(N, d)`` → ``(N, c)``.

    Example:
        >>> f = lambda x: (x[:, :1] * x[:, 1:2]) ** 2
        >>> gauss_legendre_box(f, torch.zeros(1, 2), torch.ones(1, 2), nodes=2)   # 1/9
        tensor([[0.1111]])
    """
    d = lo.shape[1]
    t, w = gauss_legendre(nodes, dtype=lo.dtype, device=lo.device)
    s, w = (t + 1) / 2, w / 2                                          # rule on [0, 1]
    grid = torch.stack(torch.meshgrid(*[s] * d, indexing="ij"), -1).reshape(-1, d)
    weights = torch.stack(torch.meshgrid(*[w] * d, indexing="ij"), -1).reshape(-1, d).prod(-1)
    per_chunk = max(1, chunk_size // len(grid))
    parts = []
    for ll, hh in zip(lo.split(per_chunk), hi.split(per_chunk)):
        pts = ll[:, None] + grid[None] * (hh - ll)[:, None]
        vals = f(pts.reshape(-1, d)).reshape(len(ll), len(grid), -1)
        parts.append(torch.einsum("q,mqc->mc", weights.to(vals.dtype), vals)
                     * (hh - ll).prod(-1, keepdim=True).to(vals.dtype))
    return torch.cat(parts)
