"""Grad networks: derivatives of an integral network Φ that share its parameters.

Everything here is forward-mode: a directional derivative costs about two forward passes of Φ
(an explicit tangent pass when Φ provides ``forward_with_tangent``, ``torch.func.jvp``
otherwise). Mixed partials propagate a jet of all 2^k partials explicitly when Φ provides
``forward_jet`` (see :mod:`quadfree.fields.jets`), and nest ``torch.func.jvp`` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

Field = Callable[[torch.Tensor], torch.Tensor]


def directional_derivative(phi: nn.Module | Field, x: torch.Tensor, v: torch.Tensor
                           ) -> torch.Tensor:
    """``DΦ(x)·v``, the derivative of Φ at ``x`` along ``v``, by forward-mode AD.

    Uses Φ's explicit tangent pass when it has one (``MLP.forward_with_tangent``)
    and ``torch.func.jvp`` otherwise. Differentiable with respect to Φ's parameters.

    Shapes: x ``(..., d)``, v broadcastable to x → ``(..., c)``.

    Example:
        >>> phi = lambda x: (x ** 3).sum(-1, keepdim=True)
        >>> directional_derivative(phi, torch.tensor([[2.0, 1.0]]), torch.tensor([1.0, 0.0]))
        tensor([[12.]])
    """
    v = torch.as_tensor(v).to(dtype=x.dtype, device=x.device).expand_as(x)
    tangent_pass = getattr(phi, "forward_with_tangent", None)
    if tangent_pass is not None:
        return tangent_pass(x, v)[1]
    return torch.func.jvp(phi, (x,), (v,))[1]


def mixed_partial(phi: nn.Module | Field, x: torch.Tensor, axes: Sequence[int]) -> torch.Tensor:
    """``∂^k Φ / ∂x_{a1} … ∂x_{ak}`` at ``x`` by forward mode (k = len(axes)).

    Uses Φ's explicit jet pass when it has one (``MLP.forward_jet``, several times faster to
    evaluate and to train through), nested forward mode otherwise.

    Shapes: x ``(..., d)`` → ``(..., c)``.

    Example:
        >>> phi = lambda x: (x[..., :1] ** 2) * x[..., 1:2]
        >>> mixed_partial(phi, torch.tensor([[3.0, 5.0]]), axes=(0, 1))  # ∂²(x²y)/∂x∂y = 2x
        tensor([[6.]])
    """
    if len(axes) == 0:
        return phi(x)
    jet_pass = getattr(phi, "forward_jet", None)
    if jet_pass is not None and len(axes) > 1:
        return jet_pass(x, tuple(axes))[-1]
    *outer, last = axes
    d = x.shape[-1]

    def inner(y: torch.Tensor) -> torch.Tensor:
        return directional_derivative(phi, y, _unit(d, last, y))

    fn: Field = inner
    for axis in reversed(outer):
        fn = _jvp_along(fn, axis, d)
    return fn(x)


def _unit(d: int, axis: int, like: torch.Tensor) -> torch.Tensor:
    e = torch.zeros(d, dtype=like.dtype, device=like.device)
    e[axis] = 1.0
    return e


def _jvp_along(fn: Field, axis: int, d: int) -> Field:
    def wrapped(y: torch.Tensor) -> torch.Tensor:
        return torch.func.jvp(fn, (y,), (_unit(d, axis, y).expand_as(y),))[1]
    return wrapped


class GradNetwork(nn.Module):
    """The grad network of an integral network Φ; it *is* Φ's parameters, not a copy.

    Exactly one of ``axes`` or ``direction`` is given:

    * ``axes=(i,)``: ``∂Φ/∂x_i`` (1-D integration along coordinate i);
    * ``axes=(i, j[, k])``: the mixed partial ``∂^kΦ/∂x_i∂x_j…`` (box integrals);
    * ``direction=v``: ``∇Φ·v`` (integration along the line through v).

    A step of an optimizer on ``GradNetwork.parameters()`` changes Φ.

    Shapes: ``(..., d) -> (..., c)``.

    Example:
        >>> from quadfree.fields import siren
        >>> phi = siren(1, 1, hidden=16, depth=2)
        >>> grad = GradNetwork(phi, axes=(0,))
        >>> grad(torch.rand(5, 1)).shape
        torch.Size([5, 1])
        >>> next(grad.parameters()) is next(phi.parameters())
        True
    """

    def __init__(self, phi: nn.Module, axes: Sequence[int] | int | None = None,
                 direction: torch.Tensor | Sequence[float] | None = None) -> None:
        super().__init__()
        if (axes is None) == (direction is None):
            raise ValueError("give exactly one of axes or direction")
        self.phi = phi
        self.axes: tuple[int, ...] = ()
        if axes is not None:
            self.axes = (axes,) if isinstance(axes, int) else tuple(int(a) for a in axes)
            if not 1 <= len(self.axes) <= 3 or len(set(self.axes)) != len(self.axes):
                raise ValueError(f"axes must be 1 to 3 distinct coordinates, got {self.axes}")
            self.register_buffer("direction", None)
        else:
            v = torch.as_tensor(direction, dtype=torch.float32)
            if v.ndim != 1 or not torch.isfinite(v).all() or float(v.norm()) == 0.0:
                raise ValueError(f"direction must be a finite non-zero vector, got {direction}")
            self.register_buffer("direction", v)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.direction is not None:
            return directional_derivative(self.phi, x, self.direction)
        return mixed_partial(self.phi, x, self.axes)
