"""Orthonormal Legendre polynomials on [−1, 1]: the per-axis basis of every cell expansion.

Each grid cell stores its polynomial in the local coordinate ``u = (x − centre) / (h / 2)``
(``u ∈ [−1, 1]``) and in the orthonormal basis ``e_k(u) = sqrt((2k+1)/2) · P_k(u)``.
Orthonormality makes the least-squares fit of §3.1 a plain projection, and that projection
factorises per axis for separable kernels (see :mod:`quadfree.taylor.operators`).
All tables here are float64 NumPy arrays, computed once.
"""

from __future__ import annotations

from functools import cache
from math import factorial, sqrt

import numpy as np
import torch
from numpy.polynomial import legendre as npleg


@cache
def _coeffs(order: int) -> np.ndarray:
    out = np.zeros((order + 1, order + 1))
    for k in range(order + 1):
        c = npleg.leg2poly([0.0] * k + [1.0])
        out[k, : k + 1] = c * sqrt((2 * k + 1) / 2)
    return out


def monomial_coefficients(order: int) -> np.ndarray:
    """``C[k, j]``: ``e_k(u) = Σ_j C[k, j] u^j``. Shape ``(ρ+1, ρ+1)``, lower triangular.

    Example:
        >>> round(float(monomial_coefficients(1)[1, 1]), 6)   # e_1(u) = sqrt(3/2) u
        1.224745
    """
    return _coeffs(order).copy()


def gauss(q: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights on [−1, 1] (exact for degree ≤ 2q − 1).

    Example:
        >>> x, w = gauss(3); round(float(w.sum()), 12)
        2.0
    """
    return npleg.leggauss(q)


def eval_numpy(u: np.ndarray, order: int) -> np.ndarray:
    """``e_k(u)`` for k = 0..order. Shape ``u.shape + (ρ+1,)``.

    Example:
        >>> eval_numpy(np.array([0.0]), 2).shape
        (1, 3)
    """
    powers = np.stack([u ** j for j in range(order + 1)], axis=-1)
    return powers @ _coeffs(order).T


def basis_torch(u: torch.Tensor, order: int, derivatives: int = 0) -> list[torch.Tensor]:
    """Values (and derivatives in u) of ``e_0..e_ρ`` at ``u``.

    Returns a list of ``derivatives + 1`` tensors of shape ``u.shape + (ρ+1,)``: the values,
    then d/du, then d²/du². Differentiable with respect to ``u``.

    Example:
        >>> v, dv = basis_torch(torch.tensor([0.5]), 1, derivatives=1)
        >>> round(float(dv[0, 1]), 6)
        1.224745
    """
    c = torch.as_tensor(_coeffs(order), dtype=u.dtype, device=u.device)
    ones = torch.ones_like(u)
    powers = [ones]
    for _ in range(order):
        powers.append(powers[-1] * u)
    out = [torch.stack(powers, dim=-1) @ c.T]
    zeros = torch.zeros_like(u)
    for r in range(1, derivatives + 1):
        # d^r/du^r u^j = j!/(j-r)! u^(j-r)
        dp = [zeros if j < r else powers[j - r] * (factorial(j) / factorial(j - r))
              for j in range(order + 1)]
        out.append(torch.stack(dp, dim=-1) @ c.T)
    return out


@cache
def shift_matrices(order: int) -> np.ndarray:
    """``S[π, n, n']``: ``e_n((u + s_π)/2) = Σ_{n'} S[π, n, n'] e_{n'}(u)``, s = (−1, +1).

    Re-expands a parent cell's basis in its lower (π = 0) or upper (π = 1) child. Exact:
    M2M uses ``S`` and L2L its transpose. Shape ``(2, ρ+1, ρ+1)``.

    Example:
        >>> shift_matrices(2).shape
        (2, 3, 3)
    """
    x, w = gauss(order + 2)
    out = np.zeros((2, order + 1, order + 1))
    for pi, s in enumerate((-1.0, 1.0)):
        parent = eval_numpy((x + s) / 2, order)       # (q, a)
        child = eval_numpy(x, order)                  # (q, a)
        out[pi] = (parent * w[:, None]).T @ child
    return out
