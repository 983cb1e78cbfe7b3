"""NeRF (Mildenhall et al. 2020): positional encoding, MLP with a skip, coarse + fine sampling.

Density depends on position only; colour on position features and the encoded view direction.
Rays are sampled stratified on ``[near, far]`` for the coarse network, then hierarchically
(inverse CDF of the coarse weights) for the fine network, which sees coarse and fine samples.
Each pass is volume rendering through a :class:`~quadfree.quadrature.QuadratureEngine` (one
node per section, at the samples) and :func:`quadfree.render.volume.render_sections`, the
same function AutoInt renders through with its own engine.

The :class:`Config` defaults are the **small CPU configuration** (8 position octaves, width 64,
depth 3, no skip, 32 + 32 samples, softplus density), sized to train on the 64×64
``objects`` scene in minutes on a 2-core CPU (the README holds the measurements). The paper's
configuration is :func:`paper_config` (10 octaves, width 256, depth 8, skip at layer 4,
64 + 128 samples, ReLU density).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from quadfree.errors import QuadfreeError
from quadfree.fields import MLP, PositionalEncoding
from quadfree.quadrature import QuadratureEngine
from quadfree.radiance.base import RadianceMethod, RayBundle
from quadfree.render.sampling import midpoints_to_edges, sample_pdf, stratified_samples
from quadfree.render.volume import render_sections


@dataclass
class Config:
    """NeRF hyper-parameters (defaults: the small CPU configuration).

    Attributes:
        pos_freqs: positional-encoding octaves for positions (paper: 10).
        dir_freqs: octaves for view directions (paper: 4).
        width: hidden width of the density trunk (paper: 256); the colour branch uses width/2.
        depth: hidden layers of the trunk (paper: 8).
        skips: trunk layers that re-read the encoded position (paper: (4,)).
        n_coarse: stratified samples per ray for the coarse network (paper: 64).
        n_fine: extra inverse-CDF samples for the fine network (paper: 128; 0 = coarse only).
        separate_fine: use a second network for the fine pass (paper: True); if False the
            coarse network is queried again at the fine samples.
        density_activation: ``relu`` (paper) or ``softplus``.
        density_bias: initial bias of the density output (a small negative value starts the
            volume nearly empty).
        raw_noise_std: std of Gaussian noise added to raw density while training (paper: 0 for
            Blender scenes).
    """

    pos_freqs: int = 8
    dir_freqs: int = 4
    width: int = 64
    depth: int = 3
    skips: tuple[int, ...] = ()
    n_coarse: int = 32
    n_fine: int = 32
    separate_fine: bool = True
    density_activation: str = "softplus"
    density_bias: float = -1.0
    raw_noise_std: float = 0.0


def paper_config() -> Config:
    """The configuration of the NeRF paper for Blender scenes.

    Example:
        >>> paper_config().width, paper_config().n_coarse + paper_config().n_fine
        (256, 192)
    """
    return Config(pos_freqs=10, width=256, depth=8, skips=(4,), n_coarse=64, n_fine=128,
                  density_activation="relu", density_bias=0.0)


class NeRFField(nn.Module):
    """One NeRF network: ``(points, directions) -> (raw density, rgb)``.

    Shapes: points ``(..., 3)``, unit directions ``(..., 3)`` → raw ``(...)`` (map it to
    σ ≥ 0 with :meth:`density`), rgb ``(..., 3)`` in (0, 1).

    Example:
        >>> f = NeRFField(Config(width=32, depth=2, skips=()))
        >>> d = torch.nn.functional.normalize(torch.rand(5, 3), dim=-1)
        >>> raw, rgb = f(torch.rand(5, 3), d)
        >>> f.density(raw).shape, rgb.shape
        (torch.Size([5]), torch.Size([5, 3]))
    """

    def __init__(self, config: Config) -> None:
        super().__init__()
        if config.density_activation not in ("relu", "softplus"):
            raise QuadfreeError(f"config density_activation={config.density_activation!r}: "
                                "choose relu or softplus")
        self.dir_enc = PositionalEncoding(3, config.dir_freqs)
        self.trunk = MLP(3, config.width + 1, hidden=config.width, depth=config.depth,
                         activation="relu", skips=config.skips,
                         encoding=PositionalEncoding(3, config.pos_freqs))
        with torch.no_grad():
            self.trunk.head.bias[0] = config.density_bias
        self.color = MLP(config.width + self.dir_enc.out_dim, 3, hidden=max(config.width // 2, 1),
                         depth=1, activation="relu", out_activation="sigmoid")
        self.softplus = config.density_activation == "softplus"

    def forward(self, points: torch.Tensor, directions: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(points)
        raw_sigma, feat = h[..., 0], h[..., 1:]
        rgb = self.color(torch.cat([feat, self.dir_enc(directions)], dim=-1))
        return raw_sigma, rgb

    def density(self, raw: torch.Tensor) -> torch.Tensor:
        """Map raw network output to a non-negative density."""
        return nn.functional.softplus(raw) if self.softplus else torch.relu(raw)


class NeRF(RadianceMethod):
    """NeRF with coarse and (optionally) fine networks.

    ``render_rays`` returns ``rgb (R, 3)``, ``depth (R,)``, ``acc (R,)`` of the fine pass
    (coarse when ``n_fine = 0``) plus ``rgb_coarse`` when a fine pass exists.

    Example:
        >>> from quadfree.render.rays import camera_rays
        >>> m = NeRF(Config(width=16, depth=2, skips=(), n_coarse=8, n_fine=8))
        >>> out = m.render_rays(camera_rays(2, 2, 2.0, torch.eye(4)), training=False)
        >>> out["rgb"].shape, m.evals_per_ray()
        (torch.Size([4, 3]), 24)
    """

    name = "nerf"

    def __init__(self, config: Config) -> None:
        super().__init__()
        if config.n_coarse < 1 or config.n_fine < 0:
            raise QuadfreeError(f"config n_coarse={config.n_coarse}, n_fine={config.n_fine}: "
                                "need n_coarse >= 1 and n_fine >= 0")
        if config.width < 1 or config.depth < 1:
            raise QuadfreeError(f"config width={config.width}, depth={config.depth}: "
                                "must be >= 1")
        if any(not 1 <= k < config.depth for k in config.skips):
            raise QuadfreeError(f"config skips={tuple(config.skips)}: skip layers must lie in "
                                f"1..{config.depth - 1} for depth={config.depth}")
        self.config = config
        self.coarse = NeRFField(config)
        self.fine = NeRFField(config) if (config.n_fine > 0 and config.separate_fine) else None

    def evals_per_ray(self) -> int:
        c = self.config
        return c.n_coarse + (c.n_coarse + c.n_fine if c.n_fine > 0 else 0)

    def _query(self, field: NeRFField, rays: RayBundle, t: torch.Tensor, training: bool
               ) -> dict[str, torch.Tensor]:
        """Render with ``field`` sampled at ``t (R, N)``: a quadrature engine with one node per
        section, the sections tiling ``[near, far]`` around the samples."""
        def along(o: torch.Tensor, d: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
            pts = o[:, None, :] + d[:, None, :] * s[..., None]
            raw, rgb = field(pts, d[:, None, :].expand_as(pts))
            return torch.cat([raw[..., None], rgb], dim=-1)

        def shade(means: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            raw = means[..., 0]
            if training and self.config.raw_noise_std > 0:
                raw = raw + torch.randn_like(raw) * self.config.raw_noise_std
            return field.density(raw), means[..., 1:]

        edges = midpoints_to_edges(t, rays.near, rays.far)
        return render_sections(QuadratureEngine(along, at=t[..., None]), rays, edges, shade,
                               depth_at=t, background=1.0)

    def render_rays(self, rays: RayBundle, *, training: bool) -> dict[str, torch.Tensor]:
        c = self.config
        t_coarse = stratified_samples(rays.near, rays.far, c.n_coarse, perturb=training)
        coarse = self._query(self.coarse, rays, t_coarse, training)
        if c.n_fine == 0:
            return {"rgb": coarse["rgb"], "depth": coarse["depth"], "acc": coarse["acc"]}
        t_new = sample_pdf(coarse["edges"], coarse["weights"], c.n_fine,
                           deterministic=not training)
        t_all = torch.sort(torch.cat([t_coarse, t_new], dim=-1), dim=-1).values
        field = self.fine if self.fine is not None else self.coarse
        fine = self._query(field, rays, t_all, training)
        return {"rgb": fine["rgb"], "depth": fine["depth"], "acc": fine["acc"],
                "rgb_coarse": coarse["rgb"]}


def build(config: Config) -> NeRF:
    """Build a :class:`NeRF` from its config (the registry's entry point).

    Example:
        >>> build(Config(width=16, depth=2, skips=())).evals_per_ray()
        96
    """
    return NeRF(config)
