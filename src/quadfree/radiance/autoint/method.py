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

computed by an explicit tangent pass (:func:`ray_tangent`, equal to
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
(:func:`quadfree.render.compositing.render_density`; depth is measured at section midpoints).

* Inference (integral path): the exact section mean of the grad network,
  ``(Φ(t_{i+1}) − Φ(t_i)) / δ_i``: N+1 evaluations of each integral network per ray.
* Training, ``Config.train_path = "grad"`` (published): the mean is estimated from K
  stratified, jittered samples of the grad networks inside each section (``N·K`` tangent passes
  per network per ray).
* Training, ``train_path = "integral"`` (default): the loss is computed from the exact section
  means above, i.e. the grad network is fitted through its exact integrals over the sections
  (the K → ∞ limit of the grad path) rather than a K-sample estimate. Training then optimises
  exactly what inference renders, and a step costs N+1 forward passes instead of N·K tangent
  passes (measured: 4.8× more steps in the same time at N = 8, K = 2). Measured on
  ``objects`` 64×64, N = 8, 4 min of training on the 2-core CPU, published normalised encoding:
  20.7 dB (grad path, K = 2) vs 21.5 dB (integral path); with the plain encoding (the default)
  26.2 dB, NeRF 26.5 dB (README, "What closed the quality gap").
  The rendering loss then constrains the grad network only through its section integrals; its
  point values (``density_at``, the consistency penalty and measure) follow from them (on the
  trained default model a 16-sample midpoint rule of the grad networks renders within 0.05 dB
  of the integral path).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from quadfree.errors import QuadfreeError
from quadfree.fields import MLP, PositionalEncoding, Swish
from quadfree.radiance.base import RadianceMethod, RayBundle
from quadfree.radiance.sections import SamplingNetwork, uniform_boundaries
from quadfree.render.compositing import render_density

SIGMA_DIRECTIONS = ("encoded", "raw")
SAMPLERS = ("learned", "uniform")
TRAIN_PATHS = ("integral", "grad")
# Config keys added after the first release, with the behaviour runs saved before them had.
SAVED_BEFORE = {"train_path": "grad", "normalized_encoding": True, "sampler_freqs": 4}


@dataclass
class Config:
    """AutoInt radiance-field settings (defaults sized for a 2-core CPU at 64×64).

    The CPU defaults match the CPU NeRF where they can (width 64, 8 position octaves) and use
    one shared integral network (measured: half the evaluations of two networks for the same
    quality budget); the published model is :func:`paper_config`.

    Attributes:
        sections: N, sections per ray (8, 16 and 32 are the tested values).
        samples_per_section: K, grad-network samples per section when ``train_path="grad"``
            (unused by the integral path).
        hidden, depth: width and number of hidden layers of each integral network.
        activation: a smooth activation name (``swish`` as published, or ``sine``).
        pos_freqs, dir_freqs: positional-encoding octaves for the point and the direction.
        sigma_direction: ``"encoded"`` (published) or ``"raw"`` direction input of Φσ.
        shared: one integral network with four outputs (σ, rgb) instead of two networks;
            halves inference evaluations (``sigma_direction`` is then ``"encoded"``).
        sampler: ``"learned"`` (sampling network) or ``"uniform"`` sections.
        sampler_hidden, sampler_depth, sampler_freqs: the sampling network's size and
            encoding octaves.
        train_path: ``"integral"`` (loss on the exact section integrals, as rendered at
            inference) or ``"grad"`` (published: K jittered grad-network samples per section).
        normalized_encoding: AutoInt's normalised position encoding ``sin(f·x)/f`` (published)
            instead of NeRF's ``sin(f·x)``; the plain one trains sharper fields through the
            integral path (measured +4.7 dB at N = 8, see the module docstring).
        consistency_weight: weight of the view-consistency penalty (0 = off, as published).
        consistency_points: sample points per batch that the penalty re-evaluates.
        consistency_length: the penalty compares opacities ``1 − exp(−σ·length)`` of this
            short segment (scale-free, in [0, 1]) rather than raw densities.
        sigma_scale: constant factor on Φσ (lets densities of tens be reached with O(1) weights).
        density_activation: ``relu`` (published) or ``softplus`` on the section-mean density.
        white_background: composite on white (Blender convention).
    """

    sections: int = 32
    samples_per_section: int = 2
    hidden: int = 64
    depth: int = 4
    activation: str = "swish"
    pos_freqs: int = 8
    dir_freqs: int = 4
    sigma_direction: str = "encoded"
    shared: bool = True
    sampler: str = "learned"
    sampler_hidden: int = 64
    sampler_depth: int = 2
    sampler_freqs: int = 4
    train_path: str = "integral"
    normalized_encoding: bool = False
    consistency_weight: float = 0.0
    consistency_points: int = 512
    consistency_length: float = 0.05
    sigma_scale: float = 10.0
    density_activation: str = "relu"
    white_background: bool = True


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
    def integral_fields(self, rays: RayBundle, t: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """Integral networks at ray parameters t ``(R, S)``: ``Φσ (R, S)``, ``Φc (R, S, 3)``."""
        o, d = rays.origins, rays.directions
        if self.field_net is not None:
            out = ray_forward(self.field_net, o, d, t)
        else:
            out = torch.cat([ray_forward(self.sigma_net, o, d, t),
                             ray_forward(self.color_net, o, d, t)], dim=-1)
        return self.config.sigma_scale * out[..., 0], out[..., 1:]

    def grad_fields(self, rays: RayBundle, t: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Grad networks ∂Φ/∂t at ray parameters t ``(R, S)`` (raw, before ReLU/sigmoid):
        ``σ (R, S)``, ``c (R, S, 3)``."""
        o, d = rays.origins, rays.directions
        if self.field_net is not None:
            out = ray_tangent(self.field_net, o, d, t)
        else:
            out = torch.cat([ray_tangent(self.sigma_net, o, d, t),
                             ray_tangent(self.color_net, o, d, t)], dim=-1)
        return self.config.sigma_scale * out[..., 0], out[..., 1:]

    def density_at(self, points: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        """Density ReLU(∂Φσ/∂t) (or softplus) at 3-D points seen along unit ``directions``.

        Shapes: points, directions ``(P, 3)`` → ``(P,)``.
        """
        net = self.field_net if self.field_net is not None else self.sigma_net
        sigma = ray_tangent(net, points, directions, torch.zeros_like(points[:, :1]))
        return self._density(self.config.sigma_scale * sigma[:, 0, 0])

    # ----------------------------------------------------------------- section means
    def section_means_integral(self, rays: RayBundle, bounds: torch.Tensor
                               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact section means of the grad networks, ``(Φ(t_{i+1}) − Φ(t_i)) / δ_i``.

        Shapes: bounds ``(R, N+1)`` → ``(R, N)``, ``(R, N, 3)`` (raw, before activations).
        """
        phi_s, phi_c = self.integral_fields(rays, bounds)
        delta = (bounds[:, 1:] - bounds[:, :-1]).clamp_min(1e-10)
        return ((phi_s[:, 1:] - phi_s[:, :-1]) / delta,
                (phi_c[:, 1:] - phi_c[:, :-1]) / delta[..., None])

    def sample_positions(self, bounds: torch.Tensor, k: int, jitter: bool) -> torch.Tensor:
        """K stratified positions per section: ``t_i + (j + ξ)/K · δ_i``, ξ ~ U(0, 1) with
        ``jitter`` else ½ (midpoint rule). Shapes: ``(R, N+1) -> (R, N, K)``."""
        r, n = bounds.shape[0], bounds.shape[1] - 1
        j = torch.arange(k, device=bounds.device, dtype=bounds.dtype)
        xi = (torch.rand(r, n, k, device=bounds.device, dtype=bounds.dtype) if jitter
              else torch.full((r, n, k), 0.5, device=bounds.device, dtype=bounds.dtype))
        u = (j + xi) / k
        lo, delta = bounds[:, :-1, None], (bounds[:, 1:] - bounds[:, :-1])[..., None]
        return lo + u * delta

    def section_means_grad(self, rays: RayBundle, bounds: torch.Tensor, k: int,
                           jitter: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Section means estimated from K grad-network samples per section.

        Shapes: bounds ``(R, N+1)`` → σ̄ ``(R, N)``, c̄ ``(R, N, 3)`` (raw), and the sample
        positions ``(R, N, K)``.
        """
        r, n = bounds.shape[0], bounds.shape[1] - 1
        t = self.sample_positions(bounds, k, jitter)
        sigma, color = self.grad_fields(rays, t.reshape(r, n * k))
        return sigma.reshape(r, n, k).mean(-1), color.reshape(r, n, k, 3).mean(-2), t

    # ----------------------------------------------------------------- rendering
    def _finish(self, sigma_mean: torch.Tensor, color_mean: torch.Tensor,
                bounds: torch.Tensor) -> dict[str, torch.Tensor]:
        deltas = bounds[:, 1:] - bounds[:, :-1]
        mids = 0.5 * (bounds[:, 1:] + bounds[:, :-1])
        out = render_density(self._density(sigma_mean), torch.sigmoid(color_mean), mids, deltas,
                             background=1.0 if self.config.white_background else 0.0)
        out["bounds"] = bounds
        return out

    def _density(self, raw: torch.Tensor) -> torch.Tensor:
        if self.config.density_activation == "softplus":
            return nn.functional.softplus(raw)
        return torch.relu(raw)

    def render_rays(self, rays: RayBundle, *, training: bool) -> dict[str, torch.Tensor]:
        bounds = self.boundaries(rays)
        if not training or self.config.train_path == "integral":
            out = self._finish(*self.section_means_integral(rays, bounds), bounds)
            t = None
        else:
            k = self.config.samples_per_section
            sigma, color, t = self.section_means_grad(rays, bounds, k, jitter=True)
            out = self._finish(sigma, color, bounds)
        if training and self.config.consistency_weight > 0:
            if t is None:            # integral path: one jittered point per section
                t = self.sample_positions(bounds, 1, jitter=True)
            out["consistency"] = self._consistency_penalty(rays, t)
        return out

    def render_grad(self, rays: RayBundle, samples_per_section: int) -> dict[str, torch.Tensor]:
        """Render with the grad networks, midpoint rule with K = ``samples_per_section``.

        As K grows this converges to :meth:`render_rays` with ``training=False``.
        """
        bounds = self.boundaries(rays)
        sigma, color, _ = self.section_means_grad(rays, bounds, samples_per_section,
                                                  jitter=False)
        return self._finish(sigma, color, bounds)

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


def paper_config() -> Config:
    """The published AutoInt volume-rendering configuration: separate σ and colour networks of
    8×256 swish layers, normalised 10/4-octave encodings, a sampling network, and training on
    32 sections × 4 grad samples.

    Example:
        >>> c = paper_config(); c.hidden, c.sections * c.samples_per_section, c.shared
        (256, 128, False)
    """
    return Config(sections=32, samples_per_section=4, hidden=256, depth=8, pos_freqs=10,
                  dir_freqs=4, shared=False, sampler="learned", train_path="grad",
                  normalized_encoding=True)


def build(config: Config | None = None) -> AutoIntRadiance:
    """Build the AutoInt radiance method from a :class:`Config`.

    Example:
        >>> build(Config(sections=16, sampler="uniform", shared=False)).evals_per_ray()
        34
    """
    return AutoIntRadiance(config or Config())
