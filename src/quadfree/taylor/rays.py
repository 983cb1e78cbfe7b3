"""Rays through the finest grid of an FC²T² expansion: every crossed cell, with entry and exit.

A ray ``x(t) = o + t·r`` (``t ∈ [near, far]``) is clipped to the domain [−1, 1]^d, then cut at
every grid plane it crosses. All ``d·(n + 1)`` plane crossings of a ray are computed at once,
clamped into the clipped interval and sorted; consecutive crossings bound the segments, and a
segment's midpoint names its cell. Zero-length pieces (a ray through an edge or corner, a ray
parallel to a plane, a ray that misses the domain) are marked invalid and moved behind the
valid ones, which stay in order of increasing ``t``. No Python loop runs over rays or cells.

A ray lying exactly on a cell face is assigned to the cell on the upper side (like
:func:`quadfree.taylor.passes.locate`); the expansion is continuous up to its approximation
error, so either side serves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from quadfree.errors import QuadfreeError, check_finite


@dataclass
class Segments:
    """The cells a batch of rays crosses, in order along each ray.

    Attributes:
        t_in: ``(..., S)`` ray parameter where the ray enters the cell.
        t_out: ``(..., S)`` ray parameter where it leaves (``t_out > t_in`` where valid).
        cell: ``(..., S, d)`` int64 cell index per axis, in ``[0, n)``.
        valid: ``(..., S)`` bool; the valid segments of a ray come first, in order of ``t``.
        n: cells per axis.

    ``...`` are the leading (batch) dimensions of the rays; ``S`` is the largest number of
    cells any of the rays crosses (at most ``d·n``). Invalid entries have ``t_in = t_out``.
    """

    t_in: torch.Tensor
    t_out: torch.Tensor
    cell: torch.Tensor
    valid: torch.Tensor
    n: int

    @property
    def centres(self) -> torch.Tensor:
        """Cell centres ``(..., S, d)``."""
        return -1.0 + (self.cell.to(self.t_in.dtype) + 0.5) * (2.0 / self.n)

    @property
    def length(self) -> torch.Tensor:
        """Segment lengths in ``t``: ``(..., S)`` (zero where invalid)."""
        return self.t_out - self.t_in


def check_rays(o: torch.Tensor, r: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate ray origins and directions ``(..., dim)``; broadcast them to one shape.

    Raises :class:`QuadfreeError` naming ``o`` or ``r`` for a wrong shape, NaN/Inf or a
    zero direction.

    Example:
        >>> o, r = check_rays(torch.zeros(4, 3), torch.tensor([0.0, 0.0, 1.0]), 3)
        >>> o.shape, r.shape
        (torch.Size([4, 3]), torch.Size([4, 3]))
    """
    for name, x in (("ray origins o", o), ("ray directions r", r)):
        if not isinstance(x, torch.Tensor):
            raise QuadfreeError(f"{name}: expected a torch tensor, got {type(x).__name__}")
        if x.dim() < 1 or x.shape[-1] != dim:
            raise QuadfreeError(f"{name}: shape {tuple(x.shape)} must end in {dim} coordinates")
        if not x.is_floating_point():
            raise QuadfreeError(f"{name}: dtype {x.dtype} is not floating point")
        check_finite(name, x)
    try:
        o, r = torch.broadcast_tensors(o, r)
    except RuntimeError:
        raise QuadfreeError(f"ray origins o {tuple(o.shape)} and directions r "
                            f"{tuple(r.shape)} do not broadcast") from None
    if r.numel() and bool((r.detach() == 0).all(-1).any()):
        raise QuadfreeError("ray directions r: a direction is the zero vector")
    return o, r


def _interval(x, like: torch.Tensor, name: str) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=like.dtype, device=like.device)
    if t.isnan().any():
        raise QuadfreeError(f"{name}: NaN")
    try:
        return t.expand(like.shape[:-1])
    except RuntimeError:
        raise QuadfreeError(f"{name}: shape {tuple(t.shape)} does not broadcast to the rays' "
                            f"{tuple(like.shape[:-1])}") from None


