"""FC²T²: the fast continuous convolutional Taylor transform (a Taylor fast-multipole method).

``f(q) = Σ_n φ(q − p_n) w_n`` for N sources and M targets in O(N + M): sources are expanded
into one polynomial of total degree ≤ ρ per cell of a uniform grid on (−1, 1)^d (P2M, M2M,
multi-level M2L with the near-field hole, L2L), then read anywhere (L2P) through an
:class:`Expansion` or the numpy-like accessor ``S[b, c, x, y, z]``.

Example:
    >>> import torch
    >>> from quadfree.taylor import FC2T2, exact_sum
    >>> S = FC2T2("exp(-30*(x**2+y**2+z**2))", levels=2, order=4)
    >>> p = torch.rand(1, 200, 3) * 2 - 1; w = torch.rand(1, 1, 200)
    >>> E = S.expand(p, w)
    >>> E.S[0, 0, 0.1, 0.2, 0.3].shape
    torch.Size([])
"""

from quadfree.taylor.accessor import Accessor
from quadfree.taylor.exact import exact_sum
from quadfree.taylor.expansion import FC2T2, Expansion, initialize
from quadfree.taylor.kernels import Kernel
from quadfree.taylor.multiindex import multi_indices, num_coefficients

__all__ = ["FC2T2", "Expansion", "Accessor", "Kernel", "exact_sum", "initialize",
           "multi_indices", "num_coefficients"]
