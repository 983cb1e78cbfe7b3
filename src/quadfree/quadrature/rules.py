"""Gauss–Legendre quadrature of a field along segments: the sampling baseline AutoInt replaces.

Used to check integral networks (quadrature of the grad network converges to Φ(b) − Φ(a)) and
as the baseline of ``quadfree bench integrate``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from quadfree.errors import QuadfreeError

Field = Callable[[torch.Tensor], torch.Tensor]


def gauss_legendre(n: int, dtype: torch.dtype = torch.float64,
                   device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and weights of the n-point Gauss–Legendre rule on [−1, 1].

    Exact for polynomials of degree ≤ 2n − 1. Shapes: ``(n,)``, ``(n,)``.

    Example:
        >>> x, w = gauss_legendre(3)
        >>> round(float((w * x ** 4).sum()), 12)       # ∫ x^4 = 2/5
        0.4
    """
    if n < 1:
        raise QuadfreeError(f"quadrature nodes: need at least 1, got {n}")
    x, w = np.polynomial.legendre.leggauss(n)
    return (torch.as_tensor(x, dtype=dtype, device=device),
            torch.as_tensor(w, dtype=dtype, device=device))


def quadrature_segment_integral(f: Field, a: torch.Tensor, b: torch.Tensor, nodes: int,
                                length: torch.Tensor | None = None,
                                chunk_size: int = 1 << 16) -> torch.Tensor:
    """``∫ f`` along the straight segments from ``a`` to ``b`` by n-node Gauss–Legendre.

    The integral is taken with respect to a parameter running over an interval of ``length``
    (per row) while the point moves linearly from a to b; by default the length is the
    Euclidean distance ``|b − a|``. For segments along one axis pass ``b[:, i] − a[:, i]`` to
    get a signed 1-D integral ``∫_{a_i}^{b_i} f dx_i``. At most ``chunk_size`` points are
    evaluated at once.

    Shapes: a, b ``(N, d)``, length ``(N,)`` → ``(N, c)``.

    Example:
        >>> f = lambda x: 3 * x ** 2
        >>> a, b = torch.tensor([[0.0]]), torch.tensor([[2.0]])
        >>> quadrature_segment_integral(f, a, b, nodes=2)      # ∫_0^2 3x² = 8
        tensor([[8.]])
    """
    if a.shape != b.shape or a.ndim != 2:
        raise QuadfreeError(f"segment ends must both be (N, d), got {tuple(a.shape)} and "
                            f"{tuple(b.shape)}")
    if length is None:
        length = (b - a).norm(dim=-1)
    t, w = gauss_legendre(nodes, dtype=a.dtype, device=a.device)
    s, w = (t + 1) / 2, w / 2                     # rule on [0, 1]
    per_chunk = max(1, chunk_size // nodes)
    parts = []
    for aa, bb, ll in zip(a.split(per_chunk), b.split(per_chunk), length.split(per_chunk)):
        pts = aa[None] + s[:, None, None] * (bb - aa)[None]            # (n, m, d)
        vals = f(pts.reshape(-1, a.shape[1])).reshape(nodes, len(aa), -1)
        parts.append(torch.einsum("n,nmc->mc", w.to(vals.dtype), vals) * ll[:, None])
    if not parts:
        return f(a)[:0]
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)
