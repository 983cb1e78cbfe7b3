"""Thin ``nn.Module`` wrappers that own learnable sources/weights and an :class:`FC2T2`."""

from __future__ import annotations

import torch
from torch import nn

from quadfree.errors import QuadfreeError
from quadfree.taylor.expansion import FC2T2, Expansion
from quadfree.taylor.ops import kernel_sum
from quadfree.taylor.targets import FixedTargets


class KernelSum(nn.Module):
    """The explicit layer ``y = f(q; p, w)`` with sources p and weights w as parameters.

    Args:
        transform: the :class:`FC2T2` (kernel, levels, order).
        sources: initial p ``(N, d)`` or ``(B, N, d)`` in [−1, 1]^d.
        weights: initial w ``(B, C, N)``; default zeros with ``channels`` channels.
        channels: C when ``weights`` is not given.
        learn_sources: False keeps p fixed (a buffer), e.g. on a grid.

    The expansion of the current (p, w) is cached: calling the layer, :meth:`evaluate` or
    :meth:`gradient` again before p or w change (the optimizer steps them in place, which
    bumps their version counters) costs no new expansion.

    Example:
        >>> S = FC2T2("exp(-20*(x**2+y**2+z**2))", levels=2, order=4)
        >>> layer = KernelSum(S, torch.rand(100, 3) - 0.5, channels=2)
        >>> y = layer(torch.rand(7, 3) - 0.5)
        >>> y.shape
        torch.Size([1, 2, 7])
        >>> y.sum().backward(); layer.p.grad.shape
        torch.Size([1, 100, 3])
    """

    def __init__(self, transform: FC2T2, sources: torch.Tensor,
                 weights: torch.Tensor | None = None, channels: int = 1,
                 learn_sources: bool = True) -> None:
        super().__init__()
        if not isinstance(transform, FC2T2):
            raise QuadfreeError(f"transform: expected an FC2T2, got {type(transform).__name__}")
        if not isinstance(sources, torch.Tensor) or sources.dim() not in (2, 3):
            raise QuadfreeError("sources: expected a tensor (N, d) or (B, N, d)")
        p = sources.detach().clone()
        if p.dim() == 2:
            p = p.unsqueeze(0)
        if weights is None:
            if channels < 1:
                raise QuadfreeError(f"channels={channels}: must be >= 1")
            weights = torch.zeros(p.shape[0], channels, p.shape[1], dtype=p.dtype,
                                  device=p.device)
        self.transform = transform
        if learn_sources:
            self.p = nn.Parameter(p)
        else:
            self.register_buffer("p", p)
        self.w = nn.Parameter(weights.detach().clone().to(device=p.device, dtype=p.dtype))
        self._cache: tuple | None = None
        self._sources: tuple | None = None

    def _key(self) -> tuple:
        return (self.p.data_ptr(), self.p._version, self.w.data_ptr(), self.w._version,
                self.p.dtype)

    def fixed_sources(self) -> FixedTargets | None:
        """Fixed sources (``learn_sources=False``, batch 1) prepared once as a
        :class:`FixedTargets`: their P2M and the w̄ read-out reuse its basis. None when the
        sources are learned or batched.

        Example:
            >>> S = FC2T2("exp(-20*(x**2+y**2))", levels=1, order=2, dim=2)
            >>> KernelSum(S, torch.zeros(3, 2), learn_sources=False).fixed_sources() is None
            False
        """
        if isinstance(self.p, nn.Parameter) or self.p.shape[0] != 1:
            return None
        key = (self.p.data_ptr(), self.p._version, self.p.dtype, self.p.device)
        if self._sources is None or self._sources[0] != key:
            self._sources = (key, FixedTargets(self.p[0], self.transform))
        return self._sources[1]

    def expansion(self) -> Expansion:
        """The (cached) expansion of the current p, w; not differentiable.

        Example:
            >>> S = FC2T2("exp(-20*(x**2+y**2))", levels=1, order=2, dim=2)
            >>> layer = KernelSum(S, torch.zeros(3, 2))
            >>> layer.expansion() is layer.expansion()
            True
        """
        if self._cache is None or self._cache[0] != self._key():
            sources = self.fixed_sources()
            with torch.no_grad():
                E = (self.transform.expand(self.p, self.w) if sources is None
                     else sources.expand(self.w))
                self._cache = (self._key(), E)
        return self._cache[1]

    def prepare(self, q: torch.Tensor) -> FixedTargets:
        """Targets ``(M, d)`` prepared once for repeated calls (full-batch training): pass the
        result to the layer instead of q. Same values and gradients for p and w; q itself
        gets none.

        Example:
            >>> S = FC2T2("exp(-20*(x**2+y**2))", levels=1, order=2, dim=2)
            >>> layer = KernelSum(S, torch.zeros(3, 2))
            >>> layer(layer.prepare(torch.zeros(4, 2))).shape
            torch.Size([1, 1, 4])
        """
        return FixedTargets(q.detach().to(self.p.device, self.p.dtype), self.transform)

    def forward(self, q: torch.Tensor | FixedTargets) -> torch.Tensor:
        """y ``(B, C, M)`` at targets q ``(M, d)`` or ``(B, M, d)``, differentiable in p, w, q;
        or at a :class:`FixedTargets` from :meth:`prepare` (differentiable in p, w)."""
        return kernel_sum(self.p, self.w, q, self.transform, self.expansion(),
                          self.fixed_sources())

    @torch.no_grad()
    def evaluate(self, q: torch.Tensor) -> torch.Tensor:
        """f(q) ``(B, C, M)`` from the cached expansion, without autograd.

        Example:
            >>> S = FC2T2("exp(-20*(x**2+y**2))", levels=1, order=2, dim=2)
            >>> KernelSum(S, torch.zeros(3, 2)).evaluate(torch.zeros(4, 2)).shape
            torch.Size([1, 1, 4])
        """
        return self.expansion().evaluate(q)

    @torch.no_grad()
    def gradient(self, q: torch.Tensor) -> torch.Tensor:
        """∇f(q) ``(B, C, M, d)`` from the cached expansion, without autograd.

        Example:
            >>> S = FC2T2("exp(-20*(x**2+y**2))", levels=1, order=2, dim=2)
            >>> KernelSum(S, torch.zeros(3, 2)).gradient(torch.zeros(4, 2)).shape
            torch.Size([1, 1, 4, 2])
        """
        return self.expansion().gradient(q)

    @torch.no_grad()
    def clamp_sources_(self) -> None:
        """Project the sources back into [−1, 1]^d (after an optimizer step).

        Example:
            >>> S = FC2T2("exp(-20*(x**2+y**2))", levels=1, order=2, dim=2)
            >>> layer = KernelSum(S, torch.zeros(3, 2)); layer.clamp_sources_()
        """
        if self.p.detach().abs().max() > 1.0:
            self.p.clamp_(-1.0, 1.0)
