"""Implicit surfaces that answer ``hits(o, r)``: the FC²T² depth field and an MLP baseline.

Both describe the surface as the level set ``F(x) = level`` of a field over the domain
[−1, 1]³ (inside: ``F > level``) and return, per ray ``o + t·r`` (domain coordinates, ``r``
not necessarily unit, so ``t`` can stay in world units), the first root ``t``, the surface
gradient ``∇F`` there and a hit mask, differentiable in the model's parameters through the
implicit function theorem:

- :class:`TaylorDepth`: ``F(x) = g·Σ_n exp(−α|x − p_n|²) w_n`` with the root-implicit layer
  :func:`quadfree.taylor.roots.first_root` (exact roots per grid cell; backward = one
  expansion of the roots). The surface is ``F = bias``: the paper's bias term. At the start
  the weights are ``2·bias`` inside a ball of radius ``radius`` and 0 outside, so the initial
  surface is that ball and every ray through the object's region has a root.
- :class:`MLPDepth`: ``F(x) = radius − |x| + MLP(x)`` (softplus MLP, last layer zero at the
  start: the same initial ball), roots by dense samples along the ray plus bisection, and the
  DVR/IDR gradient ``t = t₀ − (F(q₀) − level)/⟨r, ∇F(q₀)⟩`` with the denominator detached.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from quadfree.errors import QuadfreeError
from quadfree.taylor import FC2T2
from quadfree.taylor.operators import cells_per_axis
from quadfree.taylor.ops import kernel_sum
from quadfree.taylor.roots import first_root


class Hits(NamedTuple):
    """First roots along ``R`` rays: ``t (R,)``, surface gradient ``(R, 3)``, ``hit (R,)``."""

    t: torch.Tensor
    gradient: torch.Tensor
    hit: torch.Tensor


def domain_interval(o: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Entry and exit ``t`` ``(R,)`` of rays ``(R, 3)`` through [−1, 1]³ (t ≥ 0); exit <
    entry where a ray misses.

    Example:
        >>> t0, t1 = domain_interval(torch.tensor([[0.0, 0.0, -3.0]]),
        ...                          torch.tensor([[0.0, 0.0, 1.0]]))
        >>> t0.tolist(), t1.tolist()
        ([2.0], [4.0])
    """
    safe = torch.where(r.abs() < 1e-12, torch.full_like(r, 1e-12), r)
    a, b = (-1.0 - o) / safe, (1.0 - o) / safe
    lo = torch.minimum(a, b).amax(-1).clamp(min=0.0)
    hi = torch.maximum(a, b).amin(-1)
    return lo, hi


