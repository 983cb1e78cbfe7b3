"""A CT image as an FC²T² kernel sum, projected by exact line integrals (issue 15 item 3).

The image is one continuous function on the unit disc,

    f(x) = Σ_n φ(x − p_n) w_n,    φ(x) = exp(−|x|² / (2σ²)),    w_n ≥ 0,

with the centres ``p_n`` on a regular grid of pixel centres (every ``spacing``-th pixel,
inside the reconstruction circle plus a margin), optionally learnable. f is represented by
its FC²T² expansion (one polynomial per cell of a grid as fine as the pixels) and everything
is read from that one expansion: the image on the pixel grid (:meth:`TaylorCT.render`) and
the projections at *any* angle (:meth:`TaylorCT.project`), which are exact line integrals of
the expansion along the lines of :mod:`quadfree.tomo.geometry` (scikit-image's radon:
``p(ρ, θ) = R·∫ f dt`` over the chord), computed by
:func:`quadfree.taylor.line_integrals.line_integral_layer` (closed form per crossed cell;
ray2M backward). No sampling in either direction, and no FBP step: the image *is* the model.

**Non-negativity.** The kernel is non-negative and the weights are kept ``w ≥ 0`` (bounds of
the L-BFGS-B fit in :mod:`quadfree.tomo.taylor_fit`), so the kernel sum is a non-negative
attenuation map. The expansion approximates the kernel sum to its truncation error, so the
rendered image can dip below zero by that error only; it is not clipped, so that image and
projections stay the same function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from quadfree.errors import QuadfreeError
from quadfree.taylor.expansion import FC2T2, Expansion
from quadfree.taylor.line_integrals import line_integral, line_integral_layer
from quadfree.tomo.geometry import (
    check_angles,
    chord_half_length,
    circle_mask,
    detector_positions,
    radius,
)


@dataclass
class TaylorCTConfig:
    """The Taylor CT model and its fit (see :func:`quadfree.tomo.taylor_fit.fit_taylor`).

    Attributes:
        spacing: centres on every ``spacing``-th pixel centre (1: one per pixel).
        sigma: kernel width σ in pixels.
        order: Taylor order ρ of the expansion (≤ 4).
        learn_centres: also fit the centres (otherwise only the weights).
        iterations: L-BFGS-B iterations.
        tv: weight of the smoothed total-variation penalty on the rendered image (0: off).
        tv_eps: smoothing of |∇f| in the penalty (image units, relative to the image scale).
        margin: centres up to ``margin`` pixels outside the reconstruction circle.
        seed: seed (initial weights are deterministic; kept for symmetry with other fits).
        prior_views: method ``taylor_autoint`` only (:mod:`quadfree.tomo.experiment`): the
            fit adds AutoInt's predictions (clipped at 0) at those of ``prior_views`` evenly
            spread scan angles that are not measured
            (:func:`~quadfree.tomo.experiment.predicted_views`).
        prior_weight: method ``taylor_autoint`` only: weight λ (> 0 there) of a predicted
            line relative to a measured one (the default was chosen by a sweep on Shepp–Logan
            128², ``docs/tomo.md``).
    """

    spacing: int = 1
    sigma: float = 0.7
    order: int = 4
    learn_centres: bool = False
    iterations: int = 150
    tv: float = 5e-4
    tv_eps: float = 0.01
    margin: float = 1.0
    seed: int = 0
    prior_views: int = 64
    prior_weight: float = 0.03

    def check(self) -> None:
        """Raise :class:`QuadfreeError` naming the first invalid field."""
        if self.spacing < 1:
            raise QuadfreeError(f"spacing {self.spacing}: must be >= 1", param="spacing")
        if not self.sigma > 0:
            raise QuadfreeError(f"sigma {self.sigma}: must be positive", param="sigma")
        if not 0 <= self.order <= 4:
            raise QuadfreeError(f"order {self.order}: must be between 0 and 4", param="order")
        if self.iterations < 1:
            raise QuadfreeError(f"iterations {self.iterations}: must be >= 1",
                                param="iterations")
        if self.tv < 0:
            raise QuadfreeError(f"tv {self.tv}: must be >= 0", param="tv")
        if not self.tv_eps > 0:
            raise QuadfreeError(f"tv_eps {self.tv_eps}: must be positive", param="tv_eps")
        if self.prior_views < 2:
            raise QuadfreeError(f"prior_views {self.prior_views}: must be >= 2",
                                param="prior_views")
        if not (np.isfinite(self.prior_weight) and self.prior_weight >= 0):
            raise QuadfreeError(f"prior_weight {self.prior_weight}: must be a finite number "
                                ">= 0", param="prior_weight")


def levels_for(size: int) -> int:
    """FC²T² levels whose finest grid has at least one cell per pixel (``2^(levels+1) ≥ N``).

    Example:
        >>> levels_for(64), levels_for(128), levels_for(100)
        (5, 6, 6)
    """
    return max(1, math.ceil(math.log2(max(size, 4))) - 1)


def pixel_points(size: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Pixel centres ``(X, Y) = ((col − c)/R, (row − c)/R)``, row-major: ``(N·N, 2)``.

    Example:
        >>> pixel_points(4)[:2].tolist()
        [[-1.0, -1.0], [-0.5, -1.0]]
    """
    c = r = radius(size)
    u = (torch.arange(size, dtype=dtype) - c) / r
    yy, xx = torch.meshgrid(u, u, indexing="ij")
    return torch.stack([xx, yy], -1).reshape(-1, 2)


