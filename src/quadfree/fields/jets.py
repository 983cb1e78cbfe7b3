"""Mixed partial derivatives by explicit higher-order forward mode ("jets").

A jet over k differentiated axes stores, for every subset S of those axes, the mixed partial
``∂^|S| h / ∏_{i∈S} ∂x_i`` of a hidden quantity h. Subsets are bit masks: bit j stands for the
j-th differentiated axis, so a jet is one tensor of shape ``(2^k, ..., width)`` whose entry 0 is
the value and entry ``2^k − 1`` the full mixed partial.

* A linear map acts on every entry (the bias only on entry 0).
* An elementwise function σ acts by Faà di Bruno's formula over set partitions π of S::

      (σ∘u)_S = Σ_π σ^(|π|)(u) · ∏_{B∈π} u_B

AutoInt's box integrals train the full mixed partial of an integral network; propagating the
jet explicitly costs a few forward passes, where nested ``torch.func.jvp`` is many times slower.
"""

from __future__ import annotations

import functools

import torch


@functools.cache
def set_partitions(mask: int) -> tuple[tuple[int, ...], ...]:
    """All partitions of the set bits of ``mask`` into non-empty blocks (each block a mask).

    Example:
        >>> sorted(set_partitions(0b11))
        [(1, 2), (3,)]
        >>> len(set_partitions(0b111))   # Bell number B3
        5
    """
    if mask == 0:
        return ((),)
    low = mask & -mask                  # the lowest element goes into the first block
    rest = mask ^ low
    out = []
    sub = rest
    while True:                         # every subset of `rest` joins `low`'s block
        block = low | sub
        for tail in set_partitions(rest ^ sub):
            out.append((block, *tail))
        if sub == 0:
            break
        sub = (sub - 1) & rest
    return tuple(out)


def jet_elementwise(derivs: list[torch.Tensor], u: torch.Tensor) -> torch.Tensor:
    """Push a jet ``u`` through an elementwise function given its derivatives at ``u[0]``.

    Args:
        derivs: ``[σ(u0), σ′(u0), …, σ^(k)(u0)]`` (at least k + 1 tensors, k = log2(len(u))).
        u: the input jet, ``(2^k, ..., n)``.

    Returns the output jet ``(2^k, ..., n)``.

    Example:
        >>> u = torch.tensor([[0.5], [1.0]])          # value 0.5, derivative 1
        >>> out = jet_elementwise([torch.sin(u[0]), torch.cos(u[0])], u)
        >>> torch.allclose(out[1], torch.cos(torch.tensor([0.5])))
        True
    """
    us = u.unbind(0)                    # one backward node, not a full-size one per index
    out = [derivs[0]]
    for mask in range(1, len(us)):
        total = None
        for parts in set_partitions(mask):
            term = derivs[len(parts)]
            for block in parts:
                term = term * us[block]
            total = term if total is None else total + term
        out.append(total)
    return torch.stack(out)


def jet_linear(layer: torch.nn.Linear, h: torch.Tensor) -> torch.Tensor:
    """Push a jet through a linear layer: ``W·h_S`` for every S, plus the bias on the value.

    Shapes: ``(2^k, ..., n_in) -> (2^k, ..., n_out)``.

    Example:
        >>> lin = torch.nn.Linear(2, 3)
        >>> jet_linear(lin, torch.zeros(4, 5, 2)).shape
        torch.Size([4, 5, 3])
    """
    out = h @ layer.weight.T
    if layer.bias is not None:
        out = torch.cat([out[:1] + layer.bias, out[1:]], dim=0)
    return out


def input_jet(x: torch.Tensor, axes: tuple[int, ...]) -> torch.Tensor:
    """The jet of the coordinates themselves: value x, unit vectors for single axes, zeros above.

    Shapes: x ``(..., d)`` → ``(2^k, ..., d)`` with k = len(axes).

    Example:
        >>> input_jet(torch.tensor([[0.5, 0.25]]), (1,))[:, 0].tolist()
        [[0.5, 0.25], [0.0, 1.0]]
    """
    k = len(axes)
    jet = x.new_zeros((1 << k, *x.shape))
    jet[0] = x
    for j, axis in enumerate(axes):
        jet[1 << j, ..., axis] = 1.0
    return jet


def sine_derivatives(z: torch.Tensor, order: int, scale: float = 1.0) -> list[torch.Tensor]:
    """``[sin(s z), d/dz sin(s z), …]`` up to ``order``: ``s^n sin(s z + nπ/2)``.

    Example:
        >>> [round(float(t), 3) for t in sine_derivatives(torch.tensor(0.0), 3)]
        [0.0, 1.0, -0.0, -1.0]
    """
    sz = scale * z
    s, c = torch.sin(sz), torch.cos(sz)
    cycle = [s, c, -s, -c]
    return [cycle[n % 4] * (scale ** n) if n else s for n in range(order + 1)]


def jet_sin_cos(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Jets of ``sin(z)`` and ``cos(z)`` for an input jet ``z`` ``(2^k, ...)``.

    Example:
        >>> s, c = jet_sin_cos(torch.tensor([[0.0], [2.0]]))     # z = 0, z′ = 2
        >>> s[1].item(), c[1].item()
        (2.0, -0.0)
    """
    k = (z.shape[0] - 1).bit_length()
    s, c = torch.sin(z[0]), torch.cos(z[0])
    cycle = (s, c, -s, -c)
    sin_d = [cycle[n % 4] for n in range(k + 1)]
    cos_d = [cycle[(n + 1) % 4] for n in range(k + 1)]
    return jet_elementwise(sin_d, z), jet_elementwise(cos_d, z)


def jet_of(fn, x: torch.Tensor, axes: tuple[int, ...]) -> torch.Tensor:
    """Generic jet of any function by nested ``torch.func.jvp`` (slow fallback).

    Shapes: x ``(..., d)`` → ``(2^k, ..., c)``.

    Example:
        >>> fn = lambda x: x[..., :1] * x[..., 1:]
        >>> jet_of(fn, torch.tensor([[2.0, 3.0]]), (0, 1))[:, 0, 0].tolist()
        [6.0, 3.0, 2.0, 1.0]
    """
    out = []
    for mask in range(1 << len(axes)):
        g = fn
        for j, axis in enumerate(axes):
            if mask >> j & 1:
                g = _jvp_along(g, axis)
        out.append(g(x))
    return torch.stack(out)


def _jvp_along(fn, axis: int):
    def wrapped(y: torch.Tensor) -> torch.Tensor:
        e = torch.zeros(y.shape[-1], dtype=y.dtype, device=y.device)
        e[axis] = 1.0
        return torch.func.jvp(fn, (y,), (e.expand_as(y),))[1]
    return wrapped