class TaylorDepth(nn.Module):
    """The FC²T² depth field (paper §5.3.1).

    Args:
        level: expansion level (``cells_per_axis(level)`` cells per axis).
        alpha_h2: Gaussian α times h² (h: the finest cell width).
        sources_per_cell: sources per cell and axis on the initial regular grid.
        order: expansion order ρ.
        radius: radius of the initial ball (domain units).
        bias: the level of the surface, ``F = bias``.
        colour: RGB-D fusion (paper §5.3.3): a second set of weights ``c (1, 3, N)`` on the
            same sources, read by the explicit layer at the root, :meth:`colour_at`.
        light: inverse rendering (paper §5.3.4): a learnable light direction
            (:meth:`light_direction`, the normalised parameter ``light_raw (3,)``, starting
            at +z), saved with the model.

    Example:
        >>> m = TaylorDepth(level=1, order=2)
        >>> h = m.hits(torch.tensor([[0.0, 0.0, -3.0]]), torch.tensor([[0.0, 0.0, 1.0]]))
        >>> bool(h.hit[0]), bool(2.0 < float(h.t[0]) < 2.6)     # the initial ball
        (True, True)
    """

    kind = "taylor"

    def __init__(self, level: int = 4, alpha_h2: float = 0.5, sources_per_cell: int = 1,
                 order: int = 4, radius: float = 0.85, bias: float = 0.5,
                 colour: bool = False, light: bool = False) -> None:
        super().__init__()
        if level < 1 or sources_per_cell < 1 or order < 1:
            raise QuadfreeError(f"level={level}, sources_per_cell={sources_per_cell}, "
                                f"order={order}: must be >= 1", param="level")
        if not alpha_h2 > 0:
            raise QuadfreeError(f"alpha_h2={alpha_h2}: must be > 0", param="alpha_h2")
        if not 0 < radius < 1:
            raise QuadfreeError(f"radius={radius}: must be in (0, 1)", param="radius")
        if not bias > 0:
            raise QuadfreeError(f"bias={bias}: must be > 0", param="bias")
        self.level, self.alpha_h2, self.order = level, alpha_h2, order
        self.sources_per_cell, self.radius, self.bias = sources_per_cell, radius, bias
        n = cells_per_axis(level)
        self.alpha = alpha_h2 / (2.0 / n) ** 2
        self.transform = FC2T2(f"exp(-{self.alpha!r}*(x**2 + y**2 + z**2))", levels=level,
                               order=order)
        k = n * sources_per_cell
        s = -1.0 + (torch.arange(k, dtype=torch.float32) + 0.5) * (2.0 / k)
        grid = torch.stack(torch.meshgrid(s, s, s, indexing="ij"), -1).reshape(1, -1, 3)
        self.gain = (2.0 / k) ** 3 / (math.pi / self.alpha) ** 1.5
        inside = (grid.norm(dim=-1) < radius).float()
        self.p = nn.Parameter(grid)
        self.w = nn.Parameter((2.0 * bias * inside)[:, None, :])
        self.colour = colour
        if colour:
            self.c = nn.Parameter(torch.full((1, 3, grid.shape[1]), 0.5))
        self.light = light
        if light:
            self.light_raw = nn.Parameter(torch.tensor([0.0, 0.0, 1.0]))

    @property
    def num_sources(self) -> int:
        return self.p.shape[1]

    @torch.no_grad()
    def init_from_rays(self, o: torch.Tensor, r: torch.Tensor, depth: torch.Tensor) -> None:
        """Start from the carved occupancy of training rays (:func:`carve_votes`):
        ``w = 2·bias·occupancy`` on the source grid, so the initial surface ``F = bias``
        lies where the votes are balanced, near the measured surface.
        Shapes: o, r ``(R, 3)`` domain rays, depth ``(R,)``."""
        k = cells_per_axis(self.level) * self.sources_per_cell
        occ = carve_votes(o.to(self.p.dtype), r.to(self.p.dtype), depth.to(self.p.dtype), k)
        self.w.copy_((2.0 * self.bias * occ).reshape(self.w.shape).to(self.w))

    def config(self) -> dict:
        return {"model": "taylor", "level": self.level, "alpha_h2": self.alpha_h2,
                "sources_per_cell": self.sources_per_cell, "order": self.order,
                "radius": self.radius, "bias": self.bias, "colour": self.colour,
                "light": self.light}

    def light_direction(self) -> torch.Tensor:
        """The learned unit light direction ``(3,)`` (world = domain axes; differentiable).

        Example:
            >>> TaylorDepth(level=1, order=2, light=True).light_direction().tolist()
            [0.0, 0.0, 1.0]
        """
        if not self.light:
            raise QuadfreeError("light: this model has no light direction", param="light")
        return self.light_raw / self.light_raw.norm().clamp(min=1e-12)

    def colour_at(self, q: torch.Tensor) -> torch.Tensor:
        """RGB ``(M, 3)`` at points ``(M, 3)`` (clamped into the domain):
        ``g·Σ_n φ(q − p_n) c_n`` (explicit layer,
        differentiable in q, p and c; q = the roots carries the depth layer's IFT gradient).

        Example:
            >>> m = TaylorDepth(level=1, order=2, colour=True)
            >>> m.colour_at(torch.zeros(2, 3)).shape
            torch.Size([2, 3])
        """
        if not self.colour:
            raise QuadfreeError("colour: this model has no colour layer", param="colour")
        q = q.to(self.p.dtype).clamp(-1.0, 1.0)      # roots lie inside; misses (t = 0) not
        return kernel_sum(self.p, self.c * self.gain, q, self.transform)[0].T

    def hits(self, o: torch.Tensor, r: torch.Tensor) -> Hits:
        """First roots of ``F = bias`` along rays ``(R, 3)`` (domain coordinates)."""
        out = first_root(self.transform, self.p, self.w * self.gain, o.to(self.p.dtype),
                         r.to(self.p.dtype), level=self.bias)
        return Hits(out.t[0], out.gradient[0], out.hit[0])

    def value(self, x: torch.Tensor) -> torch.Tensor:
        """``F(x) − bias`` at points ``(M, 3)`` → ``(M,)`` (explicit layer, differentiable)."""
        return kernel_sum(self.p, self.w * self.gain, x.to(self.p.dtype), self.transform
                          )[0, 0] - self.bias

    @torch.no_grad()
    def field(self, x: torch.Tensor) -> torch.Tensor:
        """``F(x) − bias`` without autograd ``(M,)`` (positive inside)."""
        E = self.transform.expand(self.p, self.w * self.gain)
        return E.evaluate(x.to(self.p.dtype))[0, 0] - self.bias

    def penalty(self) -> torch.Tensor:
        """The L1 weight penalty ``mean |w|``."""
        return self.w.abs().mean()

    @torch.no_grad()
    def after_step(self) -> None:
        """Keep the sources inside the domain."""
        self.p.clamp_(-1.0, 1.0)


