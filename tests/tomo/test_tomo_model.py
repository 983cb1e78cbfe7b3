"""The AutoInt sinogram model: tangent pass, integrals, training on exact radon angles."""

import math

import numpy as np
import pytest
import torch

from quadfree.errors import QuadfreeError
from quadfree.tomo import (
    ModelConfig,
    RayEncoding,
    SinogramModel,
    SinogramTrainConfig,
    build_phi,
    circle_mask,
    fit_sinogram,
    psnr,
    ray_table,
    run_sparse_view,
    scan_angles,
    select_views,
    shepp_logan,
    simulate,
)


def _blobs(n: int) -> np.ndarray:
    yy, xx = (np.mgrid[:n, :n] - n // 2) / (n // 2)
    img = (np.exp(-((xx - 0.2) ** 2 + yy ** 2) / 0.1)
           + 0.5 * np.exp(-((xx + 0.3) ** 2 + (yy + 0.2) ** 2) / 0.05))
    return img * circle_mask(n)


def test_ray_encoding_tangent_matches_autograd():
    torch.manual_seed(0)
    enc = RayEncoding(num_freqs=4, angle_freqs=3, rho_freqs=2, t_freqs=2).double()
    x = torch.rand(7, 3, dtype=torch.float64) * 2 - 1
    v = torch.randn(7, 3, dtype=torch.float64)
    val, tan = enc.jvp(x, v)
    ref_val, ref_tan = torch.func.jvp(enc.forward, (x,), (v,))
    torch.testing.assert_close(val, ref_val)
    torch.testing.assert_close(tan, ref_tan)


def test_sinogram_is_phi_difference_and_integral_of_grad_network():
    torch.manual_seed(0)
    model = SinogramModel(16, build_phi("sine", hidden=16, depth=2, num_freqs=3), scale=2.0)
    model = model.double()
    angles = [10.0, 100.0]
    a, b = model.chords(angles)
    with torch.no_grad():
        expected = (model.phi(b) - model.phi(a))[:, 0].reshape(16, 2).numpy() * 8 * 2.0
    np.testing.assert_allclose(model.sinogram(angles), expected, rtol=1e-12, atol=1e-12)
    # ∫ ∂Φ/∂t dt over the chord by fine midpoint quadrature equals Φ(t_max) − Φ(t_min)
    rho, theta, half = 0.25, math.radians(100.0), math.sqrt(1 - 0.0625)
    m = 4000
    t = (torch.arange(m, dtype=torch.float64) + 0.5) / m * 2 * half - half
    g = model.integrand(torch.tensor(rho, dtype=torch.float64),
                        torch.tensor(theta, dtype=torch.float64), t)
    with torch.no_grad():
        quad = float(g.sum() * 2 * half / m) * 8 * 2.0
    j = 10                                                   # detector with ρ = 0.25 at N=16
    assert abs(quad - model.sinogram([100.0])[j, 0]) < 1e-5


def test_model_trained_on_all_views_reproduces_the_sinogram():
    img = _blobs(16)
    angles = scan_angles(16)
    full = simulate(img, angles)
    torch.manual_seed(0)
    model = SinogramModel(16, build_phi("sine", hidden=32, depth=2, num_freqs=3, angle_freqs=2),
                          scale=float(full.max()) / 16)
    before = psnr(model.sinogram(angles), full, float(full.max()))
    fit_sinogram(model, full, angles,
                 SinogramTrainConfig(steps=200, batch_rays=64, samples_per_ray=8,
                                     consistency=0.0, lr=5e-3), progress=False)
    after = psnr(model.sinogram(angles), full, float(full.max()))
    assert before < 15.0
    assert after > 28.0


def test_training_angles_are_exactly_the_radon_angles():
    img = shepp_logan(16)
    angles = scan_angles(32)
    full = simulate(img, angles)
    idx = select_views(32, subsample=4)
    np.testing.assert_array_equal(simulate(img, angles[idx]), full[:, idx])
    rays, _ = ray_table(full[:, idx], angles[idx], radius=8, scale=1.0)
    theta = np.unique(np.round(np.mod(rays[:, 1], 2 * np.pi), 12))
    expected = np.round(np.mod(np.concatenate([np.deg2rad(angles[idx]),
                                               np.deg2rad(angles[idx]) + np.pi]), 2 * np.pi), 12)
    np.testing.assert_array_equal(theta, np.unique(expected))
    res = run_sparse_view(full, angles, idx, img, ModelConfig(hidden=8, depth=1),
                          SinogramTrainConfig(steps=2, batch_rays=16), progress=False)
    assert res.metrics["train_angles_deg"] == [float(a) for a in angles[idx]]
    np.testing.assert_array_equal(res.model.train_angles, angles[idx])
    np.testing.assert_array_equal(res.sinograms["completed"][:, idx], full[:, idx])


def test_fit_rejects_a_sinogram_of_the_wrong_shape():
    model = SinogramModel(16, build_phi("swish", hidden=8, depth=1))
    with pytest.raises(QuadfreeError, match="expected shape"):
        fit_sinogram(model, np.ones((16, 3)), [0.0, 90.0], SinogramTrainConfig(steps=1))


def sparse_32(methods, steps, **taylor):
    """Shepp–Logan 32², 32 angles, every 8th measured, a tiny AutoInt: (result, idx)."""
    from quadfree.tomo.taylor_model import TaylorCTConfig

    img = shepp_logan(32)
    angles = scan_angles(32)
    idx = select_views(32, subsample=8)
    res = run_sparse_view(simulate(img, angles), angles, idx, img,
                          ModelConfig(hidden=8, depth=1),
                          SinogramTrainConfig(steps=steps, batch_rays=16), progress=False,
                          methods=methods, taylor_config=TaylorCTConfig(**taylor))
    return res, idx


def test_taylor_autoint_fits_the_image_to_autoint_s_completion():
    res, idx = sparse_32(("taylor_autoint",), steps=2, iterations=3, prior_views=16)
    assert res.methods == ["autoint", "taylor_autoint"]          # AutoInt runs first
    assert {"fbp_autoint", "taylor_autoint"} <= set(res.images)
    assert res.metrics["taylor_autoint_predicted_views"] == 16 - idx.size
    assert res.metrics["taylor_autoint_view_consistency"] <= 1e-4
    assert res.sinograms["taylor_autoint"].shape == (32, 32)
    assert set(res.taylor_models) == {"taylor_autoint"}


def test_taylor_autoint_follows_autoint_s_predictions_at_the_predicted_views():
    from quadfree.tomo.experiment import predicted_views

    # a heavily weighted prior: the fit follows AutoInt's (poor, 5-step) completion at exactly
    # the predicted views, where the plain Taylor image does not
    res, idx = sparse_32(("taylor", "taylor_autoint"), steps=5, iterations=10, prior_views=64,
                         prior_weight=50.0)
    missing = predicted_views(32, idx, 64)
    np.testing.assert_array_equal(missing, np.setdiff1d(np.arange(32), idx))
    target = np.clip(res.sinograms["autoint"][:, missing], 0.0, None)
    err = {k: np.abs(res.sinograms[k][:, missing] - target).mean()
           for k in ("taylor", "taylor_autoint")}
    assert err["taylor_autoint"] < 0.05 * err["taylor"]           # weight 1: 0.13×


@pytest.mark.parametrize("methods, config, param", [
    (("taylor_autoint",), {"prior_weight": 0.0}, "prior_weight"),
    (("taylor_autoint",), {"prior_views": 1}, "prior_views"),
    (("autoint", "taylor"), {"sigma": 0.0}, "sigma"),
])
def test_taylor_settings_are_refused_before_autoint_trains(methods, config, param):
    from quadfree.tomo.taylor_model import TaylorCTConfig

    img = shepp_logan(16)
    angles = scan_angles(16)
    with pytest.raises(QuadfreeError) as e:          # 10⁹ steps: fails fast or hangs
        run_sparse_view(simulate(img, angles), angles, select_views(16, subsample=4), img,
                        train_config=SinogramTrainConfig(steps=10**9), progress=False,
                        methods=methods, taylor_config=TaylorCTConfig(**config))
    assert e.value.param == param


def test_result_keeps_the_plain_taylor_model_under_its_old_name():
    from quadfree.tomo.taylor_model import TaylorCTConfig

    img = shepp_logan(16)
    angles = scan_angles(16)
    res = run_sparse_view(simulate(img, angles), angles, select_views(16, subsample=4), img,
                          progress=False, methods=("taylor",),
                          taylor_config=TaylorCTConfig(iterations=2))
    assert res.taylor_model is res.taylor_models["taylor"]
