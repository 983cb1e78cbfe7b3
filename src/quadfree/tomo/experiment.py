"""Sparse-view CT end to end: reconstruct from the measured views with the chosen methods
and compare with FBP, SART and linear angular interpolation.

Methods: ``autoint`` (train the sinogram network, fill in the missing angles, FBP of the
completed sinogram), ``taylor`` (fit one FC²T² image to the views by exact line integrals,
:mod:`quadfree.tomo.taylor_fit`; its image directly, its projections at every angle),
``taylor_autoint`` (the same Taylor fit, to the measured views plus AutoInt's predictions at
missing angles as a weighted prior: one consistent image from the completed sinogram; runs
``autoint`` first) and ``mbir`` (svmbir, :mod:`quadfree.tomo.mbir`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from quadfree.errors import QuadfreeError
from quadfree.tomo.baselines import fbp, sart
from quadfree.tomo.geometry import radius
from quadfree.tomo.mbir import mbir
from quadfree.tomo.model import SinogramModel, build_phi
from quadfree.tomo.quality import image_psnr, image_ssim, psnr
from quadfree.tomo.sinogram import interpolate_angles, select_views, simulate
from quadfree.tomo.taylor_fit import ViewPrior, fit_taylor
from quadfree.tomo.taylor_model import TaylorCTConfig
from quadfree.tomo.train import SinogramTrainConfig, TrainHistory, fit_sinogram

METHODS = ("autoint", "taylor", "taylor_autoint", "mbir")
#: methods that need another method's result, and which
NEEDS = {"taylor_autoint": "autoint"}


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

    ``sinograms`` holds ``full`` (all scan angles), ``linear`` (prediction at all scan
    angles) and per method run: ``autoint`` (prediction) and ``completed`` (measured views
    kept, missing ones from AutoInt), ``taylor`` / ``taylor_autoint`` (projections of the
    Taylor image); ``images`` holds ``reference``, ``fbp_sparse``, ``sart_sparse``,
    ``fbp_linear`` and per method ``fbp_autoint``, ``taylor``, ``taylor_autoint``, ``mbir``;
    ``metrics`` is JSON-ready. ``history``/``model`` are AutoInt's (None when it did not run),
    ``taylor_models`` the fitted :class:`~quadfree.tomo.taylor_model.TaylorCT` per Taylor
    method that ran.
    """

    angles: np.ndarray
    train_index: np.ndarray
    sinograms: dict[str, np.ndarray]
    images: dict[str, np.ndarray]
    metrics: dict
    history: TrainHistory | None = field(default=None, repr=False)
    model: SinogramModel | None = field(default=None, repr=False)
    taylor_models: dict = field(default_factory=dict, repr=False)

    @property
    def taylor_model(self):
        """The plain ``taylor`` method's fitted model (None when it did not run); kept for
        callers of the single-model field this replaced."""
        return self.taylor_models.get("taylor")

    @property
    def methods(self) -> list[str]:
        """The methods that ran, in :data:`METHODS` order."""
        return list(self.metrics.get("methods", []))


