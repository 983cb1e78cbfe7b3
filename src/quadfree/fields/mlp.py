"""MLP builder for coordinate networks, with optional encoding, skip connections and SIREN init."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from quadfree.fields.activations import Sine, make_activation
from quadfree.fields.jets import input_jet, jet_elementwise, jet_linear, jet_of


class MLP(nn.Module):
    """A coordinate network ``encoding → (Linear → activation) × depth → Linear``.

    Args:
        in_dim: number of input coordinates d.
        out_dim: number of output channels c.
        hidden: width of every hidden layer.
        depth: number of hidden layers.
        activation: a name from :data:`quadfree.fields.ACTIVATIONS`.
        skips: hidden-layer indices whose input is ``cat(h, encoded x)`` (NeRF uses ``(4,)``).
        encoding: a module mapping ``(..., d) -> (..., encoding.out_dim)``; identity if None.
        w0: SIREN frequency for ``activation="sine"``; the first layer uses ``first_w0``.
        first_w0: SIREN frequency of the first layer (default ``w0``).
        out_activation: optional activation name applied to the output.

    Shapes: ``(..., d) -> (..., c)``.

    With ``activation="sine"`` the weights follow SIREN's initialization: first layer
    ``U(−1/n, 1/n)``, later layers ``U(−√(6/n)/w0, √(6/n)/w0)`` for fan-in n.

    Example:
        >>> net = MLP(1, 1, hidden=32, depth=3, activation="sine")
        >>> net(torch.rand(10, 1)).shape
        torch.Size([10, 1])
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 128, depth: int = 4,
                 activation: str = "swish", skips: Sequence[int] = (),
                 encoding: nn.Module | None = None, w0: float = 30.0,
                 first_w0: float | None = None, out_activation: str | None = None) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.in_dim, self.out_dim = in_dim, out_dim
        self.encoding = encoding if encoding is not None else nn.Identity()
        enc_dim = getattr(encoding, "out_dim", in_dim) if encoding is not None else in_dim
        self.skips = tuple(int(i) for i in skips)
        if any(not 1 <= i < depth for i in self.skips):
            raise ValueError(f"skips must be hidden-layer indices in 1..{depth - 1}, got {skips}")
        self.layers = nn.ModuleList()
        self.acts = nn.ModuleList()
        for i in range(depth):
            fan_in = enc_dim if i == 0 else hidden + (enc_dim if i in self.skips else 0)
            self.layers.append(nn.Linear(fan_in, hidden))
            if activation == "sine":
                self.acts.append(Sine(first_w0 if (i == 0 and first_w0) else w0))
            else:
                self.acts.append(make_activation(activation))
        self.head = nn.Linear(hidden, out_dim)
        self.out_act = make_activation(out_activation) if out_activation else nn.Identity()
        if activation == "sine":
            self._siren_init(w0)

    @torch.no_grad()
    def _siren_init(self, w0: float) -> None:
        for i, layer in enumerate([*self.layers, self.head]):
            n = layer.in_features
            bound = 1.0 / n if i == 0 else math.sqrt(6.0 / n) / w0
            layer.weight.uniform_(-bound, bound)
            layer.bias.uniform_(-1.0 / math.sqrt(n), 1.0 / math.sqrt(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enc = self.encoding(x)
        h = enc
        for i, (layer, act) in enumerate(zip(self.layers, self.acts)):
            if i in self.skips:
                h = torch.cat([h, enc], dim=-1)
            h = act(layer(h))
        return self.out_act(self.head(h))

    def forward_with_tangent(self, x: torch.Tensor, v: torch.Tensor
                             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Value and directional derivative ``(Φ(x), DΦ(x)·v)`` in one explicit tangent pass.

        Linear layers carry the tangent without bias (``W·u′``), activations multiply it by
        σ′(u) (AutoInt's derivative graph), so the cost is about two forward passes, cheaper than
        ``torch.func.jvp`` on this module. Differentiable with respect to the parameters.

        Shapes: x, v ``(..., d)`` → ``(..., c)``, ``(..., c)``.

        Example:
            >>> net = MLP(2, 1, hidden=16, depth=2, activation="tanh")
            >>> x, v = torch.rand(4, 2), torch.tensor([[1.0, 0.0]]).expand(4, 2)
            >>> y, dy = net.forward_with_tangent(x, v)
            >>> dy.shape
            torch.Size([4, 1])
        """
        if hasattr(self.encoding, "jvp"):
            enc, denc = self.encoding.jvp(x, v)
        elif isinstance(self.encoding, nn.Identity):
            enc, denc = x, v
        else:
            enc, denc = torch.func.jvp(self.encoding, (x,), (v,))
        h, dh = enc, denc
        for i, (layer, act) in enumerate(zip(self.layers, self.acts)):
            if i in self.skips:
                h, dh = torch.cat([h, enc], dim=-1), torch.cat([dh, denc], dim=-1)
            u = layer(h)
            du = dh @ layer.weight.T
            h, slope = act.value_and_derivative(u)
            dh = slope * du
        y, dy = self.head(h), dh @ self.head.weight.T
        if isinstance(self.out_act, nn.Identity):
            return y, dy
        y, slope = self.out_act.value_and_derivative(y)
        return y, slope * dy

    def forward_jet(self, x: torch.Tensor, axes: Sequence[int]) -> torch.Tensor:
        """All mixed partials of Φ over subsets of ``axes`` in one explicit pass.

        Entry ``m`` of the result is ``∂^|S|Φ / ∏_{j∈S} ∂x_{axes[j]}`` for the subset S whose
        bit mask is m (see :mod:`quadfree.fields.jets`): entry 0 is Φ(x), entry ``2^k − 1`` the
        full mixed partial AutoInt trains for box integrals. Differentiable with respect to
        the parameters; k ≤ 3 uses closed-form activation derivatives.

        Shapes: x ``(..., d)`` → ``(2^k, ..., c)`` with k = len(axes).

        Example:
            >>> net = MLP(2, 1, hidden=16, depth=2, activation="tanh")
            >>> net.forward_jet(torch.rand(5, 2), axes=(0, 1)).shape
            torch.Size([4, 5, 1])
        """
        axes = tuple(int(a) for a in axes)
        k = len(axes)
        if hasattr(self.encoding, "jet"):
            enc = self.encoding.jet(input_jet(x, axes))
        elif isinstance(self.encoding, nn.Identity):
            enc = input_jet(x, axes)
        else:
            enc = jet_of(self.encoding, x, axes)
        h = enc
        for i, (layer, act) in enumerate(zip(self.layers, self.acts)):
            if i in self.skips:
                h = torch.cat([h, enc], dim=-1)
            u = jet_linear(layer, h)
            h = jet_elementwise(act.derivatives(u[0], k), u)
        y = jet_linear(self.head, h)
        if isinstance(self.out_act, nn.Identity):
            return y
        return jet_elementwise(self.out_act.derivatives(y[0], k), y)


def siren(in_dim: int, out_dim: int, hidden: int = 128, depth: int = 4, w0: float = 30.0,
          first_w0: float | None = None) -> MLP:
    """A SIREN: sine activations with SIREN's initialization (Sitzmann et al. 2020).

    Shapes: ``(..., d) -> (..., c)``.

    Example:
        >>> siren(2, 3, hidden=64, depth=3)(torch.rand(5, 2)).shape
        torch.Size([5, 3])
    """
    return MLP(in_dim, out_dim, hidden=hidden, depth=depth, activation="sine", w0=w0,
               first_w0=first_w0)