class MLPDepth(nn.Module):
    """MLP implicit surface ``F(x) = radius − |x| + MLP(x)``, surface ``F = 0``.

    Args:
        depth, width: hidden layers (softplus, β = 100) and their width.
        radius: radius of the initial ball.
        samples: evaluations per ray to find the first sign change; then ``bisections``
            halvings of that interval.

    Example:
        >>> m = MLPDepth(depth=2, width=8)
        >>> h = m.hits(torch.tensor([[0.0, 0.0, -3.0]]), torch.tensor([[0.0, 0.0, 1.0]]))
        >>> bool(h.hit[0]), round(float(h.t[0]), 3)
        (True, 2.15)
    """

    kind = "mlp"

    def __init__(self, depth: int = 4, width: int = 64, radius: float = 0.85,
                 samples: int = 64, bisections: int = 12) -> None:
        super().__init__()
        if depth < 1 or width < 1 or samples < 2 or bisections < 0:
            raise QuadfreeError(f"mlp depth={depth}, width={width}, samples={samples}: need "
                                "depth, width >= 1 and samples >= 2", param="mlp_depth")
        if not 0 < radius < 1:
            raise QuadfreeError(f"radius={radius}: must be in (0, 1)", param="radius")
        self.depth, self.width, self.radius = depth, width, radius
        self.samples, self.bisections = samples, bisections
        layers: list[nn.Module] = []
        fan_in = 3
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), nn.Softplus(beta=100)]
            fan_in = width
        last = nn.Linear(width, 1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)

    def config(self) -> dict:
        return {"model": "mlp", "depth": self.depth, "width": self.width,
                "radius": self.radius, "samples": self.samples, "bisections": self.bisections}

    def value(self, x: torch.Tensor) -> torch.Tensor:
        """``F(x)`` at points ``(M, 3)`` → ``(M,)`` (positive inside)."""
        return self.radius - x.norm(dim=-1) + self.net(x)[:, 0]

    @torch.no_grad()
    def field(self, x: torch.Tensor) -> torch.Tensor:
        """``F(x)`` without autograd ``(M,)``."""
        return self.value(x)

    def penalty(self) -> torch.Tensor:
        return torch.zeros((), device=self.net[-1].weight.device)

    def after_step(self) -> None:
        return None

    def hits(self, o: torch.Tensor, r: torch.Tensor) -> Hits:
        """First sign change of F along rays ``(R, 3)`` (domain coordinates) by ``samples``
        evaluations and bisection; ``t`` carries the IFT gradient, ``∇F`` is differentiable
        when the parameters need gradients."""
        dtype = self.net[-1].weight.dtype
        o, r = o.to(dtype), r.to(dtype)
        R, K = o.shape[0], self.samples
        with torch.no_grad():
            lo, hi = domain_interval(o, r)
            frac = torch.linspace(0.0, 1.0, K, dtype=dtype, device=o.device)
            ts = lo[:, None] + (hi - lo).clamp(min=0)[:, None] * frac          # (R, K)
            f = self.value((o[:, None] + ts[..., None] * r[:, None]).reshape(-1, 3))
            pos = f.reshape(R, K) > 0
            change = pos[:, 1:] != pos[:, :-1]
            hit = change.any(-1) & (hi > lo)
            k = change.float().argmax(-1)
            a = ts.gather(1, k[:, None])[:, 0]
            b = ts.gather(1, (k + 1)[:, None])[:, 0]
            a_pos = pos.gather(1, k[:, None])[:, 0]
            for _ in range(self.bisections):
                mid = 0.5 * (a + b)
                m_pos = self.value(o + mid[:, None] * r) > 0
                same = m_pos == a_pos
                a = torch.where(same, mid, a)
                b = torch.where(same, b, mid)
            t0 = torch.where(hit, 0.5 * (a + b), torch.zeros_like(a))
        q0 = (o + t0[:, None] * r).detach().requires_grad_(True)
        with torch.enable_grad():
            f0 = self.value(q0)
            g0 = torch.autograd.grad(f0.sum(), q0, create_graph=torch.is_grad_enabled())[0]
        denom = (g0.detach() * r).sum(-1)
        denom = torch.where(denom.abs() > 1e-12, denom, torch.full_like(denom, 1e-12))
        t = t0 - f0 / denom                              # = t0 in value, IFT in gradient
        t = torch.where(hit, t, torch.zeros_like(t))
        g = torch.where(hit[:, None], g0, torch.zeros_like(g0))
        if not torch.is_grad_enabled():
            t, g = t.detach(), g.detach()
        return Hits(t, g, hit)


