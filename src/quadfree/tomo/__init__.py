"""Sparse-view parallel-beam tomography with AutoInt, the Taylor image and an MBIR peer.

The Taylor image (one FC²T² kernel sum, exact line integrals): ``fit_taylor(views, angles)``
→ ``model.render()`` (the image), ``model.project(any_angles)``; see ``taylor_model``.
``fit_taylor(..., prior=ViewPrior(predicted, other_angles, weight))`` also fits predicted
views (method ``taylor_autoint``: AutoInt's completion).
AutoInt:

    img = shepp_logan(64); angles = scan_angles(128)
    full = simulate(img, angles)                        # scikit-image radon, (64, 128)
    idx = select_views(128, subsample=8)                # 16 measured views
    res = run_sparse_view(full, angles, idx, reference=img)
    res.metrics["sinogram_psnr_autoint"], res.metrics["image_psnr_fbp_autoint"]

The integral network Φ(ρ, θ, t) is trained through its t-derivative on the measured lines;
a projection at any angle is ``R·(Φ(t_max) − Φ(t_min))``.
"""

from quadfree.tomo.baselines import fbp, sart
from quadfree.tomo.experiment import ModelConfig, SparseViewResult, run_sparse_view
from quadfree.tomo.geometry import (
    chord_half_length,
    circle_mask,
    detector_positions,
    line_params,
    line_points,
    radon_bilinear,
)
from quadfree.tomo.mbir import mbir, mbir_project
from quadfree.tomo.model import RayEncoding, SinogramModel, build_phi
from quadfree.tomo.phantoms import (
    PHANTOMS,
    check_image,
    check_sinogram,
    load_image,
    load_sinogram,
    phantom,
    pixels_outside_circle,
    shepp_logan,
)
from quadfree.tomo.quality import image_psnr, image_ssim, psnr
from quadfree.tomo.sinogram import (
    interpolate_angles,
    mirror_view,
    scan_angles,
    select_views,
    simulate,
)
from quadfree.tomo.taylor_fit import TaylorHistory, ViewPrior, fit_taylor
from quadfree.tomo.taylor_model import TaylorCT, TaylorCTConfig, radon_rays
from quadfree.tomo.train import SinogramTrainConfig, TrainHistory, fit_sinogram, ray_table

__all__ = [
    "PHANTOMS", "ModelConfig", "RayEncoding", "SinogramModel", "SparseViewResult",
    "SinogramTrainConfig", "TrainHistory", "build_phi", "check_image", "check_sinogram",
    "chord_half_length", "circle_mask", "detector_positions", "fbp", "fit_sinogram",
    "image_psnr", "image_ssim", "interpolate_angles", "line_params", "line_points",
    "load_image", "load_sinogram", "mirror_view", "phantom", "pixels_outside_circle", "psnr",
    "radon_bilinear", "ray_table", "run_sparse_view", "sart", "scan_angles", "select_views",
    "shepp_logan", "simulate", "TaylorCT", "TaylorCTConfig", "TaylorHistory", "fit_taylor",
    "mbir", "mbir_project", "radon_rays", "ViewPrior",
]
