"""TeRF: a radiance field whose density and colour are FC²T² expansions (paper §6.3.1).

Model
-----
N sources p (a regular ``grid³`` lattice plus uniform jitter of ``jitter`` spacings, then
learnable offsets) carry four weights each: w⁽¹⁾ (density) and w⁽²⁾ (r, g, b). The field is
the Gaussian kernel sum ``f(x) = κ Σ_n exp(−|x − p_n|²/(2s²)) w_n`` with s = ``width`` grid
spacings and κ = 1/((2π)^{3/2} width³), so a uniform weight u gives f ≈ u. Then

* density ``σ(x) = g(density_scale · f₀(x))`` with ``nonneg`` choosing g and the constraint:
  ``"relu"`` (default) max(f, 0) with free weights (the paper's future work, §6.4.1),
  ``"softplus"`` a sharp softplus(β f)/β, or ``"weights"`` the published relu on w⁽¹⁾ with σ = f;
* colour ``c(x) = sigmoid(f_{1..3}(x))``, white background;
* optional view-dependent colour (``view_dependent``, paper §6.4.2): a small MLP of the unit
  view direction d, ``3 → view_width → 3``, gives a per-ray shift β(d) of the colour logits,
  ``c(x, d) = sigmoid(f_{1..3}(x) + β(d))``. The paper proposes a network producing all of
  w⁽²⁾ from d (one colour expansion per direction); β(d) is its spatially uniform special
  case — the same as adding one direction-dependent amount to every colour weight, since a
  uniform weight u gives f ≈ u — so it needs no extra expansion, and its gradient is the sum
  of the colour weights the expansion backward already forms (``color_bias`` of
  :func:`~quadfree.taylor.volume.volume_render_layer`). Its last layer starts at zero, so an
  untrained view network renders exactly what the Lambertian model renders.
* optional view-dependent colour *weights* (``view_sh`` = L ≥ 1, paper §6.4.2 in an exact
  low-rank form): the colour weights of a ray with unit direction d are
  ``w⁽²⁾(d) = w⁽²⁾ + Σ_k Y_k(d) ΔW_k`` with Y_k the K = (L+1)² − 1 real spherical harmonics
  of degrees 1…L (K = 3 or 8) and ΔW_k learnable (3 colour channels each, starting at 0, so
  the untrained model is Lambertian). Colour is linear in the weights, so the expansion
  carries 4 + 3K channels (density, w⁽²⁾, ΔW_1 … ΔW_K) built once from the shared sources;
  per ray only the K mixing coefficients Y_k(d) differ (``color_mix`` of
  :func:`~quadfree.taylor.volume.volume_render_layer`). Unlike β(d) above, the colour change
  with direction varies in space (each ΔW_k is a field), no network is evaluated, and the
  gradient of every ΔW_k comes from the same single backward expansion.

Scene coordinates are mapped into the expansion's domain by ``x / bound`` (the objects scene
fits in the ball of radius 1.3; ``bound = 1.5``); the ray parameter t stays in scene units
(directions are scaled by 1/bound too), so σ is per scene unit as in NeRF.

Rendering and training use :func:`quadfree.taylor.volume.volume_render_layer`: per crossed cell
the density and colour polynomials, J Gauss pieces, early termination, and the expansion
backward (one 4-channel expansion of the read nodes). No network is evaluated:
:meth:`TeRF.evals_per_ray` is 0 and :meth:`TeRF.work` reports the honest work instead
(expansions per step/frame, crossed and coloured cells per ray, polynomial reads). The density
is a function of position only, so view consistency is exactly 0 by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from quadfree.errors import QuadfreeError
from quadfree.radiance.base import RadianceMethod, RayBundle
from quadfree.taylor.expansion import FC2T2, Expansion
from quadfree.taylor.volume import volume_render, volume_render_layer

NONNEG = ("relu", "softplus", "weights")


@dataclass
class Config:
    """TeRF settings (defaults sized for the shared 2-core CPU).

    Attributes:
        levels: expansion levels (finest grid ``2^(levels+1)`` cells per axis; 3 → 16).
        order: ρ, polynomial degree per cell.
        grid: sources per axis on the initial lattice (32 → 32 768 sources).
        jitter: uniform jitter of the initial sources, in lattice spacings.
        width: Gaussian kernel std in lattice spacings.
        learn_sources: learn source offsets (else p stays on the jittered lattice).
        source_step: scale of the learnable offsets (their effective learning rate is
            ``lr × source_step`` in domain units).
        nodes: J Gauss pieces per crossed cell.
        nonneg: ``relu`` (max(f, 0)), ``softplus`` (sharp, β = ``beta``) or ``weights``
            (published: relu on the density weights, σ = f).
        beta: sharpness of ``softplus``.
        density_scale: σ = density_scale × f₀ (lets O(1) weights reach densities of tens).
        density_init: initial density weight (σ ≈ density_scale × density_init at the start).
        color_scale: colour logits = color_scale × f_{1..3} (Adam moves weights by about lr
            per step; the scales set how fast densities and colours can change).
        bound: scene coordinates are divided by this to land in (−1, 1)³.
        t_min: early termination once transmittance falls below this.
        view_dependent: add the view-direction colour network (off: Lambertian, as published).
        view_width: hidden width of that network.
        view_sh: degree L of the view-dependent colour weights ``w⁽²⁾ + Σ_k Y_k(d) ΔW_k``
            (0: off; 1 → K = 3, 2 → K = 8 colour-weight directions).
    """

    levels: int = 3
    order: int = 4
    grid: int = 32
    jitter: float = 0.5
    width: float = 1.0
    learn_sources: bool = True
    source_step: float = 0.1
    nodes: int = 4
    nonneg: str = "relu"
    beta: float = 10.0
    density_scale: float = 100.0
    density_init: float = 0.002
    color_scale: float = 10.0
    bound: float = 1.5
    t_min: float = 1e-4
    view_dependent: bool = False
    view_width: int = 16
    view_sh: int = 0


SH_DEGREES = (0, 1, 2)


def sh_basis(d: torch.Tensor, degree: int) -> torch.Tensor:
    """Real spherical harmonics of degrees 1…``degree`` at unit directions: ``(R, 3)`` →
    ``(R, (degree+1)² − 1)`` (the constant Y_0 is left out: it is w⁽²⁾ itself).

    Example:
        >>> sh_basis(torch.tensor([[0.0, 0.0, 1.0]]), 1)
        tensor([[0.0000, 0.4886, 0.0000]])
        >>> sh_basis(torch.tensor([[1.0, 0.0, 0.0]]), 2).shape
        torch.Size([1, 8])
    """
    if degree not in SH_DEGREES[1:]:
        raise QuadfreeError(f"view_sh={degree!r}: choose from {SH_DEGREES}", param="view_sh")
    x, y, z = d.unbind(-1)
    out = [0.4886025119 * y, 0.4886025119 * z, 0.4886025119 * x]
    if degree >= 2:
        out += [1.0925484306 * x * y, 1.0925484306 * y * z,
                0.3153915653 * (3.0 * z * z - 1.0), 1.0925484306 * x * z,
                0.5462742153 * (x * x - y * y)]
    return torch.stack(out, -1)


class TeRF(RadianceMethod):
    """The TeRF radiance method (see the module docstring).

    Example:
        >>> m = TeRF(Config(levels=1, grid=6, order=2))
        >>> rays = RayBundle(torch.tensor([[0.0, 0.0, 4.0]]), torch.tensor([[0.0, 0.0, -1.0]]),
        ...                  torch.tensor([2.0]), torch.tensor([6.0]))
        >>> out = m.render_rays(rays, training=False)
        >>> out["rgb"].shape, m.evals_per_ray(), m.work()["expansions_per_frame"]
        (torch.Size([1, 3]), 0, 1)
    """

    name = "terf"

    def __init__(self, config: Config) -> None:
        super().__init__()
        c = config
        if c.nonneg not in NONNEG:
            raise QuadfreeError(f"nonneg={c.nonneg!r}: choose from {NONNEG}", param="nonneg")
        if c.grid < 2 or c.width <= 0 or c.bound <= 0 or c.jitter < 0:
            raise QuadfreeError(f"grid={c.grid}, width={c.width}, bound={c.bound}, "
                                f"jitter={c.jitter}: need grid >= 2, width > 0, bound > 0, "
                                "jitter >= 0", param="grid")
        self.config = c
        h = 2.0 / c.grid
        s = c.width * h
        self.transform = FC2T2(f"exp(-{1.0 / (2.0 * s * s)!r}*(x**2+y**2+z**2))",
                               levels=c.levels, order=c.order)
        self.kappa = 1.0 / ((2.0 * math.pi) ** 1.5 * c.width ** 3)
        gen = torch.Generator().manual_seed(0)
        axis = torch.linspace(-1.0 + h / 2, 1.0 - h / 2, c.grid)
        p0 = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(1, -1, 3)
        p0 = p0 + (torch.rand(p0.shape, generator=gen) - 0.5) * (c.jitter * h)
        self.register_buffer("p0", p0.clamp(-1.0 + 1e-4, 1.0 - 1e-4))
        n = p0.shape[1]
        self.offsets = nn.Parameter(torch.zeros(1, n, 3)) if c.learn_sources else None
        self.w_density = nn.Parameter(torch.full((1, 1, n), float(c.density_init)))
        self.w_color = nn.Parameter(0.01 * torch.randn(1, 3, n, generator=gen))
        if c.view_sh not in SH_DEGREES:
            raise QuadfreeError(f"view_sh={c.view_sh!r}: choose from {SH_DEGREES}",
                                param="view_sh")
        k = (c.view_sh + 1) ** 2 - 1
        self.w_view = nn.Parameter(torch.zeros(1, 3 * k, n)) if k else None
        self.view_net: nn.Module | None = None
        if c.view_dependent:
            if c.view_width < 1:
                raise QuadfreeError(f"view_width={c.view_width}: must be >= 1",
                                    param="view_width")
            last = nn.Linear(c.view_width, 3)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            self.view_net = nn.Sequential(nn.Linear(3, c.view_width), nn.ReLU(), last)
        self._cache: tuple | None = None
        self._stats = {"rays": 0, "segments": 0, "density_segments": 0, "active_segments": 0}

    # ----------------------------------------------------------------- the field
    def sources(self) -> torch.Tensor:
        """Source positions in the domain: ``(1, N, 3)``."""
        if self.offsets is None:
            return self.p0
        return (self.p0 + self.config.source_step * self.offsets).clamp(-1.0 + 1e-4, 1.0 - 1e-4)

    def weights(self) -> torch.Tensor:
        """The expansion weights ``(1, 4, N)``: scaled density channel, then colour."""
        wd = self.w_density
        if self.config.nonneg == "weights":
            wd = torch.relu(wd)
        c = self.config
        parts = [c.density_scale * wd, c.color_scale * self.w_color]
        if self.w_view is not None:
            parts.append(c.color_scale * self.w_view)
        return self.kappa * torch.cat(parts, 1)

    def _density_kind(self) -> str:
        return {"relu": "relu", "softplus": "softplus", "weights": "identity"}[
            self.config.nonneg]

    def _key(self) -> tuple:
        params = [self.w_density, self.w_color] + [
            t for t in (self.offsets, self.w_view) if t is not None]
        return tuple((t.data_ptr(), t._version, t.dtype, str(t.device)) for t in params)

    @torch.no_grad()
    def expansion(self) -> Expansion:
        """The expansion of the current parameters (cached until they change)."""
        if self._cache is None or self._cache[0] != self._key():
            self._cache = (self._key(), self.transform.expand(self.sources(), self.weights()))
        return self._cache[1]

    def _options(self) -> dict:
        c = self.config
        return dict(nodes=c.nodes, density=self._density_kind(), color="sigmoid",
                    background=1.0, beta=c.beta, t_min=c.t_min)

    # ----------------------------------------------------------------- rendering
    def color_bias(self, directions: torch.Tensor) -> torch.Tensor | None:
        """Per-ray colour-logit shift β(d) ``(R, 3)`` from directions ``(R, 3)``; ``None``
        when the model is Lambertian (``view_dependent`` off)."""
        if self.view_net is None:
            return None
        d = nn.functional.normalize(directions, dim=-1)
        return self.view_net(d.to(self.w_color.dtype))

    def color_mix(self, directions: torch.Tensor) -> torch.Tensor | None:
        """Per-ray colour-weight mixing coefficients Y_k(d) ``(R, K)`` from directions
        ``(R, 3)``; ``None`` when ``view_sh`` is 0."""
        if self.w_view is None:
            return None
        d = nn.functional.normalize(directions, dim=-1)
        return sh_basis(d.to(self.w_color.dtype), self.config.view_sh)

    def render_rays(self, rays: RayBundle, *, training: bool) -> dict[str, torch.Tensor]:
        b = self.config.bound
        o, r = rays.origins / b, rays.directions / b
        near, far = rays.near[None], rays.far[None]
        mix = self.color_mix(rays.directions)
        if torch.is_grad_enabled() and training:
            out = volume_render_layer(self.transform, self.sources(), self.weights(), o, r,
                                      near, far, color_bias=self.color_bias(rays.directions),
                                      color_mix=mix, **self._options())
            rgb, acc, depth = out["rgb"], out["acc"], out["depth"]
        else:
            bias = self.color_bias(rays.directions)
            res = volume_render(self.expansion(), o.detach(), r.detach(), near, far,
                                color_bias=None if bias is None else bias.detach(),
                                color_mix=None if mix is None else mix.detach(),
                                **self._options())
            rgb, acc, depth = res.rgb, res.acc, res.depth
            self._stats = {"rays": int(o.shape[0]), "segments": res.segments,
                           "density_segments": res.density_segments,
                           "active_segments": res.active_segments}
        return {"rgb": rgb[0], "acc": acc[0], "depth": depth[0]}

    def density_at(self, points: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        """σ at scene points ``(P, 3)`` (directions are ignored: σ depends on position only).

        Points outside the volume ``[−bound, bound]³`` have density 0. Returns ``(P,)``.
        """
        x = points / self.config.bound
        inside = (x.abs() <= 1.0).all(-1)
        f0 = self.expansion().evaluate(x.clamp(-1.0, 1.0))[0, 0]
        kind = self._density_kind()
        if kind == "relu":
            sigma = f0.clamp_min(0.0)
        elif kind == "softplus":
            sigma = nn.functional.softplus(self.config.beta * f0) / self.config.beta
        else:
            sigma = f0
        return torch.where(inside, sigma, torch.zeros_like(sigma))

    def evals_per_ray(self) -> int:
        """0: TeRF evaluates no network of position (see :meth:`work`); 1 with
        ``view_dependent`` (the tiny direction network, once per ray)."""
        return 0 if self.view_net is None else 1

    def work(self) -> dict[str, float | int]:
        """Honest work counts: expansions per training step (forward + backward) and per
        frame, sources, and per ray (of the last inference batch) the crossed cells, the cells
        whose density was read (not provably empty), the cells whose colour was read (before
        termination), the cell-polynomial reads (1 density channel per density cell + 3
        colour channels per coloured cell — 3(K+1) with ``view_sh`` — each at J Gauss
        nodes) and the nodes read; ``expansion_channels`` is 4 (+ 3K with ``view_sh``).
        """
        s = self._stats
        rays = max(s["rays"], 1)
        ncol = 1 if self.w_view is None else 1 + self.w_view.shape[1] // 3
        seg, dens, act = (s["segments"] / rays, s["density_segments"] / rays,
                          s["active_segments"] / rays)
        return {"network_evals_per_ray": self.evals_per_ray(), "expansions_per_step": 2,
                "expansions_per_frame": 1, "sources": int(self.p0.shape[1]),
                "levels": self.config.levels, "order": self.config.order,
                "cells_per_ray": round(seg, 2), "density_cells_per_ray": round(dens, 2),
                "coloured_cells_per_ray": round(act, 2),
                "expansion_channels": 1 + 3 * ncol,
                "cell_polynomials_per_ray": round(dens + 3 * ncol * act, 2),
                "nodes_per_ray": round(self.config.nodes * dens, 2)}


def build(config: Config | None = None) -> TeRF:
    """Build TeRF from its :class:`Config` (the registry's entry point).

    Example:
        >>> build(Config(levels=1, grid=4, order=2)).sources().shape
        torch.Size([1, 64, 3])
    """
    return TeRF(config or Config())
