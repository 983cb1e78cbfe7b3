"""Image quality metrics: PSNR and SSIM (matching scikit-image's conventions).

SSIM follows Wang et al. 2004 as scikit-image computes it with ``gaussian_weights=True,
sigma=1.5, use_sample_covariance=False, data_range=1``: 11×11 Gaussian window (σ = 1.5),
K1 = 0.01, K2 = 0.03, mean over channels of the SSIM map cropped by the window radius.
(LPIPS is not offered: it needs pretrained network weights that cannot be obtained offline.)
"""

from __future__ import annotations

import math

import numpy as np
import torch

from quadfree.errors import QuadfreeError


def _as_tensor(name: str, img: torch.Tensor | np.ndarray) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(img) if not isinstance(img, torch.Tensor) else img)
    t = t.detach().to(torch.float64)
    if t.ndim not in (2, 3):
        raise QuadfreeError(f"{name}: expected an (H, W) or (H, W, C) image, got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise QuadfreeError(f"{name}: contains NaN or Inf")
    return t if t.ndim == 3 else t[..., None]


def psnr(img: torch.Tensor | np.ndarray, ref: torch.Tensor | np.ndarray,
         data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, ``10·log10(range² / MSE)`` (inf for identical images).

    Shapes: img, ref ``(H, W[, C])``.

    Example:
        >>> round(psnr(torch.zeros(4, 4), torch.full((4, 4), 0.1)), 3)
        20.0
    """
    a, b = _as_tensor("image", img), _as_tensor("reference", ref)
    if a.shape != b.shape:
        raise QuadfreeError(f"image {tuple(a.shape)} and reference {tuple(b.shape)} differ")
    mse = float(((a - b) ** 2).mean())
    return math.inf if mse == 0 else 10.0 * math.log10(data_range ** 2 / mse)


def _gaussian_window(sigma: float = 1.5, radius: int = 5) -> torch.Tensor:
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def ssim(img: torch.Tensor | np.ndarray, ref: torch.Tensor | np.ndarray,
         data_range: float = 1.0) -> float:
    """Structural similarity (mean over the image and channels), as scikit-image computes it.

    Shapes: img, ref ``(H, W[, C])`` with H, W ≥ 11.

    Example:
        >>> x = torch.rand(16, 16, 3)
        >>> round(ssim(x, x), 6)
        1.0
    """
    a, b = _as_tensor("image", img), _as_tensor("reference", ref)
    if a.shape != b.shape:
        raise QuadfreeError(f"image {tuple(a.shape)} and reference {tuple(b.shape)} differ")
    if min(a.shape[:2]) < 11:
        raise QuadfreeError(f"ssim: image {tuple(a.shape[:2])} smaller than the 11x11 window")
    g = _gaussian_window().to(device=a.device, dtype=a.dtype)
    k = g.numel()

    def blur(x: torch.Tensor) -> torch.Tensor:  # (C, 1, H, W) valid separable filter
        x = torch.nn.functional.conv2d(x, g.view(1, 1, k, 1))
        return torch.nn.functional.conv2d(x, g.view(1, 1, 1, k))

    x = a.permute(2, 0, 1)[:, None]
    y = b.permute(2, 0, 1)[:, None]
    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())