def run_sparse_view(full_sinogram: np.ndarray, angles_deg: np.ndarray, train_index: np.ndarray,
                    reference: np.ndarray | None = None, model_config: ModelConfig | None = None,
                    train_config: SinogramTrainConfig | None = None,
                    device: str | torch.device = "cpu",
                    sart_iterations: int = 5, progress: bool = True,
                    methods: tuple[str, ...] | list[str] = ("autoint",),
                    taylor_config: TaylorCTConfig | None = None,
                    mbir_snr_db: float = 40.0) -> SparseViewResult:
    """Reconstruct from ``full_sinogram[:, train_index]`` (at exactly
    ``angles_deg[train_index]``) with ``methods`` (subset of :data:`METHODS`) and the
    classical baselines, and compare them; predict the sinogram at all ``angles_deg``.

    ``taylor_autoint`` also runs ``autoint`` (it fits to its completion; how:
    ``taylor_config.prior_views`` and ``prior_weight``).
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
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise QuadfreeError(f"methods: unknown {unknown}; choose from {list(METHODS)}",
                            param="methods")
    wanted = set(methods) | {NEEDS[m] for m in methods if m in NEEDS}
    chosen = [m for m in METHODS if m in wanted]
    mcfg = model_config or ModelConfig()
    taylor_cfg = taylor_config or TaylorCTConfig()
    if {"taylor", "taylor_autoint"} & set(chosen):
        taylor_cfg.check()                          # before AutoInt trains
    if "taylor_autoint" in chosen and taylor_cfg.prior_weight == 0:
        raise QuadfreeError("prior_weight 0: taylor_autoint without its prior is method "
                            "taylor; give a weight > 0", param="prior_weight")
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
    if float(measured.max()) <= 0:
        raise QuadfreeError("the measured views are all zero: nothing to reconstruct")
    rng = float(full.max() - full.min())
    linear = interpolate_angles(measured, train_angles, angles)
    linear[:, idx] = measured
    images = {
        "fbp_sparse": fbp(measured, train_angles),
        "sart_sparse": sart(measured, train_angles, sart_iterations),
        "fbp_linear": fbp(linear, angles),
    }
    sinos = {"full": full, "linear": linear}
    metrics: dict = {
        "size": n,
        "angles": int(angles.size),
        "views": int(idx.size),
        "methods": chosen,
        "train_angles_deg": [float(a) for a in train_angles],
        "reference": "true image" if reference is not None else "FBP of all given views",
        "sinogram_psnr_linear": psnr(linear[:, held], full[:, held], rng),
    }
    result = SparseViewResult(angles, idx, sinos, images, metrics)
    if "autoint" in chosen:
        _run_autoint(result, measured, train_angles, mcfg, tcfg, device, progress, rng)
    if "taylor" in chosen:
        _run_taylor(result, "taylor", measured, train_angles, taylor_cfg, progress, rng)
    if "taylor_autoint" in chosen:
        prior = _autoint_prior(result, taylor_cfg)
        _run_taylor(result, "taylor_autoint", measured, train_angles, taylor_cfg, progress, rng,
                    prior)
        metrics["taylor_autoint_predicted_views"] = int(prior.angles_deg.size)
    if "mbir" in chosen:
        t0 = time.perf_counter()
        images["mbir"] = mbir(measured, train_angles, snr_db=mbir_snr_db)
        metrics["mbir_seconds"] = time.perf_counter() - t0
        metrics["mbir"] = {"package": "svmbir", "snr_db": mbir_snr_db}
    images["reference"] = (np.asarray(reference, dtype=np.float64) if reference is not None
                           else fbp(full, angles))
    for key, img in images.items():
        if key != "reference":
            metrics[f"image_psnr_{key}"] = image_psnr(img, images["reference"])
            metrics[f"image_ssim_{key}"] = image_ssim(img, images["reference"])
    return result


def _run_autoint(result: SparseViewResult, measured: np.ndarray, train_angles: np.ndarray,
                 mcfg: ModelConfig, tcfg: SinogramTrainConfig, device, progress: bool,
                 rng: float) -> None:
    """Train AutoInt on the measured views; complete the sinogram; FBP it."""
    angles, idx, full = result.angles, result.train_index, result.sinograms["full"]
    held = np.setdiff1d(np.arange(angles.size), idx)
    n = measured.shape[0]
    # normalised targets p / (R·scale) lie in [0, 0.5]: for Shepp–Logan the integrand is then
    # the image itself to within a few percent (the setting the defaults were tuned in)
    scale = 2.0 * float(measured.max()) / radius(n)
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
    result.images["fbp_autoint"] = fbp(completed, angles)
    result.sinograms.update(autoint=predicted, completed=completed)
    result.model, result.history = model, history
    result.metrics.update({
        "sinogram_psnr_autoint": psnr(predicted[:, held], full[:, held], rng),
        "sinogram_psnr_autoint_train_views": psnr(predicted[:, idx], measured, rng),
        "train_seconds": history.seconds,
        "train_steps": history.steps,
        "predict_seconds": predict_seconds,
        "model": {**vars(mcfg), "angle_freqs": angle_freqs},
        "training": vars(tcfg).copy(),
    })


def predicted_views(count: int, train_index: np.ndarray, prior_views: int) -> np.ndarray:
    """Scan-angle indices at which ``taylor_autoint`` uses AutoInt's predictions: those of
    ``prior_views`` angles evenly spread over the scan's ``count`` columns (all of them when
    it is more) that are not measured; every unmeasured angle when all of those are measured
    (e.g. every second angle measured and ``prior_views`` = half the scan).

    Shapes: train_index ``(K,)`` → ``(P,)``, sorted.

    Example:
        >>> predicted_views(16, np.arange(0, 16, 4), 8).tolist()
        [2, 6, 10, 14]
        >>> predicted_views(8, np.arange(0, 8, 2), 4).tolist()
        [1, 3, 5, 7]
    """
    measured = np.asarray(train_index, dtype=int)
    spread = (np.arange(count) if prior_views >= count
              else select_views(count, views=prior_views))
    missing = np.setdiff1d(spread, measured)
    return missing if missing.size else np.setdiff1d(np.arange(count), measured)


def _autoint_prior(result: SparseViewResult, cfg: TaylorCTConfig) -> ViewPrior:
    """AutoInt's predictions (clipped at 0: attenuation is non-negative) at
    :func:`predicted_views`."""
    missing = predicted_views(result.angles.size, result.train_index, cfg.prior_views)
    predicted = np.clip(result.sinograms["autoint"][:, missing], 0.0, None)
    return ViewPrior(predicted, result.angles[missing], cfg.prior_weight)


def _run_taylor(result: SparseViewResult, key: str, measured: np.ndarray,
                train_angles: np.ndarray, cfg: TaylorCTConfig, progress: bool, rng: float,
                prior: ViewPrior | None = None) -> None:
    """Fit the Taylor image (with ``prior`` when given); store its pixels and its projections
    at every scan angle under ``key``, its metrics as ``*_{key}`` / ``{key}_*``."""
    angles, idx, full = result.angles, result.train_index, result.sinograms["full"]
    held = np.setdiff1d(np.arange(angles.size), idx)
    model, history = fit_taylor(measured, train_angles, cfg, progress=progress, prior=prior)
    t0 = time.perf_counter()
    image = model.render()
    predicted = model.project(angles)
    predict_seconds = time.perf_counter() - t0
    # view consistency: the same image integrated by dense quadrature (no closed form) along
    # up to 32 held-out lines' angles reproduces the predicted projections
    check = held[np.unique(np.linspace(0, held.size - 1, min(32, held.size)).astype(int))]
    dense = model.reproject_dense(angles[check])
    consistency = float(np.abs(dense - predicted[:, check]).max() / np.abs(predicted).max())
    # geometry: scikit-image's radon of the rendered pixel image (discretisation error only)
    radon_error = float(np.abs(simulate(image, angles) - predicted).max()
                        / np.abs(predicted).max())
    result.images[key] = image
    result.sinograms[key] = predicted
    result.taylor_models[key] = model
    result.metrics.update({
        f"sinogram_psnr_{key}": psnr(predicted[:, held], full[:, held], rng),
        f"sinogram_psnr_{key}_train_views": psnr(predicted[:, idx], measured, rng),
        f"{key}_seconds": history.seconds,
        f"{key}_iterations": history.iterations,
        f"{key}_evaluations": history.evaluations,
        f"{key}_predict_seconds": predict_seconds,
        f"{key}_sources": int(model.weights.shape[0]),
        f"{key}_image_min": float(image.min()),
        f"{key}_view_consistency": consistency,
        f"{key}_radon_of_image_rel_error": radon_error,
    })
    used = vars(cfg).copy()
    if prior is None:                       # the prior's settings only where one was used
        used = {k: v for k, v in used.items() if not k.startswith("prior_")}
    result.metrics["taylor"] = {**result.metrics.get("taylor", {}), **used}
