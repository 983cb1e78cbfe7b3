"""AutoInt volume rendering: per-section integrals from N+1 integral-network evaluations.

Parameterisation
----------------
A ray is ``r(t) = o + t·d`` with ``d`` a unit vector and ``t ∈ [near, far]``. Each integral
network is an MLP ``Φ(z)`` on ``z = [x, d] ∈ R⁶`` with ``x = o + t·d``; the encoding is
``[PE_Lx(x), PE_Ld(d)]``: NeRF's ``sin(f·x)`` for the point by default, AutoInt's normalised
``sin(f·x)/f`` with ``Config.normalized_encoding`` (published), and the normalised one for the
direction. The only
differentiated input is ``t``: ``dz/dt = [d, 0]``, so the grad network is

    ``f(t) = ∂Φ(o + t·d, d)/∂t = ∇ₓΦ(x, d) · d``,

computed by an explicit tangent pass (:func:`~quadfree.radiance.autoint.paths.ray_tangent`, equal to
``MLP.forward_with_tangent(z, [d, 0])``). Because the ray enters only through ``(x, d)``, two
cameras on the same line see the same function of the point (the model is a function of the
oriented line, not of where a camera sits on it). The direction's share of the first layer is
constant along a ray, so :func:`ray_forward` / :func:`ray_tangent` compute it once per ray.

Networks: the published model has two integral networks, ``Φσ`` (density) and ``Φc``
(colour); ``Config.shared = True`` (the CPU default) uses one network with four outputs
``[Φσ, Φc]``, which halves the evaluations per ray. With two networks the density network's
direction input is configurable (``Config.sigma_direction``): ``"encoded"`` is the published
``PE_Ld(d)``; ``"raw"`` feeds ``d`` itself (a low-frequency dependence).
Density from the grad network still depends on d (it is a directional derivative), so a
second remedy is a *view-consistency penalty* (``Config.consistency_weight``): during
training, the density at sampled points is also evaluated along a random other direction and
the squared difference of the two short-segment opacities is added to the loss.
:mod:`quadfree.radiance.consistency` measures what either remedy does.

Piecewise model
---------------
N sections with boundaries ``t_0 = near < … < t_N = far`` (uniform, or predicted per ray by
:class:`~quadfree.radiance.sections.SamplingNetwork`). Per section the mean of each grad
network, ``σ̄_i = ReLU(mean σ)`` and ``c̄_i = sigmoid(mean c)``, is composited with
``α_i = 1 − exp(−σ̄_i δ_i)``, ``δ_i = t_{i+1} − t_i``, on a white background
(:func:`quadfree.render.volume.render_sections`; depth is measured at section midpoints).

* Inference (integral path): the exact section mean of the grad network,
  ``(Φ(t_{i+1}) − Φ(t_i)) / δ_i``: N+1 evaluations of each integral network per ray.
* Training, ``Config.train_path = "grad"`` (published): the mean is estimated from K
  stratified, jittered samples of the grad networks inside each section (``N·K`` tangent passes
  per network per ray).
* Training, ``train_path = "integral"`` (default): the loss is computed from the exact section
  means above, i.e. the grad network is fitted through its exact integrals over the sections
  (the K → ∞ limit of the grad path) rather than a K-sample estimate. Training then optimises
  exactly what inference renders, and a step costs N+1 forward passes instead of N·K tangent
  passes. Measured comparisons of the two paths and encodings: ``docs/autoint.md``.
  The rendering loss then constrains the grad network only through its section integrals; its
  point values (``density_at``, the consistency penalty and measure) follow from them
  (:meth:`AutoIntRadiance.render_grad` compares the two on a trained model).
"""

from __future__ import annotations

import torch
from torch import nn

from quadfree.autoint import AutoIntEngine
from quadfree.errors import QuadfreeError
from quadfree.fields import MLP
from quadfree.quadrature import QuadratureEngine, section_nodes
from quadfree.radiance.autoint.config import SAMPLERS, TRAIN_PATHS, Config
from quadfree.radiance.autoint.encoding import RayPointEncoding
from quadfree.radiance.autoint.paths import ray_forward, ray_tangent
from quadfree.radiance.base import RadianceMethod, RayBundle
from quadfree.radiance.sections import SamplingNetwork, uniform_boundaries
from quadfree.render.volume import render_sections


