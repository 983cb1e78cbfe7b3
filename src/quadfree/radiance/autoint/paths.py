"""Fast evaluation of an integral network along rays: Φ (integral path) and ∂Φ/∂t (grad path).

Both compute the direction's share of the first layer once per ray instead of once per point.
"""

from __future__ import annotations

import torch
from torch import nn

from quadfree.fields import MLP, Swish
from quadfree.radiance.autoint.encoding import RayPointEncoding


def ray_forward(net: MLP, origins: torch.Tensor, directions: torch.Tensor, t: torch.Tensor
                ) -> torch.Tensor:
    """``net([o + t·d, d])`` for an MLP whose encoding is a :class:`RayPointEncoding`, computed
    per ray where it can be (the integral path's fast evaluation).

    Equal to ``net(cat([o + t d, d]))`` up to round-off, but: the direction's encoding and its
    share of the first layer (plus the bias) are computed once per ray, not once per point; the
    1/f factors of the normalised encoding are folded into the first-layer weights; swish runs
    as one fused ``silu``. Falls back to the plain forward for MLPs with skip connections.

    Shapes: origins, directions ``(R, 3)``, t ``(R, S)`` → ``(R, S, c)``.

    Example:
        >>> net = MLP(6, 2, hidden=16, depth=2, encoding=RayPointEncoding(4, 2))
        >>> o, d, t = torch.rand(3, 3), torch.rand(3, 3), torch.rand(3, 5)
        >>> z = torch.cat([o[:, None] + t[..., None] * d[:, None],
        ...                d[:, None].expand(3, 5, 3)], dim=-1)
        >>> torch.allclose(ray_forward(net, o, d, t), net(z), atol=1e-6)
        True
    """
    x = origins[:, None, :] + t[..., None] * directions[:, None, :]
    enc = net.encoding
    if net.skips or not isinstance(enc, RayPointEncoding):
        return net(torch.cat([x, directions[:, None, :].expand_as(x)], dim=-1))
    first = net.layers[0]
    npos = enc.pos.out_dim
    w_pos = first.weight[:, :npos] * enc.pos_scale.to(first.weight)
    ray_term = torch.addmm(first.bias, enc.dir(directions), first.weight[:, npos:].T)  # (R, H)
    freqs = enc.pos.freqs.to(x.dtype)
    xf = (x[..., None, :] * freqs[:, None]).flatten(-2)                            # (R, S, L·3)
    feats = torch.cat([x, torch.sin(xf), torch.cos(xf)], dim=-1)
    h = feats @ w_pos.T + ray_term[:, None, :]
    for i, (layer, act) in enumerate(zip(net.layers, net.acts)):
        if i > 0:
            h = layer(h)
        h = nn.functional.silu(h) if isinstance(act, Swish) else act(h)
    return net.out_act(net.head(h))


def ray_tangent(net: MLP, origins: torch.Tensor, directions: torch.Tensor, t: torch.Tensor
                ) -> torch.Tensor:
    """``∂/∂t net([o + t·d, d])``, the grad network along rays (the training path's fast
    evaluation): an explicit tangent pass like ``MLP.forward_with_tangent`` with the per-ray
    savings of :func:`ray_forward` (the direction's first-layer term has zero tangent).

    Shapes: origins, directions ``(R, 3)``, t ``(R, S)`` → ``(R, S, c)``.

    Example:
        >>> net = MLP(6, 2, hidden=16, depth=2, encoding=RayPointEncoding(4, 2))
        >>> o, d, t = torch.rand(3, 3), torch.rand(3, 3), torch.rand(3, 5)
        >>> x = o[:, None] + t[..., None] * d[:, None]
        >>> z = torch.cat([x, d[:, None].expand(3, 5, 3)], dim=-1)
        >>> v = torch.cat([d[:, None].expand(3, 5, 3), torch.zeros(3, 5, 3)], dim=-1)
        >>> torch.allclose(ray_tangent(net, o, d, t), net.forward_with_tangent(z, v)[1],
        ...                atol=1e-6)
        True
    """
    x = origins[:, None, :] + t[..., None] * directions[:, None, :]
    dx = directions[:, None, :].expand_as(x)
    enc = net.encoding
    if net.skips or not isinstance(enc, RayPointEncoding) or \
            not isinstance(net.out_act, nn.Identity):
        z = torch.cat([x, dx], dim=-1)
        return net.forward_with_tangent(z, torch.cat([dx, torch.zeros_like(dx)], dim=-1))[1]
    first = net.layers[0]
    npos = enc.pos.out_dim
    w_pos = first.weight[:, :npos] * enc.pos_scale.to(first.weight)
    ray_term = torch.addmm(first.bias, enc.dir(directions), first.weight[:, npos:].T)
    freqs = enc.pos.freqs.to(x.dtype)
    xf = (x[..., None, :] * freqs[:, None]).flatten(-2)                            # (R, S, L·3)
    vf = (dx[..., None, :] * freqs[:, None]).flatten(-2)
    sin, cos = torch.sin(xf), torch.cos(xf)
    feats = torch.cat([x, sin, cos], dim=-1)
    dfeats = torch.cat([dx, cos * vf, -sin * vf], dim=-1)
    u = feats @ w_pos.T + ray_term[:, None, :]
    du = dfeats @ w_pos.T
    h, dh = u, du
    for i, (layer, act) in enumerate(zip(net.layers, net.acts)):
        if i > 0:
            u, du = layer(h), dh @ layer.weight.T
        h, slope = act.value_and_derivative(u)
        dh = slope * du
    return dh @ net.head.weight.T
