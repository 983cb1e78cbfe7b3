"""Input encodings for coordinate networks.

Every encoding maps ``(..., in_dim)`` to ``(..., out_dim)`` and exposes ``out_dim`` and
``jvp(x, v) -> (γ(x), Dγ(x)·v)``, the forward-mode derivative AutoInt's grad networks use.
All are smooth, so they can sit inside an AutoInt integral network.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from quadfree.fields.jets import jet_sin_cos


class IdentityEncoding(nn.Module):
    """Pass coordinates through unchanged: ``(..., d) -> (..., d)``.

    Example:
        >>> IdentityEncoding(3)(torch.zeros(5, 3)).shape
        torch.Size([5, 3])
    """

    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.in_dim = self.out_dim = in_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def jvp(self, x: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, v

    def jet(self, xj: torch.Tensor) -> torch.Tensor:
        """Mixed-partial jet (see :mod:`quadfree.fields.jets`): ``(2^k, ..., d) -> same``."""
        return xj


class PositionalEncoding(nn.Module):
    """NeRF positional encoding with frequencies ``2^0 … 2^(L−1)``.

    ``γ(x) = [x, sin(2^0 x), cos(2^0 x), …, sin(2^(L−1) x), cos(2^(L−1) x)]`` per coordinate
    (as in NeRF's and AutoInt's published code: no factor π). With ``normalized=True`` each term
    is divided by its frequency, ``sin(f x)/f``, AutoInt's variant whose derivative
    ``cos(f x)·x′`` has amplitude one at every frequency.

    Args:
        in_dim: d, the number of input coordinates.
        num_freqs: L, the number of octaves.
        include_input: prepend the raw coordinates.
        normalized: divide each sinusoid by its frequency.

    Shapes: ``(..., d) -> (..., d·(include_input + 2L))``.

    Example:
        >>> enc = PositionalEncoding(3, num_freqs=10)
        >>> enc.out_dim, enc(torch.rand(8, 3)).shape
        (63, torch.Size([8, 63]))
    """

    def __init__(self, in_dim: int, num_freqs: int, include_input: bool = True,
                 normalized: bool = False) -> None:
        super().__init__()
        if num_freqs < 0:
            raise ValueError(f"num_freqs must be >= 0, got {num_freqs}")
        self.in_dim, self.num_freqs = in_dim, num_freqs
        self.include_input, self.normalized = include_input, normalized
        self.register_buffer("freqs", 2.0 ** torch.arange(num_freqs, dtype=torch.float32),
                             persistent=False)
        self.out_dim = in_dim * (int(include_input) + 2 * num_freqs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        freqs = self.freqs.to(x.dtype)
        xf = x[..., None, :] * freqs[:, None]                      # (..., L, d)
        parts = [torch.sin(xf), torch.cos(xf)]
        if self.normalized:
            parts = [p / freqs[:, None] for p in parts]
        feats = torch.cat(parts, dim=-2).flatten(-2)                # (..., 2L·d)
        return torch.cat([x, feats], dim=-1) if self.include_input else feats

    def jvp(self, x: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = self.freqs.to(x.dtype)[:, None]
        xf = x[..., None, :] * freqs
        vf = v[..., None, :] * freqs                                # d(f·x) = f·v
        s, c = torch.sin(xf), torch.cos(xf)
        vals, tans = [s, c], [c * vf, -s * vf]
        if self.normalized:
            vals = [p / freqs for p in vals]
            tans = [p / freqs for p in tans]
        val = torch.cat(vals, dim=-2).flatten(-2)
        tan = torch.cat(tans, dim=-2).flatten(-2)
        if self.include_input:
            val, tan = torch.cat([x, val], dim=-1), torch.cat([v, tan], dim=-1)
        return val, tan

    def jet(self, xj: torch.Tensor) -> torch.Tensor:
        """Mixed-partial jet (see :mod:`quadfree.fields.jets`):
        ``(2^k, ..., d) -> (2^k, ..., out_dim)``."""
        freqs = self.freqs.to(xj.dtype)[:, None]
        s, c = jet_sin_cos(xj[..., None, :] * freqs)                # (2^k, ..., L, d)
        if self.normalized:
            s, c = s / freqs, c / freqs
        feats = torch.cat([s, c], dim=-2).flatten(-2)
        return torch.cat([xj, feats], dim=-1) if self.include_input else feats


class FourierFeatures(nn.Module):
    """Gaussian random Fourier features (Tancik et al. 2020).

    ``γ(x) = [sin(2π Bx), cos(2π Bx)]`` with ``B ~ N(0, σ²)`` of shape ``(m, d)``, drawn from
    a fixed seed so that a model is reproducible; ``B`` is saved in checkpoints.

    Shapes: ``(..., d) -> (..., 2m [+ d])``.

    Example:
        >>> ff = FourierFeatures(2, num_features=64, sigma=10.0, seed=0)
        >>> ff(torch.rand(4, 2)).shape
        torch.Size([4, 128])
    """

    def __init__(self, in_dim: int, num_features: int, sigma: float, seed: int = 0,
                 include_input: bool = False) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("B", torch.randn(num_features, in_dim, generator=gen) * sigma)
        self.in_dim, self.include_input = in_dim, include_input
        self.out_dim = 2 * num_features + (in_dim if include_input else 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        proj = 2 * math.pi * x @ self.B.to(x.dtype).T
        feats = torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1)
        return torch.cat([x, feats], dim=-1) if self.include_input else feats

    def jvp(self, x: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B = self.B.to(x.dtype)
        proj, dproj = 2 * math.pi * x @ B.T, 2 * math.pi * v @ B.T
        s, c = torch.sin(proj), torch.cos(proj)
        val, tan = torch.cat([s, c], dim=-1), torch.cat([c * dproj, -s * dproj], dim=-1)
        if self.include_input:
            val, tan = torch.cat([x, val], dim=-1), torch.cat([v, tan], dim=-1)
        return val, tan

    def jet(self, xj: torch.Tensor) -> torch.Tensor:
        """Mixed-partial jet (see :mod:`quadfree.fields.jets`):
        ``(2^k, ..., d) -> (2^k, ..., out_dim)``."""
        s, c = jet_sin_cos(2 * math.pi * xj @ self.B.to(xj.dtype).T)
        feats = torch.cat([s, c], dim=-1)
        return torch.cat([xj, feats], dim=-1) if self.include_input else feats