def clip_to_domain(o: torch.Tensor, r: torch.Tensor, near=0.0, far=math.inf
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The part ``[t0, t1]`` of ``[near, far]`` where ``o + t·r`` lies in [−1, 1]^d.

    Shapes: o, r ``(..., d)``; near, far floats or ``(...)`` → t0, t1 ``(...)``. Where the
    ray misses the domain (or the interval is empty) ``t0 = t1 = near`` (0 if near is
    infinite), so both stay finite.

    Example:
        >>> t0, t1 = clip_to_domain(torch.tensor([[-3.0, 0.0]]), torch.tensor([[1.0, 0.0]]))
        >>> t0.tolist(), t1.tolist()
        ([2.0], [4.0])
    """
    t0 = _interval(near, o, "near").clone()
    t1 = _interval(far, o, "far").clone()
    for ax in range(o.shape[-1]):
        oa, ra = o[..., ax], r[..., ax]
        par = ra == 0
        inv = 1.0 / torch.where(par, torch.ones_like(ra), ra)
        ta, tb = (-1.0 - oa) * inv, (1.0 - oa) * inv
        inside = (oa >= -1.0) & (oa <= 1.0)
        inf = torch.full_like(ta, math.inf)
        lo = torch.where(par, torch.where(inside, -inf, inf), torch.minimum(ta, tb))
        hi = torch.where(par, torch.where(inside, inf, -inf), torch.maximum(ta, tb))
        t0 = torch.maximum(t0, lo)
        t1 = torch.minimum(t1, hi)
    empty = ~(t1 > t0)
    start = _interval(near, o, "near")
    fill = torch.where(torch.isfinite(start), start, torch.zeros_like(start))
    return torch.where(empty, fill, t0), torch.where(empty, fill, t1)


def traverse(o: torch.Tensor, r: torch.Tensor, n: int, near=0.0, far=math.inf) -> Segments:
    """All cells of an ``n^d`` grid on [−1, 1]^d that the rays ``o + t·r`` cross in [near, far].

    Shapes: o, r ``(..., d)`` (broadcast together); near, far floats or ``(...)``. Returns
    :class:`Segments` with ``(..., S)`` entries per ray. ``t_in``/``t_out`` are
    differentiable in o and r (they are plane crossings).

    Example:
        >>> s = traverse(torch.tensor([[-2.0, -0.9]]), torch.tensor([[1.0, 0.0]]), n=4)
        >>> s.valid.sum().item(), s.cell[0, :4, 0].tolist(), s.t_in[0, :4].tolist()
        (4, [0, 1, 2, 3], [1.0, 1.5, 2.0, 2.5])
    """
    if not isinstance(n, int) or n < 1:
        raise QuadfreeError(f"n={n!r}: cells per axis must be a positive integer")
    if not isinstance(o, torch.Tensor) or o.dim() < 1:
        raise QuadfreeError("ray origins o: expected a tensor of shape (..., d)")
    o, r = check_rays(o, r, o.shape[-1])
    lead, d = o.shape[:-1], o.shape[-1]
    t0, t1 = clip_to_domain(o, r, near, far)
    o2, r2 = o.reshape(-1, d), r.reshape(-1, d)
    t0, t1 = t0.reshape(-1, 1), t1.reshape(-1, 1)
    planes = torch.linspace(-1.0, 1.0, n + 1, dtype=o.dtype, device=o.device)
    par = r2 == 0
    inv = 1.0 / torch.where(par, torch.ones_like(r2), r2)
    cross = (planes[None, None, :] - o2[:, :, None]) * inv[:, :, None]          # (K, d, n+1)
    cross = torch.where(par[:, :, None], t0[:, :, None].expand_as(cross), cross)
    cross = cross.reshape(cross.shape[0], -1)
    # clamp into [t0, t1]; on ties keep the bound (its gradient), not the plane crossing
    cross = torch.where(cross <= t0, t0, torch.where(cross >= t1, t1, cross))
    knots = torch.sort(torch.cat([t0, cross, t1], 1), dim=1).values            # (K, d(n+1)+2)
    t_in, t_out = knots[:, :-1], knots[:, 1:]
    valid = t_out > t_in
    # valid segments first, each ray's in increasing t (stable sort keeps the order)
    order = torch.sort((~valid).to(torch.int8), dim=1, stable=True).indices
    width = max(int(valid.sum(1).max()) if valid.numel() else 0, 1)
    order = order[:, :width]
    t_in, t_out, valid = (x.gather(1, order) for x in (t_in, t_out, valid))
    mid = 0.5 * (t_in + t_out).detach()
    x = o2.detach()[:, None, :] + mid[..., None] * r2.detach()[:, None, :]
    cell = ((x + 1.0) * (n / 2.0)).floor().clamp_(0, n - 1).long()
    cell = torch.where(valid[..., None], cell, torch.zeros_like(cell))
    S = t_in.shape[1]
    return Segments(t_in=t_in.reshape(*lead, S), t_out=t_out.reshape(*lead, S),
                    cell=cell.reshape(*lead, S, d), valid=valid.reshape(*lead, S), n=n)


def batch_rays(o: torch.Tensor, r: torch.Tensor, B: int, d: int
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate rays ``(R, d)`` (shared by the batch) or ``(B, R, d)``; expand to ``(B, R, d)``.

    Example:
        >>> o, r = batch_rays(torch.zeros(5, 3), torch.ones(5, 3), 2, 3)
        >>> o.shape
        torch.Size([2, 5, 3])
    """
    o, r = check_rays(o, r, d)
    if o.dim() == 2:
        o, r = o.unsqueeze(0), r.unsqueeze(0)
    if o.dim() != 3 or o.shape[0] not in (1, B):
        raise QuadfreeError(f"ray origins o: shape {tuple(o.shape)} must be (R, {d}) or "
                            f"({B}, R, {d})")
    return o.expand(B, -1, -1), r.expand(B, -1, -1)
