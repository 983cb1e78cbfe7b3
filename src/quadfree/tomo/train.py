"""Training an AutoInt sinogram model from measured views (stratified chord samples)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from quadfree.errors import QuadfreeError
from quadfree.tomo.geometry import chord_half_length, detector_positions
from quadfree.tomo.model import SinogramModel


@dataclass
class SinogramTrainConfig:
    """Hyper-parameters of :func:`fit_sinogram`.

    ``consistency`` weights an optional penalty that asks the integrand at one image point to
    be the same whichever line (angle) reaches it, including angles never measured; 0 (the
    default, as in the published method) turns it off. On Shepp–Logan 64×64 at 16× it
    *lowered* held-out sinogram PSNR (26.9 dB with weight 1 vs 32.6 dB without, 1500 steps).
    """

    steps: int = 2500
    batch_rays: int = 256
    samples_per_ray: int = 16
    lr: float = 1e-3
    lr_final: float = 5e-5
    consistency: float = 0.0
    consistency_points: int = 1024
    seed: int = 0


@dataclass
class TrainHistory:
    """Per-step data loss and consistency penalty, steps done, wall-clock seconds."""

    losses: list[float] = field(default_factory=list)
    consistency: list[float] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0


def ray_table(sinogram: np.ndarray, angles_deg: np.ndarray, radius: int, scale: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``(ρ, θ_rad, half_chord)`` and normalised targets of all measured lines.

    Each measured line appears twice, as ``(ρ, θ)`` and as the same line ``(−ρ, θ + π)``
    traversed backwards, so that Φ, which is 2π-periodic in θ, learns the wrap-around of a
    180° scan. Lines with an empty chord (ρ = −1) are dropped.

    Shapes: sinogram ``(N, K)``, angles ``(K,)`` → rays ``(M, 3)``, targets ``(M,)``.

    Example:
        >>> rays, y = ray_table(np.ones((4, 2)), np.array([0.0, 90.0]), 2, 1.0)
        >>> rays.shape, y.shape
        ((12, 3), (12,))
    """
    n = sinogram.shape[0]
    rho = detector_positions(n)
    theta = np.deg2rad(angles_deg)
    R, T = np.meshgrid(rho, theta, indexing="ij")
    H = chord_half_length(R)
    keep = (H > 0).ravel()
    y = (sinogram / (radius * scale)).ravel()[keep]
    rays = np.stack([R.ravel(), T.ravel(), H.ravel()], -1)[keep]
    mirror = rays * np.array([-1.0, 1.0, 1.0]) + np.array([0.0, math.pi, 0.0])
    return np.concatenate([rays, mirror]), np.concatenate([y, y])


def fit_sinogram(model: SinogramModel, sinogram: np.ndarray, angles_deg,
                 config: SinogramTrainConfig | None = None, progress: bool = True) -> TrainHistory:
    """Fit ``model.grad`` so that chord integrals of ∂Φ/∂t match the measured ``sinogram``.

    Each step draws ``batch_rays`` measured lines and ``samples_per_ray`` stratified points
    on each chord ``[−h, h]``: the loss is ``(2h · mean_k ∂Φ/∂t(ρ, θ, t_k) − p/(R·scale))²``
    plus the consistency penalty. Adam with a cosine learning-rate decay.

    Shapes: sinogram ``(N, K)`` (scikit-image units), angles ``(K,)`` degrees — exactly the
    angles the views were measured at.

    Example:
        >>> from quadfree.tomo.model import build_phi
        >>> model = SinogramModel(8, build_phi("swish", hidden=16, depth=2))
        >>> h = fit_sinogram(model, np.ones((8, 3)), [0.0, 60.0, 120.0],
        ...                  SinogramTrainConfig(steps=3, batch_rays=8), progress=False)
        >>> h.steps
        3
    """
    cfg = config or SinogramTrainConfig()
    sino = np.asarray(sinogram, dtype=np.float64)
    angles = np.asarray(angles_deg, dtype=np.float64)
    if sino.ndim != 2 or sino.shape != (model.size, angles.size):
        raise QuadfreeError(f"sinogram: expected shape ({model.size}, {angles.size}), got "
                            f"{sino.shape}")
    param = next(model.phi.parameters())
    device, dtype = param.device, param.dtype
    rays_np, y_np = ray_table(sino, angles, model.radius, model.scale)
    rays = torch.as_tensor(rays_np, dtype=dtype, device=device)
    y = torch.as_tensor(y_np, dtype=dtype, device=device)
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    opt = torch.optim.Adam(model.phi.parameters(), lr=cfg.lr)
    decay = cfg.lr_final / cfg.lr
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: decay + (1 - decay) * 0.5 * (1 + math.cos(math.pi * s / cfg.steps)))
    model.train_angles = angles.copy()
    hist = TrainHistory()
    start = time.perf_counter()
    S = cfg.samples_per_ray
    bar = tqdm(range(cfg.steps), desc="train AutoInt", disable=not progress, leave=False)
    for step in bar:
        idx = torch.randint(rays.shape[0], (min(cfg.batch_rays, rays.shape[0]),), generator=gen)
        batch, target = rays[idx.to(device)], y[idx.to(device)]
        rho, theta, half = batch.unbind(-1)
        u = (torch.arange(S, dtype=dtype) + torch.rand(batch.shape[0], S, generator=gen,
                                                        dtype=dtype)) / S
        t = (2 * u.to(device) - 1) * half[:, None]
        g = model.integrand(rho[:, None], theta[:, None], t)              # (B, S)
        data = ((2 * half * g.mean(1) - target) ** 2).mean()
        loss = data
        cons = torch.zeros((), dtype=dtype, device=device)
        if cfg.consistency > 0:
            cons = _consistency(model, cfg.consistency_points, gen, dtype, device)
            loss = data + cfg.consistency * cons
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        hist.losses.append(float(data.detach()))
        hist.consistency.append(float(cons.detach()))
        hist.steps = step + 1
        if step % 25 == 0:
            bar.set_postfix(loss=f"{hist.losses[-1]:.2e}", cons=f"{hist.consistency[-1]:.1e}")
    bar.close()
    hist.seconds = time.perf_counter() - start
    return hist


def _consistency(model: SinogramModel, n: int, gen: torch.Generator, dtype: torch.dtype,
                 device: torch.device) -> torch.Tensor:
    """Mean squared difference of ∂Φ/∂t at random points seen from two random angles."""
    r = torch.sqrt(torch.rand(n, generator=gen, dtype=dtype))
    phi = 2 * math.pi * torch.rand(n, generator=gen, dtype=dtype)
    X, Y = r * torch.cos(phi), r * torch.sin(phi)
    th = 2 * math.pi * torch.rand(2, n, generator=gen, dtype=dtype)
    c, s = torch.cos(th), torch.sin(th)
    rho, t = c * X - s * Y, s * X + c * Y
    g = model.integrand(rho.to(device), th.to(device), t.to(device))    # (2, n)
    return ((g[0] - g[1]) ** 2).mean()
