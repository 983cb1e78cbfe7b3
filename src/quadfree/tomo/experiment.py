"""Sparse-view CT end to end: train AutoInt on the measured views, fill in the missing
angles, reconstruct, and compare with FBP, SART and linear angular interpolation."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from quadfree.errors import QuadfreeError
from quadfree.tomo.baselines import fbp, sart
from quadfree.tomo.geometry import radius
from quadfree.tomo.model import SinogramModel, build_phi
from quadfree.tomo.quality import image_psnr, image_ssim, psnr
from quadfree.tomo.sinogram import interpolate_angles
from quadfree.tomo.train import SinogramTrainConfig, TrainHistory, fit_sinogram


@dataclass
class ModelConfig:
    """Architecture of the integral network (see :func:`quadfree.tomo.model.build_phi`)."""

    activation: str = "sine"
    hidden: int = 64
    depth: int = 4
    num_freqs: int = 8
    #: angular harmonics of the encoding; None: 8 for 16 or more views, ``views // 4`` below
    #: (with few views, many harmonics let Φ wiggle between them; measurements in
    #: ``docs/tomo.md``)
    angle_freqs: int | None = None
    rho_freqs: int = 6
    t_freqs: int = 4


@dataclass
class SparseViewResult:
    """Everything one sparse-view experiment produced (arrays are numpy).

    ``sinograms`` holds ``full`` (all scan angles), ``autoint`` and ``linear`` (predictions at
    all scan angles), ``completed`` (measured views kept, missing ones from AutoInt);
    ``images`` holds ``reference``, ``fbp_sparse``, ``sart_sparse``, ``fbp_autoint``,
    ``fbp_linear``; ``metrics`` is JSON-ready.
    """

    angles: np.ndarray
    train_index: np.ndarray
    sinograms: dict[str, np.ndarray]
    images: dict[str, np.ndarray]
    metrics: dict
    history: TrainHistory = field(repr=False)
    model: SinogramModel = field(repr=False)


def run_sparse_view(full_sinogram: np.ndarray, angles_deg: np.ndarray, train_index: np.ndarray,
                    reference: np.ndarray | None = None, model_config: ModelConfig | None = None,
                    train_config: SinogramTrainConfig | None = None,
                    device: str | torch.device = "cpu",
                    sart_iterations: int = 5, progress: bool = True) -> SparseViewResult:
    """Train on ``full_sinogram[:, train_index]`` (at exactly ``angles_deg[train_index]``),
    complete the sinogram at all ``angles_deg`` and compare reconstructions.

    ``reference`` is the true image when known; otherwise (a measured sinogram) FBP of all
    given views stands in for it. Held-out sinogram PSNR uses the full sinogram's range.

    Shapes: full_sinogram ``(N, A)``, angles ``(A,)``, train_index ``(K,)``,
    reference ``(N, N)``.

    Example:
        >>> from quadfree.tomo import shepp_logan, simulate, scan_angles, select_views
        >>> img = shepp_logan(16); ang = scan_angles(8)
        >>> res = run_sparse_view(simulate(img, ang), ang, select_views(8, subsample=2), img,
        ...                       ModelConfig(hidden=16, depth=2),
        ...                       SinogramTrainConfig(steps=5, batch_rays=32), progress=False)
        >>> sorted(res.images)
        ['fbp_autoint', 'fbp_linear', 'fbp_sparse', 'reference', 'sart_sparse']
    """
    mcfg = model_config or ModelConfig()
    tcfg = train_config or SinogramTrainConfig()
    full = np.asarray(full_sinogram, dtype=np.float64)
    angles = np.asarray(angles_deg, dtype=np.float64)
    idx = np.asarray(train_index, dtype=int)
    n = full.shape[0]
    if full.shape != (n, angles.size):
        raise QuadfreeError(f"sinogram has {full.shape[1]} views but {angles.size} angles")
    held = np.setdiff1d(np.arange(angles.size), idx)
    if held.size == 0:
        raise QuadfreeError("no held-out angles: every scan angle is a training view")
    measured, train_angles = full[:, idx], angles[idx]
    # normalised targets p / (R·scale) lie in [0, 0.5]: for Shepp–Logan the integrand is then
    # the image itself to within a few percent (the setting the defaults were tuned in)
    scale = 2.0 * float(measured.max()) / radius(n)
    if scale <= 0:
        raise QuadfreeError("the measured views are all zero: nothing to reconstruct")

    torch.manual_seed(tcfg.seed)
    angle_freqs = mcfg.angle_freqs if mcfg.angle_freqs is not None else (
        8 if idx.size >= 16 else max(1, idx.size // 4))
    phi = build_phi(mcfg.activation, mcfg.hidden, mcfg.depth, mcfg.num_freqs, angle_freqs,
                    mcfg.rho_freqs, mcfg.t_freqs).to(device)
    model = SinogramModel(n, phi, scale=scale)
    history = fit_sinogram(model, measured, train_angles, tcfg, progress=progress)

    t0 = time.perf_counter()
    predicted = model.sinogram(angles)
    predict_seconds = time.perf_counter() - t0
    completed = predicted.copy()
    completed[:, idx] = measured
    linear = interpolate_angles(measured, train_angles, angles)
    linear[:, idx] = measured

    images = {
        "fbp_sparse": fbp(measured, train_angles),
        "sart_sparse": sart(measured, train_angles, sart_iterations),
        "fbp_autoint": fbp(completed, angles),
        "fbp_linear": fbp(linear, angles),
    }
    images["reference"] = (np.asarray(reference, dtype=np.float64) if reference is not None
                           else fbp(full, angles))
    rng = float(full.max() - full.min())
    metrics = {
        "size": n,
        "angles": int(angles.size),
        "views": int(idx.size),
        "train_angles_deg": [float(a) for a in train_angles],
        "reference": "true image" if reference is not None else "FBP of all given views",
        "sinogram_psnr_autoint": psnr(predicted[:, held], full[:, held], rng),
        "sinogram_psnr_linear": psnr(linear[:, held], full[:, held], rng),
        "sinogram_psnr_autoint_train_views": psnr(predicted[:, idx], measured, rng),
        "train_seconds": history.seconds,
        "train_steps": history.steps,
        "predict_seconds": predict_seconds,
        "model": {**vars(mcfg), "angle_freqs": angle_freqs},
        "training": vars(tcfg).copy(),
    }
    for key, img in images.items():
        if key != "reference":
            metrics[f"image_psnr_{key}"] = image_psnr(img, images["reference"])
            metrics[f"image_ssim_{key}"] = image_ssim(img, images["reference"])
    sinos = {"full": full, "autoint": predicted, "linear": linear, "completed": completed}
    return SparseViewResult(angles, idx, sinos, images, metrics, history, model)
