"""The encoding of a ray point ``z = [x, d]`` with its forward-mode derivative along the ray."""

from __future__ import annotations

import torch
from torch import nn

from quadfree.errors import QuadfreeError
from quadfree.fields import PositionalEncoding
from quadfree.radiance.autoint.config import SIGMA_DIRECTIONS


class RayPointEncoding(nn.Module):
    """Encode ``z = [x, d]`` as ``[PE(x), γ(d)]`` with a forward-mode ``jvp``.

    ``γ(d)`` is ``PE_Ld(d)`` when ``dir_freqs >= 0`` and the encoding is ``"encoded"``,
    ``d`` itself for ``"raw"``. ``γ(d)`` uses AutoInt's normalised encoding (sin(f·u)/f);
    ``PE(x)`` does when ``normalized`` (as published) and is NeRF's plain encoding otherwise.

    Shapes: ``(..., 6) -> (..., out_dim)``.

    Example:
        >>> enc = RayPointEncoding(pos_freqs=10, dir_freqs=4)
        >>> enc.out_dim, enc(torch.rand(7, 6)).shape
        (90, torch.Size([7, 90]))
    """

    def __init__(self, pos_freqs: int, dir_freqs: int, direction: str = "encoded",
                 normalized: bool = False) -> None:
        super().__init__()
        if direction not in SIGMA_DIRECTIONS:
            raise QuadfreeError(f"direction input {direction!r}: choose from {SIGMA_DIRECTIONS}")
        self.pos = PositionalEncoding(3, pos_freqs, normalized=normalized)
        self.dir = PositionalEncoding(3, dir_freqs if direction == "encoded" else 0,
                                      normalized=True)
        self.out_dim = self.pos.out_dim + self.dir.out_dim
        # column scale of the position encoding: 1 for raw x, 1/f for sin(f x) and cos(f x)
        # when normalised (the layout of PositionalEncoding: [x, sin at every f, cos at every
        # f], 3 per f)
        inv = (1.0 / self.pos.freqs if normalized else torch.ones_like(self.pos.freqs)
               ).repeat_interleave(3)
        self.register_buffer("pos_scale", torch.cat([torch.ones(3), inv, inv]),
                             persistent=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.pos(z[..., :3]), self.dir(z[..., 3:])], dim=-1)

    def jvp(self, z: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        px, pv = self.pos.jvp(z[..., :3], v[..., :3])
        dx, dv = self.dir.jvp(z[..., 3:], v[..., 3:])
        return torch.cat([px, dx], dim=-1), torch.cat([pv, dv], dim=-1)
