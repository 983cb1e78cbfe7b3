"""The Taylor CT model: geometry against scikit-image's radon, view consistency, gradients
against autograd through a dense exact reference, non-negativity, the fit."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from quadfree.errors import QuadfreeError
from quadfree.taylor.exact import exact_sum
from quadfree.tomo import circle_mask, line_params, scan_angles, select_views, shepp_logan, simulate
from quadfree.tomo.baselines import sart
from quadfree.tomo.quality import image_psnr
from quadfree.tomo.taylor_fit import ViewPrior, fit_taylor, tv_penalty
from quadfree.tomo.taylor_model import (
    TaylorCT,
    TaylorCTConfig,
    grid_centres,
    levels_for,
    pixel_points,
    radon_rays,
)


def smooth_model(size=32, seed=0, **kw):
    """A model with random non-negative weights on a coarse grid of wide blobs."""
    cfg = TaylorCTConfig(spacing=3, sigma=2.5, **kw)
    m = TaylorCT(size, cfg)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        m.weights.copy_(torch.rand(m.weights.shape, generator=g, dtype=torch.float64))
        # no mass near the circle's edge, where radon's circle mask cuts the pixel image
        m.weights[m.centres.norm(dim=-1) > 0.6] = 0.0
    return m


def test_rays_are_the_radon_lines():
    n, angles = 16, [0.0, 33.0, 90.0, 151.0]
    o, r, near, far = radon_rays(n, angles)
    theta = np.deg2rad(np.repeat(angles, n))
    rho = np.tile((np.arange(n) - n // 2) / (n // 2), len(angles))
    for t in (near[0], far[0], torch.zeros_like(far[0])):
        q = (o + t[:, None] * r).numpy()
        rho_q, t_q = line_params(q[:, 0], q[:, 1], theta)
        np.testing.assert_allclose(rho_q, rho, atol=1e-12)
        np.testing.assert_allclose(t_q, t.numpy(), atol=1e-12)
    np.testing.assert_allclose((far - near)[0].numpy(), 2 * np.sqrt(np.clip(1 - rho**2, 0, None)))


def test_pixel_points_and_centres_follow_the_geometry():
    pts = pixel_points(8).reshape(8, 8, 2)
    assert pts[3, 5].tolist() == [(5 - 4) / 4, (3 - 4) / 4]           # (X, Y) of (row, col)
    c = grid_centres(32, spacing=2)
    assert c.abs().max() <= 1.0 and (c.norm(dim=-1) <= 1 + 1 / 16 + 1e-12).all()
    assert levels_for(32) == 4


def test_projections_match_skimage_radon_of_the_rendered_image():
    """The geometry check: the exact line integrals of the model against scikit-image's radon
    of the same image on the pixel grid. A half-pixel shift would be several times worse."""
    m = smooth_model()
    angles = scan_angles(12)
    P = m.project(angles)
    img = m.render()
    ref = simulate(img, angles)
    err = np.abs(P - ref).max() / np.abs(ref).max()
    assert err < 0.015, err           # bilinear pixels vs the smooth image
    shifted = simulate(ndimage.shift(img, (0.5, 0.5), order=1) * circle_mask(32), angles)
    assert np.abs(P - shifted).max() / np.abs(ref).max() > 5 * err


def test_projections_are_view_consistent():
    """Dense quadrature of the one image along every line reproduces the closed form."""
    m = smooth_model(size=16)
    angles = [0.0, 17.0, 45.0, 90.0, 123.4]
    P = m.project(angles)
    D = m.reproject_dense(angles)
    assert np.abs(P - D).max() / np.abs(P).max() < 1e-5


def dense_projection(m: TaylorCT, angles, p, w, nodes=64):
    """R·∫ Σ φ(x − p) w dt by composite Gauss–Legendre of the exact kernel sum (no FC²T²)."""
    o, r, near, far = radon_rays(m.size, angles)
    x, gw = np.polynomial.legendre.leggauss(8)
    k = nodes // 8
    u = torch.as_tensor(((np.arange(k)[:, None] + 0.5 * (x + 1)) / k * 2 - 1).reshape(-1))
    wu = torch.as_tensor(np.tile(gw / k, k))
    h = far[0]
    q = o[:, None] + (h[:, None] * u)[..., None] * r[:, None]            # (L, S, 2)
    f = exact_sum(m.kernel.kernel, p, w, q.reshape(1, -1, 2))[0, 0].reshape(q.shape[:2])
    return (m.size // 2) * ((f * wu).sum(1) * h).reshape(-1, m.size).T


def test_gradients_match_autograd_through_the_dense_reference():
    m = smooth_model(size=16, learn_centres=True)
    angles = [0.0, 60.0, 120.0]
    g = torch.Generator().manual_seed(1)
    ybar = torch.rand(16, 3, generator=g, dtype=torch.float64)
    (m.project_torch(angles) * ybar).sum().backward()
    p = m.centres.detach().clone()[None].requires_grad_(True)
    w = m.weights.detach().clone()[None, None].requires_grad_(True)
    ref = dense_projection(m, angles, p, w)
    np.testing.assert_allclose(m.project_torch(angles).detach().numpy(), ref.detach().numpy(),
                               atol=2e-3 * float(ref.detach().abs().max()))
    (ref * ybar).sum().backward()
    gw, gp = w.grad[0, 0], p.grad[0]
    assert (m.weights.grad - gw).norm() / gw.norm() < 5e-3
    assert (m.centres.grad - gp).norm() / gp.norm() < 2e-2


def test_tv_penalty_gradient_gradcheck():
    img = torch.rand(5, 5, dtype=torch.float64, requires_grad=True)
    mask = torch.ones(5, 5, dtype=torch.bool)
    assert torch.autograd.gradcheck(lambda x: tv_penalty(x, mask, 0.1), (img,))


def test_fit_keeps_weights_non_negative_and_beats_sart():
    n = 32
    img = shepp_logan(n)
    angles = scan_angles(64)
    idx = select_views(64, subsample=8)
    full = simulate(img, angles)
    m, h = fit_taylor(full[:, idx], angles[idx], TaylorCTConfig(iterations=40), progress=False)
    assert float(m.weights.min()) >= 0.0
    rec = m.render()
    assert rec.min() > -1e-3 * rec.max()                 # only the expansion's own error
    assert h.loss[-1] < 0.05 * h.loss[0]
    held = np.setdiff1d(np.arange(64), idx)
    pred = m.project(angles)
    assert np.abs(pred[:, idx] - full[:, idx]).max() < 0.1 * full.max()
    assert np.abs(pred[:, held] - full[:, held]).max() < 0.2 * full.max()
    assert image_psnr(rec, img) > image_psnr(sart(full[:, idx], angles[idx]), img)


def test_fit_with_learnable_centres_runs_and_keeps_them_in_the_domain():
    img = shepp_logan(16)
    angles = scan_angles(8)
    cfg = TaylorCTConfig(iterations=5, learn_centres=True, tv=0.0)
    m, h = fit_taylor(simulate(img, angles), angles, cfg, progress=False)
    assert m.centres.abs().max() <= 1.0 and h.loss[-1] < h.loss[0]


@pytest.mark.parametrize("field, value", [("spacing", 0), ("sigma", 0.0), ("order", 5),
                                          ("iterations", 0), ("tv", -1.0), ("tv_eps", 0.0),
                                          ("prior_views", 1), ("prior_weight", -0.5),
                                          ("prior_weight", float("nan"))])
def test_bad_config_names_the_parameter(field, value):
    with pytest.raises(QuadfreeError) as e:
        TaylorCTConfig(**{field: value}).check()
    assert field in str(e.value)


def test_fit_rejects_bad_measurements():
    with pytest.raises(QuadfreeError, match="measured"):
        fit_taylor(np.zeros((16, 2)), [0.0, 90.0], progress=False)
    with pytest.raises(QuadfreeError, match="measured"):
        fit_taylor(np.ones((16, 3)), [0.0, 90.0], progress=False)
    bad = np.ones((16, 2))
    bad[0, 0] = np.nan
    with pytest.raises(QuadfreeError, match="measured"):
        fit_taylor(bad, [0.0, 90.0], progress=False)


def sparse_problem(n=32, count=32, subsample=8):
    img = shepp_logan(n)
    angles = scan_angles(count)
    full = simulate(img, angles)
    idx = select_views(count, subsample=subsample)
    held = np.setdiff1d(np.arange(count), idx)
    return img, angles, full, idx, held


def test_prior_of_weight_zero_is_the_plain_fit():
    img, angles, full, idx, held = sparse_problem()
    cfg = TaylorCTConfig(iterations=15)
    plain, _ = fit_taylor(full[:, idx], angles[idx], cfg, progress=False)
    wrong = ViewPrior(np.full((32, held.size), 5.0 * full.max()), angles[held], weight=0.0)
    zero, _ = fit_taylor(full[:, idx], angles[idx], cfg, progress=False, prior=wrong)
    np.testing.assert_allclose(zero.render(), plain.render(), rtol=0, atol=1e-8 * img.max())


def test_an_exact_prior_at_the_missing_angles_improves_the_image():
    img, angles, full, idx, held = sparse_problem()
    cfg = TaylorCTConfig(iterations=40)
    plain, _ = fit_taylor(full[:, idx], angles[idx], cfg, progress=False)
    exact = ViewPrior(full[:, held], angles[held], weight=1.0)
    m, h = fit_taylor(full[:, idx], angles[idx], cfg, progress=False, prior=exact)
    assert float(m.weights.detach().min()) >= 0.0
    assert image_psnr(m.render(), img) > image_psnr(plain.render(), img) + 3.0
    # it is fitted to every line: the held-out projections now match too
    assert np.abs(m.project(angles[held]) - full[:, held]).max() < 0.1 * full.max()


def test_the_prior_weight_trades_measured_against_predicted_lines():
    img, angles, full, idx, held = sparse_problem()
    cfg = TaylorCTConfig(iterations=25, tv=0.0)
    biased = ViewPrior(1.3 * full[:, held], angles[held], weight=1.0)
    errors = []
    for weight in (0.05, 1.0, 20.0):
        m, _ = fit_taylor(full[:, idx], angles[idx], cfg, progress=False,
                          prior=ViewPrior(biased.sinogram, biased.angles_deg, weight))
        errors.append(np.abs(m.project(angles[idx]) - full[:, idx]).mean())
    assert errors[0] < errors[1] < errors[2]


@pytest.mark.parametrize("kind", ["shape", "nan", "weight", "measured angle"])
def test_a_bad_prior_names_the_parameter(kind):
    _, angles, full, idx, held = sparse_problem()
    y, a, w = full[:, held], angles[held], 1.0
    if kind == "shape":
        y = y[:, :-1]
    elif kind == "nan":
        y = y.copy()
        y[3, 2] = np.nan
    elif kind == "weight":
        w = -1.0
    else:
        a = a.copy()
        a[0] = angles[idx[1]]
    with pytest.raises(QuadfreeError, match="prior") as e:
        fit_taylor(full[:, idx], angles[idx], TaylorCTConfig(iterations=1), progress=False,
                   prior=ViewPrior(y, a, w))
    assert e.value.param == "prior"
