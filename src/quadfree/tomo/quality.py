"""Image and sinogram quality measures; image measures are taken inside the circle only.

PSNR is :func:`quadfree.metrics.psnr` on the selected entries. SSIM uses the project's
convention (Gaussian window σ = 1.5, population covariance, as :func:`quadfree.metrics.ssim`)
but averages the SSIM map over the reconstruction circle only, so the empty corners (where
every method is exactly zero) do not inflate it.
"""

from __future__ import annotations

import numpy as np

from quadfree.errors import QuadfreeError
from quadfree.metrics import psnr as _psnr
from quadfree.tomo.geometry import circle_mask


def psnr(estimate: np.ndarray, reference: np.ndarray, data_range: float | None = None,
         mask: np.ndarray | None = None) -> float:
    """``10·log10(range² / MSE)`` over ``mask`` (all entries when None); range defaults to
    the reference's max − min over the mask.

    Example:
        >>> round(psnr(np.full(4, 0.1), np.zeros(4), data_range=1.0), 6)
        20.0
    """
    est, ref = np.asarray(estimate, np.float64), np.asarray(reference, np.float64)
    if est.shape != ref.shape:
        raise QuadfreeError(f"psnr: shapes differ, {est.shape} vs {ref.shape}")
    if mask is not None:
        est, ref = est[mask], ref[mask]
    rng = float(ref.max() - ref.min()) if data_range is None else float(data_range)
    rng = rng or float(np.abs(ref).max()) or 1.0               # a constant reference
    return _psnr(est.reshape(-1, 1), ref.reshape(-1, 1), data_range=rng)


def image_psnr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """PSNR inside the reconstruction circle, range = reference's max − min there.

    Example:
        >>> ref = np.zeros((16, 16)); ref[8, 8] = 1.0
        >>> image_psnr(ref, ref)
        inf
    """
    return psnr(estimate, reference, mask=circle_mask(np.asarray(reference).shape[0]))


def image_ssim(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Mean SSIM (Gaussian σ = 1.5 window) over the pixels inside the reconstruction circle,
    range = reference's max − min there.

    Example:
        >>> ref = np.random.default_rng(0).random((16, 16))
        >>> round(image_ssim(ref, ref), 6)
        1.0
    """
    from skimage.metrics import structural_similarity

    est, ref = np.asarray(estimate, np.float64), np.asarray(reference, np.float64)
    mask = circle_mask(ref.shape[0])
    rng = float(ref[mask].max() - ref[mask].min()) or float(np.abs(ref).max()) or 1.0
    _, smap = structural_similarity(est, ref, data_range=rng, full=True, gaussian_weights=True,
                                   sigma=1.5, use_sample_covariance=False)
    return float(smap[mask].mean())