class AutoIntRadiance(RadianceMethod):
    """The AutoInt radiance field: σ and colour integral networks plus section boundaries.

    ``render_rays(rays, training=False)`` takes the integral path (N+1 evaluations per network
    per ray); ``training=True`` follows ``Config.train_path`` (the same integral path, or K
    jittered grad-network samples per section).
    :meth:`render_grad` renders with the grad networks and any K (midpoint rule) for comparing
    the two paths.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> model = build(Config(sections=8, samples_per_section=2, hidden=32, depth=2))
        >>> rays = RayBundle(torch.zeros(4, 3), torch.tensor([[0.0, 0, 1]]).expand(4, 3),
        ...                  torch.full((4,), 2.0), torch.full((4,), 6.0))
        >>> out = model.render_rays(rays, training=False)
        >>> out["rgb"].shape, model.evals_per_ray()       # 9 points × 1 shared net + sampler
        (torch.Size([4, 3]), 10)
    """

    name = "autoint"

    def __init__(self, config: Config) -> None:
        super().__init__()
        c = config
        if c.sections < 1 or c.samples_per_section < 1:
            raise QuadfreeError(f"sections ({c.sections}) and samples_per_section "
                                f"({c.samples_per_section}) must be >= 1")
        if c.density_activation not in ("relu", "softplus"):
            raise QuadfreeError(f"density_activation {c.density_activation!r}: choose relu or "
                                "softplus")
        if c.sampler not in SAMPLERS:
            raise QuadfreeError(f"sampler {c.sampler!r}: choose from {SAMPLERS}")
        if c.train_path not in TRAIN_PATHS:
            raise QuadfreeError(f"train_path {c.train_path!r}: choose from {TRAIN_PATHS}")
        self.config = c
        def integral_net(outputs: int, direction: str = "encoded") -> MLP:
            return MLP(6, outputs, hidden=c.hidden, depth=c.depth, activation=c.activation,
                       encoding=RayPointEncoding(c.pos_freqs, c.dir_freqs, direction,
                                                 c.normalized_encoding))

        if c.shared:
            # one integral network with 4 outputs (σ, r, g, b): half the evaluations
            self.field_net = integral_net(4)
            self.sigma_net = self.color_net = None
        else:
            self.field_net = None
            self.sigma_net = integral_net(1, c.sigma_direction)
            self.color_net = integral_net(3)
        self.sampler = (SamplingNetwork(c.sections, hidden=c.sampler_hidden,
                                        depth=c.sampler_depth, pos_freqs=c.sampler_freqs,
                                        dir_freqs=c.sampler_freqs)
                        if c.sampler == "learned" else None)

    # ----------------------------------------------------------------- geometry
    def boundaries(self, rays: RayBundle) -> torch.Tensor:
        """Section boundaries per ray, monotone from near to far. Shapes: → ``(R, N+1)``."""
        if self.sampler is None:
            return uniform_boundaries(rays.near, rays.far, self.config.sections)
        return self.sampler(rays.origins, rays.directions, rays.near, rays.far)

    # ----------------------------------------------------------------- the two networks
    def phi_along(self, origins: torch.Tensor, directions: torch.Tensor, t: torch.Tensor
                  ) -> torch.Tensor:
        """The integral networks along rays, ``[σ_scale·Φσ, Φc]`` at parameters t: the ray field
        the AutoInt engine differences. Shapes: ``(R, 3), (R, 3), (R, S) -> (R, S, 4)``."""
        return self._scaled(self._along(ray_forward, origins, directions, t))

    def grad_along(self, origins: torch.Tensor, directions: torch.Tensor, t: torch.Tensor
                   ) -> torch.Tensor:
        """The grad networks ∂Φ/∂t along rays (raw, before ReLU/sigmoid): the ray field a
        quadrature engine samples. Shapes: ``(R, 3), (R, 3), (R, S) -> (R, S, 4)``."""
        return self._scaled(self._along(ray_tangent, origins, directions, t))

    def _along(self, path, o: torch.Tensor, d: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if self.field_net is not None:
            return path(self.field_net, o, d, t)
        return torch.cat([path(self.sigma_net, o, d, t), path(self.color_net, o, d, t)], dim=-1)

    def _scaled(self, out: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.config.sigma_scale * out[..., :1], out[..., 1:]], dim=-1)

    def integral_fields(self, rays: RayBundle, t: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """Integral networks at ray parameters t ``(R, S)``: ``Φσ (R, S)``, ``Φc (R, S, 3)``."""
        out = self.phi_along(rays.origins, rays.directions, t)
        return out[..., 0], out[..., 1:]

    def grad_fields(self, rays: RayBundle, t: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Grad networks ∂Φ/∂t at ray parameters t ``(R, S)`` (raw, before ReLU/sigmoid):
        ``σ (R, S)``, ``c (R, S, 3)``."""
        out = self.grad_along(rays.origins, rays.directions, t)
        return out[..., 0], out[..., 1:]

    def density_at(self, points: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        """Density ReLU(∂Φσ/∂t) (or softplus) at 3-D points seen along unit ``directions``.

        Shapes: points, directions ``(P, 3)`` → ``(P,)``.
        """
        net = self.field_net if self.field_net is not None else self.sigma_net
        sigma = ray_tangent(net, points, directions, torch.zeros_like(points[:, :1]))
        return self._density(self.config.sigma_scale * sigma[:, 0, 0])

    # ----------------------------------------------------------------- the engines
    def integral_engine(self) -> AutoIntEngine:
        """The integral path's engine: exact section means ``(Φ(t_{i+1}) − Φ(t_i)) / δ_i``."""
        return AutoIntEngine(self.phi_along)

    def grad_engine(self, nodes: torch.Tensor) -> QuadratureEngine:
        """The grad path's engine: the mean of the grad networks at ``nodes (R, N, K)``."""
        return QuadratureEngine(self.grad_along, at=nodes)

    def section_means_integral(self, rays: RayBundle, bounds: torch.Tensor
                               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact section means of the grad networks, ``(Φ(t_{i+1}) − Φ(t_i)) / δ_i``.

        Shapes: bounds ``(R, N+1)`` → ``(R, N)``, ``(R, N, 3)`` (raw, before activations).
        """
        means = self.integral_engine().section_means(rays.origins, rays.directions, bounds)
        return means[..., 0], means[..., 1:]

    # ----------------------------------------------------------------- rendering
    def _shade(self, means: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._density(means[..., 0]), torch.sigmoid(means[..., 1:])

    def _render(self, engine, rays: RayBundle, bounds: torch.Tensor) -> dict[str, torch.Tensor]:
        out = render_sections(engine, rays, bounds, self._shade,
                              background=1.0 if self.config.white_background else 0.0)
        out["bounds"] = out.pop("edges")
        return out

    def _density(self, raw: torch.Tensor) -> torch.Tensor:
        if self.config.density_activation == "softplus":
            return nn.functional.softplus(raw)
        return torch.relu(raw)

    def render_rays(self, rays: RayBundle, *, training: bool) -> dict[str, torch.Tensor]:
        bounds = self.boundaries(rays)
        if not training or self.config.train_path == "integral":
            out = self._render(self.integral_engine(), rays, bounds)
            t = None
        else:
            t = section_nodes(bounds, self.config.samples_per_section, "stratified")
            out = self._render(self.grad_engine(t), rays, bounds)
        if training and self.config.consistency_weight > 0:
            if t is None:            # integral path: one jittered point per section
                t = section_nodes(bounds, 1, "stratified")
            out["consistency"] = self._consistency_penalty(rays, t)
        return out

    def render_grad(self, rays: RayBundle, samples_per_section: int) -> dict[str, torch.Tensor]:
        """Render with the grad networks, midpoint rule with K = ``samples_per_section``.

        As K grows this converges to :meth:`render_rays` with ``training=False``.
        """
        bounds = self.boundaries(rays)
        nodes = section_nodes(bounds, samples_per_section, "midpoint")
        return self._render(self.grad_engine(nodes), rays, bounds)

    def _consistency_penalty(self, rays: RayBundle, t: torch.Tensor) -> torch.Tensor:
        """View-consistency remedy: at sampled points, the squared difference between the
        opacity ``1 − exp(−σ·ℓ)`` seen along the ray's own direction and along a random one
        (ℓ = ``consistency_length``); 0 for a view-independent density."""
        r = t.shape[0]
        m = min(self.config.consistency_points, t.numel())
        flat = torch.randint(t.numel(), (m,), device=t.device)
        ray_idx = flat // (t.numel() // r)
        tt = t.reshape(-1)[flat].detach()
        points = rays.origins[ray_idx] + tt[:, None] * rays.directions[ray_idx]
        other = nn.functional.normalize(torch.randn_like(points), dim=-1)
        both = torch.cat([rays.directions[ray_idx], other], dim=0)
        dens = self.density_at(torch.cat([points, points], dim=0), both)
        alpha = -torch.expm1(-dens * self.config.consistency_length)
        return ((alpha[:m] - alpha[m:]) ** 2).mean()

    def loss(self, outputs: dict[str, torch.Tensor], target_rgb: torch.Tensor) -> torch.Tensor:
        """Photometric MSE, plus ``consistency_weight`` × the view-consistency penalty."""
        loss = nn.functional.mse_loss(outputs["rgb"], target_rgb)
        if "consistency" in outputs:
            loss = loss + self.config.consistency_weight * outputs["consistency"]
        return loss

    def evals_per_ray(self) -> int:
        """Integral path: N+1 points × 2 networks (1 if ``shared``), plus one query of the
        sampling network."""
        nets = 1 if self.field_net is not None else 2
        return nets * (self.config.sections + 1) + (1 if self.sampler is not None else 0)


def build(config: Config | None = None) -> AutoIntRadiance:
    """Build the AutoInt radiance method from a :class:`Config`.

    Example:
        >>> build(Config(sections=16, sampler="uniform", shared=False)).evals_per_ray()
        34
    """
    return AutoIntRadiance(config or Config())