def build_model(config: dict) -> TaylorDepth | MLPDepth:
    """Rebuild a model from its ``config()`` dict.

    Example:
        >>> build_model({"model": "mlp", "depth": 1, "width": 4}).width
        4
    """
    cfg = dict(config)
    kind = cfg.pop("model", None)
    try:
        if kind == "taylor":
            return TaylorDepth(**cfg)
        if kind == "mlp":
            return MLPDepth(**cfg)
    except TypeError as exc:
        raise QuadfreeError(f"model config {config}: {exc}", param="model") from None
    raise QuadfreeError(f"model {kind!r}: choose taylor or mlp", param="model")


@torch.no_grad()
def carve_votes(o: torch.Tensor, r: torch.Tensor, depth: torch.Tensor, k: int,
                samples: int = 64) -> torch.Tensor:
    """Occupancy ``(k³,)`` in [0, 1] of the cells of a ``k``-per-axis grid over [−1, 1]³
    (x slowest) from rays with depth (domain rays ``(R, 3)``, depth ``(R,)``, 0 = none):
    each ray votes "free" for samples in front of its surface (all samples of a background
    ray) and "occupied" for samples behind it; a cell's occupancy is its share of occupied
    votes (0 where no ray passes).

    Example:
        >>> occ = carve_votes(torch.tensor([[0.0, 0.0, -3.0]]), torch.tensor([[0.0, 0.0, 1.0]]),
        ...                   torch.tensor([3.0]), k=2)
        >>> occ.reshape(2, 2, 2)[1, 1].tolist()       # x, y > 0 column: front free, back occupied
        [0.0, 1.0]
    """
    lo, hi = domain_interval(o, r)
    frac = (torch.arange(samples, dtype=o.dtype, device=o.device) + 0.5) / samples
    t = lo[:, None] + (hi - lo).clamp(min=0)[:, None] * frac
    x = o[:, None] + t[..., None] * r[:, None]
    inside = (x.abs() < 1).all(-1) & (hi > lo)[:, None]
    behind = (depth[:, None] > 0) & (t >= depth[:, None])
    cell = ((x + 1) * (k / 2)).long().clamp(0, k - 1)
    flat = (cell[..., 0] * k + cell[..., 1]) * k + cell[..., 2]
    occ = torch.zeros(k ** 3, dtype=torch.float64, device=o.device)
    tot = torch.zeros_like(occ)
    occ.index_add_(0, flat[inside], behind[inside].double())
    tot.index_add_(0, flat[inside], torch.ones_like(occ[:1]).expand(int(inside.sum())))
    return (occ / tot.clamp(min=1)).to(o.dtype)
