"""The ``fog`` scene: an emission–absorption volume of coloured anisotropic Gaussian blobs.

Density ``σ(x) = Σ_k a_k exp(−½ (x − μ_k)ᵀ Σ_k⁻¹ (x − μ_k))``, emitted colour the
density-weighted mix of the blobs' colours, so ``σ(x) c(x) = Σ_k σ_k(x) c_k``. Along a ray each
blob is a 1-D Gaussian in ``t`` with height ``h_k``, centre ``m_k`` and width ``s_k``, so the
optical depth ``τ(t)`` and the transmittance ``T(t) = exp(−τ(t))`` are exact (erf). The colour
``C = Σ_k c_k ∫ T(t) σ_k(t) dt + T(far)·1`` (white background) needs one 1-D quadrature: a
composite Gauss–Legendre rule (``PANELS`` panels × ``ORDER`` nodes, refined adaptively) over the
window of the ray where any blob is above ``1e-12`` of its peak.

Error bound: the integrand is analytic (Gaussians of width ``s_k ≥ 0.1`` times the exact
transmittance). Each ray starts with 8 panels × 8 Gauss–Legendre nodes on its support window;
the opacity is known in closed form, so ``defect = |Σ_k ∫ T σ_k dt − (1 − T(far))|`` is an
exact a-posteriori measure of the quadrature error, and rays whose defect exceeds 1e-6 are
redone with 4× the panels (up to 128). ``erf`` is evaluated in float32 for speed (float64
``erf`` is ~15× slower on CPU), adding ≲ 1e-6 to the optical depth. Stated bound:
**colour error < 1e-5 per channel** (200× below the 8-bit step); measured ≤ 1e-6 against a
512-panel rule on the 200 worst rays of 100 views at 100×100, asserted by the tests against a
fine rule; ``scene.json`` records the largest defect over all pixels
(``quadrature_opacity_defect``, ≤ 1e-6).
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np
import torch

from quadfree.render.rays import camera_rays

PANELS = 8
ORDER = 8
MAX_PANELS = 128
DEFECT_TOL = 1e-6


@dataclass
class FogScene:
    """Blob parameters (float64): centres ``(K, 3)``, precisions ``(K, 3, 3)`` (inverse
    covariances), peaks ``(K,)``, colours ``(K, 3)``."""

    centres: torch.Tensor
    precisions: torch.Tensor
    peaks: torch.Tensor
    colours: torch.Tensor
    near: float = 2.0
    far: float = 6.0
    panels: int = PANELS
    order: int = ORDER
    adaptive: bool = True
    save_float_rgb: bool = True

    def describe(self) -> dict:
        """Generator metadata for ``scene.json``."""
        return {"blobs": int(self.peaks.numel()),
                "quadrature": f"composite Gauss-Legendre, {self.panels} panels x {self.order} "
                              "nodes on the ray's support window, x4 panels while the opacity "
                              f"defect > {DEFECT_TOL}; transmittance exact (erf)",
                "error_bound": "colour error < 1e-5 per channel"}

    def density(self, x: torch.Tensor) -> torch.Tensor:
        """σ at points ``(..., 3)`` → ``(...)``.

        Example:
            >>> make(0).density(torch.zeros(2, 3)).shape
            torch.Size([2])
        """
        d = x.double()[..., None, :] - self.centres
        q = torch.einsum("...ki,kij,...kj->...k", d, self.precisions, d)
        return (self.peaks * torch.exp(-0.5 * q)).sum(-1)

    def ray_gaussians(self, origins: torch.Tensor, dirs: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each blob along each ray as ``h·exp(−(t − m)²/(2 s²))``: heights, centres, widths,
        each ``(R, K)``."""
        o, d = origins.double(), dirs.double()
        p = o[:, None, :] - self.centres                           # (R, K, 3)
        pd = torch.einsum("kij,rj->rki", self.precisions, d)        # P d  (R, K, 3)
        a = (d[:, None, :] * pd).sum(-1)                            # dᵀPd
        b = (p * pd).sum(-1)                                        # pᵀPd
        c = torch.einsum("rki,kij,rkj->rk", p, self.precisions, p)  # pᵀPp
        m = -b / a
        h = self.peaks * torch.exp(-0.5 * (c - b * b / a))
        return h, m, 1.0 / torch.sqrt(a)

    def integrate(self, origins: torch.Tensor, dirs: torch.Tensor, near: float, far: float,
                  panels: int | None = None, order: int | None = None, chunk: int = 512
                  ) -> dict[str, torch.Tensor]:
        """Volume-render rays: ``{"rgb": (R, 3) on white, "acc": (R,), "depth": (R,),
        "defect": (R,), "emitted": (R, 3)}`` (float64; depth = expected depth / acc, 0 where
        acc < 1e-4; ``defect`` = ``|Σ_k ∫ T σ_k − (1 − T(far))|``, the a-posteriori check).

        Example:
            >>> s = make(0)
            >>> o, d = torch.tensor([[0.0, 0.0, 4.0]]), torch.tensor([[0.0, 0.0, -1.0]])
            >>> out = s.integrate(o, d, 2.0, 6.0)
            >>> bool(0 < out["acc"][0] <= 1), bool(out["defect"][0] < 1e-5)
            (True, True)
        """
        panels, order = panels or self.panels, order or self.order
        h, m, s = self.ray_gaussians(origins, dirs)
        r = h.shape[0]
        emitted = torch.zeros(r, 3, dtype=torch.float64)
        acc = torch.zeros(r, dtype=torch.float64)
        depth = torch.zeros(r, dtype=torch.float64)
        defect = torch.zeros(r, dtype=torch.float64)
        # a blob whose whole line integral on a ray is below 1e-10 changes neither opacity nor
        # colour measurably (< 1e-10); rays where every blob is negligible see the background
        sig = h * s * math.sqrt(math.pi / 2) > 1e-10
        todo = torch.nonzero(sig.any(-1)).squeeze(-1)
        # adaptive: rays whose opacity defect exceeds the tolerance are redone with 4x panels
        while todo.numel():
            x, w = np.polynomial.legendre.leggauss(order)
            u = torch.from_numpy((np.arange(panels)[:, None] + (x + 1) / 2).reshape(-1) / panels)
            wu = torch.from_numpy(np.tile(w / 2, panels) / panels)
            for start in range(0, len(todo), chunk):
                idx = todo[start:start + chunk]
                keep = torch.nonzero(sig[idx].any(0)).squeeze(-1)
                hc, mc, sc = h[idx][:, keep], m[idx][:, keep], s[idx][:, keep]
                out = self._integrate_chunk(hc, mc, sc, sig[idx][:, keep], self.colours[keep],
                                            near, far, u, wu)
                emitted[idx], acc[idx], depth[idx], defect[idx] = out
            if not self.adaptive or panels >= MAX_PANELS:
                break
            todo = todo[defect[todo] > DEFECT_TOL]
            panels *= 4
        return {"rgb": emitted + (1.0 - acc)[:, None], "acc": acc, "depth": depth,
                "defect": defect, "emitted": emitted}

    @staticmethod
    def _integrate_chunk(h, m, s, sig, colours, near, far, u, wu):
        r2 = math.sqrt(2.0)
        amp = h * s * math.sqrt(math.pi / 2)                        # ∫ over ℝ of each blob
        tau_far = (amp * (torch.erf((far - m) / (r2 * s))
                          - torch.erf((near - m) / (r2 * s)))).sum(-1)
        e0 = torch.erf(((near - m) / (r2 * s)).float()).double()   # same precision as below
        acc = -torch.expm1(-tau_far)
        # support window: where a significant blob exceeds 1e-12 of its peak (|t − m| < 7.43 s)
        lo = torch.where(sig, m - 7.5 * s, torch.full_like(m, far)).amin(-1).clamp(near, far)
        hi = torch.where(sig, m + 7.5 * s, torch.full_like(m, near)).amax(-1).clamp(near, far)
        span = (torch.maximum(hi, lo) - lo)[:, None]
        t = lo[:, None] + span * u                                  # (R, N)
        z = (t[..., None] - m[:, None, :]) / s[:, None, :]          # (R, N, K)
        # erf in float32 (float64 erf is ~15x slower on CPU): τ error ≲ 1e-7·Σ amp
        erf = torch.erf((z / r2).float()).double()
        tau = (amp[:, None, :] * (erf - e0[:, None, :])).sum(-1)
        blob = h[:, None, :] * torch.exp(-0.5 * z * z)              # σ_k at the nodes
        wt = torch.exp(-tau) * wu * span                            # T · quadrature weight
        per_blob = torch.einsum("rn,rnk->rk", wt, blob)             # ∫ T σ_k dt
        emitted = per_blob @ colours
        expected_t = (wt * blob.sum(-1) * t).sum(-1)
        depth = torch.where(acc > 1e-4, expected_t / acc.clamp(min=1e-12),
                            torch.zeros_like(acc))
        return emitted, acc, depth, (per_blob.sum(-1) - acc).abs()

    def render(self, c2w: torch.Tensor, height: int, width: int, focal: float
               ) -> tuple[np.ndarray, np.ndarray, dict]:
        """RGBA ``(H, W, 4)`` (un-premultiplied colour, alpha = opacity), depth ``(H, W)`` and
        ``{"quadrature_opacity_defect": float}`` for one camera."""
        rays = camera_rays(height, width, focal, c2w, self.near, self.far)
        out_rgb, acc, depth, defect = [], [], [], []
        for s in range(0, len(rays), 4096):
            part = self.integrate(rays.origins[s:s + 4096], rays.directions[s:s + 4096],
                                  self.near, self.far)
            out_rgb.append(part["emitted"])
            acc.append(part["acc"])
            depth.append(part["depth"])
            defect.append(part["defect"])
        emitted, a = torch.cat(out_rgb), torch.cat(acc)
        colour = torch.where(a[:, None] > 1e-9, emitted / a.clamp(min=1e-12)[:, None],
                             torch.zeros_like(emitted)).clamp(0, 1)
        rgba = torch.cat([colour, a[:, None]], dim=-1).reshape(height, width, 4)
        info = {"quadrature_opacity_defect": float(torch.cat(defect).max())}
        return (rgba.numpy().astype(np.float32),
                torch.cat(depth).reshape(height, width).numpy().astype(np.float32), info)


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def make(seed: int = 0, blobs: int = 10) -> FogScene:
    """A random fog scene (deterministic for ``seed``): ``blobs`` ≥ 8 Gaussians inside the
    ball of radius 0.8, axis widths in [0.1, 0.35], peak densities in [3, 10].

    Example:
        >>> make(0).peaks.shape
        torch.Size([10])
    """
    rng = np.random.default_rng(seed)
    centres, precisions, colours = [], [], []
    for k in range(blobs):
        v = rng.standard_normal(3)
        centres.append(v / np.linalg.norm(v) * 0.8 * rng.uniform(0.1, 1.0) ** (1 / 3))
        rot = _random_rotation(rng)
        scales = rng.uniform(0.1, 0.35, size=3)
        precisions.append(rot @ np.diag(1.0 / scales ** 2) @ rot.T)
        hue = (k / blobs + rng.uniform(0, 0.08)) % 1.0
        colours.append(colorsys.hsv_to_rgb(hue, rng.uniform(0.6, 1.0), rng.uniform(0.7, 1.0)))
    peaks = rng.uniform(3.0, 10.0, size=blobs)
    return FogScene(torch.tensor(np.array(centres)), torch.tensor(np.array(precisions)),
                    torch.tensor(peaks), torch.tensor(np.array(colours)))