def grid_centres(size: int, spacing: int = 1, margin: float = 1.0,
                 dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Every ``spacing``-th pixel centre within ``R + margin`` pixels of the centre: ``(N_s, 2)``.

    Example:
        >>> grid_centres(8).shape[0] >= int(circle_mask(8).sum())
        True
    """
    c = r = radius(size)
    idx = torch.arange(c % spacing, size, spacing, dtype=dtype)
    u = (idx - c) / r
    yy, xx = torch.meshgrid(u, u, indexing="ij")
    pts = torch.stack([xx, yy], -1).reshape(-1, 2)
    keep = pts.norm(dim=-1) <= 1.0 + margin / r
    return pts[keep]


def radon_rays(size: int, angles_deg, dtype: torch.dtype = torch.float64
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The lines of :mod:`quadfree.tomo.geometry` as rays: one per (angle, detector).

    Line (ρ_j, θ_i): origin ``o = (cos θ·ρ, −sin θ·ρ)``, unit direction ``r = (sin θ, cos θ)``,
    ``t ∈ [−√(1−ρ²), √(1−ρ²)]`` (the chord inside the circle). Ray ``i·N + j``.

    Shapes: → o, r ``(A·N, 2)``, near, far ``(1, A·N)``.

    Example:
        >>> o, r, near, far = radon_rays(4, [0.0, 90.0])
        >>> [round(v, 6) + 0.0 for v in o[1].tolist() + r[4].tolist()], float(far[0, 2])
        ([-0.5, 0.0, 1.0, 0.0], 1.0)
    """
    theta = torch.as_tensor(np.deg2rad(check_angles(angles_deg)), dtype=dtype)
    rho = torch.as_tensor(detector_positions(size), dtype=dtype)
    half = torch.as_tensor(chord_half_length(detector_positions(size)), dtype=dtype)
    c, s = torch.cos(theta)[:, None], torch.sin(theta)[:, None]
    o = torch.stack([c * rho, -s * rho], -1).reshape(-1, 2)
    r = torch.stack([s.expand(-1, size), c.expand(-1, size)], -1).reshape(-1, 2)
    h = half.expand(theta.shape[0], -1).reshape(1, -1)
    return o, r, -h, h


class TaylorCT(torch.nn.Module):
    """The image ``f = Σ φ(x − p_n) w_n`` of an ``N×N`` scan, its projections and rendering.

    ``weights`` ``(N_s,)`` (kept ≥ 0 by the fit) and ``centres`` ``(N_s, 2)`` are parameters
    (centres frozen unless ``config.learn_centres``). ``scale`` multiplies the image (the fit
    works with normalised data).

    Example:
        >>> m = TaylorCT(16, TaylorCTConfig(spacing=2))
        >>> m.project([0.0, 45.0]).shape, m.render().shape
        ((16, 2), (16, 16))
    """

    def __init__(self, size: int, config: TaylorCTConfig | None = None,
                 dtype: torch.dtype = torch.float64, scale: float = 1.0) -> None:
        super().__init__()
        cfg = config or TaylorCTConfig()
        cfg.check()
        if size < 4:
            raise QuadfreeError(f"size {size}: must be >= 4", param="size")
        self.size, self.config, self.scale = size, cfg, float(scale)
        r = radius(size)
        a = 0.5 * (r / cfg.sigma) ** 2                   # φ = exp(−a|x|²), σ in pixels
        self.kernel = FC2T2(f"exp(-{a!r}*(x**2+y**2))", levels=levels_for(size),
                            order=cfg.order, dim=2, clamp=True)
        p = grid_centres(size, cfg.spacing, cfg.margin, dtype)
        self.centres = torch.nn.Parameter(p, requires_grad=cfg.learn_centres)
        self.weights = torch.nn.Parameter(torch.zeros(p.shape[0], dtype=dtype))

    def _pw(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.centres.clamp(-1.0, 1.0)[None], self.weights[None, None]

    def expansion(self) -> Expansion:
        """The FC²T² expansion of the (unscaled) image, differentiable in the parameters."""
        p, w = self._pw()
        return self.kernel.expand(p, w)

    def project_torch(self, angles_deg, layer: bool = True) -> torch.Tensor:
        """Projections ``R·∫ f dt`` along the radon lines (unscaled), ``(N, A)`` tensor.

        ``layer``: through the ray2M layer (gradients w.r.t. centres and weights); otherwise
        by reading one expansion (no gradient bookkeeping).
        """
        o, r, near, far = radon_rays(self.size, angles_deg, self.weights.dtype)
        if layer:
            p, w = self._pw()
            y = line_integral_layer(self.kernel, p, w, o, r, near, far)
        else:
            y = line_integral(self.expansion(), o, r, near, far)
        return radius(self.size) * y[0, 0].reshape(-1, self.size).T

    def render_torch(self, expansion: Expansion | None = None) -> torch.Tensor:
        """The (unscaled) image at the pixel centres, ``(N, N)``; zero outside the circle."""
        E = self.expansion() if expansion is None else expansion
        img = E.evaluate(pixel_points(self.size, self.weights.dtype)[None])[0, 0]
        img = img.reshape(self.size, self.size)
        mask = torch.as_tensor(circle_mask(self.size), device=img.device)
        return torch.where(mask, img, torch.zeros_like(img))

    @torch.no_grad()
    def project(self, angles_deg) -> np.ndarray:
        """Predicted sinogram at any angles (degrees), in the data's units: ``(N, A)``."""
        return self.scale * self.project_torch(angles_deg, layer=False).cpu().numpy()

    @torch.no_grad()
    def render(self) -> np.ndarray:
        """The reconstructed image on the pixel grid, in the data's units: ``(N, N)``."""
        return self.scale * self.render_torch().cpu().numpy()

    @torch.no_grad()
    def reproject_dense(self, angles_deg, pieces: int | None = None, points: int = 4
                        ) -> np.ndarray:
        """The image's projections by dense quadrature of the expansion along the same lines
        (no closed form, no cell traversal): the view-consistency reference.

        Each chord is cut into ``pieces`` equal pieces (default ``2N``, half a pixel) with
        ``points`` Gauss–Legendre points each. Shapes: → ``(N, A)``.
        """
        o, r, near, far = radon_rays(self.size, angles_deg, self.weights.dtype)
        E = self.expansion()
        k = 2 * self.size if pieces is None else pieces
        x, gw = np.polynomial.legendre.leggauss(points)
        u = ((np.arange(k)[:, None] + 0.5 * (x + 1.0)) / k * 2.0 - 1.0).reshape(-1)
        u = torch.as_tensor(u, dtype=o.dtype)                       # nodes on [−1, 1]
        wu = torch.as_tensor(np.tile(gw / k, k), dtype=o.dtype)      # weights, sum 2
        h = far[0]                                                   # (A·N,)
        out = torch.empty_like(h)
        for sl in torch.arange(h.shape[0]).split(max(1, (1 << 19) // u.shape[0])):
            t = h[sl, None] * u                                      # (K, S)
            q = o[sl, None, :] + t[..., None] * r[sl, None, :]
            vals = E.evaluate(q.reshape(1, -1, 2))[0, 0].reshape(t.shape)
            out[sl] = (vals * wu).sum(1) * h[sl]
        return (self.scale * radius(self.size) * out.reshape(-1, self.size).T).cpu().numpy()
