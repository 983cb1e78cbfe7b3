"""Activations for coordinate networks, each with the derivative an explicit tangent pass needs.

``value_and_derivative(u)`` returns ``(σ(u), σ′(u))`` sharing work between the two; AutoInt's
grad networks use it to propagate tangents layer by layer (an explicit forward-mode pass).
"""

from __future__ import annotations

import torch
from torch import nn


class _Smooth(nn.Module):
    """Base: an elementwise activation that knows its derivative (subclasses define
    ``forward`` and ``derivative``)."""

    def value_and_derivative(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self(u), self.derivative(u)  # type: ignore[attr-defined]

    def derivatives(self, u: torch.Tensor, order: int) -> list[torch.Tensor]:
        """``[σ(u), σ′(u), …, σ^(order)(u)]`` (used by the jets of mixed partials).

        Subclasses give closed forms; this fallback differentiates ``derivative`` by
        forward mode (exact, slower). Shapes: each ``u.shape``.
        """
        if order == 0:
            return [self(u)]
        value, first = self.value_and_derivative(u)
        out = [value, first]
        fn = self.derivative  # type: ignore[attr-defined]
        ones = torch.ones_like(u)
        for _ in range(order - 1):
            fn = _elementwise_derivative(fn, ones)
            out.append(fn(u))
        return out


def _elementwise_derivative(fn, ones: torch.Tensor):
    def wrapped(u: torch.Tensor) -> torch.Tensor:
        return torch.func.jvp(fn, (u,), (ones,))[1]
    return wrapped


class Sine(_Smooth):
    """SIREN's periodic activation ``sin(w0·u)``.

    Example:
        >>> Sine(30.0)(torch.zeros(2)).tolist()
        [0.0, 0.0]
    """

    def __init__(self, w0: float = 30.0) -> None:
        super().__init__()
        self.w0 = w0

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.w0 * u)

    def derivative(self, u: torch.Tensor) -> torch.Tensor:
        return self.w0 * torch.cos(self.w0 * u)

    def value_and_derivative(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        wu = self.w0 * u
        return torch.sin(wu), self.w0 * torch.cos(wu)

    def derivatives(self, u: torch.Tensor, order: int) -> list[torch.Tensor]:
        wu = self.w0 * u
        s, c = torch.sin(wu), torch.cos(wu)
        cycle = (s, c, -s, -c)
        return [cycle[n % 4] * self.w0 ** n if n else s for n in range(order + 1)]


class Swish(_Smooth):
    """``u·sigmoid(u)`` (SiLU), AutoInt's default for volume rendering.

    Example:
        >>> Swish()(torch.zeros(1)).item()
        0.0
    """

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return u * torch.sigmoid(u)

    def derivative(self, u: torch.Tensor) -> torch.Tensor:
        return self.value_and_derivative(u)[1]

    def value_and_derivative(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = torch.sigmoid(u)
        y = u * s
        return y, s + y * (1 - s)

    def derivatives(self, u: torch.Tensor, order: int) -> list[torch.Tensor]:
        if order > 3:
            return super().derivatives(u, order)
        s = torch.sigmoid(u)
        s1 = s * (1 - s)                                  # sigmoid′
        s2 = s1 * (1 - 2 * s)                             # sigmoid″
        s3 = s1 * (1 - 6 * s + 6 * s * s)                 # sigmoid‴
        # (u·s)^(n) = n·s^(n−1) + u·s^(n)
        out = [u * s, s + u * s1, 2 * s1 + u * s2, 3 * s2 + u * s3]
        return out[:order + 1]


class Softplus(_Smooth):
    """``log(1 + exp(β u)) / β``.

    Example:
        >>> round(Softplus()(torch.zeros(1)).item(), 4)
        0.6931
    """

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        self.beta = beta

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return nn.functional.softplus(u, beta=self.beta)

    def derivative(self, u: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.beta * u)

    def derivatives(self, u: torch.Tensor, order: int) -> list[torch.Tensor]:
        if order > 3:
            return super().derivatives(u, order)
        s = torch.sigmoid(self.beta * u)
        s1 = s * (1 - s)
        out = [self(u), s, self.beta * s1, self.beta ** 2 * s1 * (1 - 2 * s)]
        return out[:order + 1]


class Tanh(_Smooth):
    """``tanh(u)``.

    Example:
        >>> Tanh()(torch.zeros(1)).item()
        0.0
    """

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return torch.tanh(u)

    def derivative(self, u: torch.Tensor) -> torch.Tensor:
        return 1 - torch.tanh(u) ** 2

    def derivatives(self, u: torch.Tensor, order: int) -> list[torch.Tensor]:
        if order > 3:
            return super().derivatives(u, order)
        t = torch.tanh(u)
        t1 = 1 - t * t
        out = [t, t1, -2 * t * t1, t1 * (6 * t * t - 2)]
        return out[:order + 1]


class Sigmoid(_Smooth):
    """``sigmoid(u)``.

    Example:
        >>> Sigmoid()(torch.zeros(1)).item()
        0.5
    """

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(u)

    def derivative(self, u: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(u)
        return s * (1 - s)

    def derivatives(self, u: torch.Tensor, order: int) -> list[torch.Tensor]:
        if order > 3:
            return super().derivatives(u, order)
        s = torch.sigmoid(u)
        s1 = s * (1 - s)
        out = [s, s1, s1 * (1 - 2 * s), s1 * (1 - 6 * s + 6 * s * s)]
        return out[:order + 1]


class ReLU(_Smooth):
    """``max(u, 0)``. Not smooth: unsuitable inside an integral network whose grad must fit.

    Example:
        >>> ReLU()(torch.tensor([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return torch.relu(u)

    def derivative(self, u: torch.Tensor) -> torch.Tensor:
        return (u > 0).to(u.dtype)

    def derivatives(self, u: torch.Tensor, order: int) -> list[torch.Tensor]:
        out = [torch.relu(u), (u > 0).to(u.dtype)]
        return (out + [torch.zeros_like(u)] * max(order - 1, 0))[:order + 1]


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "sine": Sine, "swish": Swish, "softplus": Softplus, "tanh": Tanh,
    "sigmoid": Sigmoid, "relu": ReLU,
}


def make_activation(name: str, **kwargs) -> nn.Module:
    """Build an activation by name: one of :data:`ACTIVATIONS`.

    Example:
        >>> make_activation("sine", w0=30.0)
        Sine()
    """
    try:
        cls = ACTIVATIONS[name]
    except KeyError:
        known = sorted(ACTIVATIONS)
        raise ValueError(f"unknown activation {name!r}; choose from {known}") from None
    return cls(**kwargs) if name in ("sine", "softplus") else cls()
