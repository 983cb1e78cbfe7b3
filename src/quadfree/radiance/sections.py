"""Section boundaries along rays for AutoInt's piecewise volume rendering.

A ray's interval ``[near, far]`` is cut into N sections by N+1 boundaries
``near = t_0 < t_1 < … < t_N = far``. Two ways to choose them:

* :func:`uniform_boundaries`: equal lengths.
* :class:`SamplingNetwork`: a small ReLU MLP reads the encoded ray (origin, direction) and
  predicts N positive lengths, normalised to sum to ``far − near``; their cumulative sum gives
  the boundaries. It is differentiable, so it trains end-to-end through the rendering loss
  (gradients reach it through the section lengths δ_i in compositing and through where the
  grad networks are sampled inside each section).
"""

from __future__ import annotations

import torch
from torch import nn

from quadfree.fields import MLP, PositionalEncoding


def uniform_boundaries(near: torch.Tensor, far: torch.Tensor, sections: int) -> torch.Tensor:
    """N+1 equally spaced boundaries per ray from ``near`` to ``far``.

    Shapes: near, far ``(R,)`` → ``(R, N+1)``.

    Example:
        >>> uniform_boundaries(torch.tensor([2.0]), torch.tensor([6.0]), 4)
        tensor([[2., 3., 4., 5., 6.]])
    """
    u = torch.linspace(0.0, 1.0, sections + 1, device=near.device, dtype=near.dtype)
    return near[:, None] + (far - near)[:, None] * u


def boundaries_from_fractions(near: torch.Tensor, far: torch.Tensor, fractions: torch.Tensor
                              ) -> torch.Tensor:
    """Boundaries from per-section fractions of ``far − near`` (each row sums to 1).

    The first boundary is exactly ``near`` and the last exactly ``far`` (no round-off drift
    from the cumulative sum); the rest are non-decreasing when fractions are non-negative.

    Shapes: near, far ``(R,)``, fractions ``(R, N)`` → ``(R, N+1)``.

    Example:
        >>> boundaries_from_fractions(torch.tensor([0.0]), torch.tensor([4.0]),
        ...                           torch.tensor([[0.25, 0.5, 0.25]]))
        tensor([[0., 1., 3., 4.]])
    """
    inner = torch.cumsum(fractions, dim=-1)[:, :-1].clamp(0.0, 1.0)
    zeros, ones = torch.zeros_like(inner[:, :1]), torch.ones_like(inner[:, :1])
    u = torch.cat([zeros, inner, ones], dim=-1)
    return near[:, None] + (far - near)[:, None] * u


class SamplingNetwork(nn.Module):
    """Predicts each ray's N section boundaries (AutoInt's sampling network).

    A ReLU MLP on ``[PE(origin), PE(direction)]`` outputs N logits; a softmax turns them into
    fractions, each floored at ``min_fraction / N`` so no section collapses, and
    :func:`boundaries_from_fractions` turns those into boundaries. The last layer starts at
    zero, so an untrained network gives uniform sections.

    Args:
        sections: N.
        hidden, depth: the MLP's width and number of hidden layers.
        pos_freqs, dir_freqs: positional-encoding octaves for origin and direction.
        min_fraction: every section is at least ``min_fraction / N`` of ``far − near``.

    Shapes: origins, directions ``(R, 3)``, near, far ``(R,)`` → ``(R, N+1)``.

    Example:
        >>> net = SamplingNetwork(8)
        >>> b = net(torch.zeros(5, 3), torch.tensor([[0.0, 0.0, 1.0]]).expand(5, 3),
        ...         torch.full((5,), 2.0), torch.full((5,), 6.0))
        >>> b.shape, b[0, 0].item(), b[0, -1].item(), round(b[0, 1].item(), 4)
        (torch.Size([5, 9]), 2.0, 6.0, 2.5)
    """

    def __init__(self, sections: int, hidden: int = 64, depth: int = 2, pos_freqs: int = 4,
                 dir_freqs: int = 4, min_fraction: float = 0.1) -> None:
        super().__init__()
        if sections < 1:
            raise ValueError(f"sections must be >= 1, got {sections}")
        if not 0.0 <= min_fraction < 1.0:
            raise ValueError(f"min_fraction must be in [0, 1), got {min_fraction}")
        self.sections, self.min_fraction = sections, min_fraction
        self.enc_o = PositionalEncoding(3, pos_freqs)
        self.enc_d = PositionalEncoding(3, dir_freqs)
        self.mlp = MLP(self.enc_o.out_dim + self.enc_d.out_dim, sections, hidden=hidden,
                       depth=depth, activation="relu")
        nn.init.zeros_(self.mlp.head.weight)
        nn.init.zeros_(self.mlp.head.bias)

    def fractions(self, origins: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        """Per-section fractions of ``far − near``: positive, each row sums to 1.

        Shapes: ``(R, 3), (R, 3) -> (R, N)``.
        """
        logits = self.mlp(torch.cat([self.enc_o(origins), self.enc_d(directions)], dim=-1))
        floor = self.min_fraction / self.sections
        return floor + (1.0 - self.min_fraction) * torch.softmax(logits, dim=-1)

    def forward(self, origins: torch.Tensor, directions: torch.Tensor, near: torch.Tensor,
                far: torch.Tensor) -> torch.Tensor:
        return boundaries_from_fractions(near, far, self.fractions(origins, directions))
