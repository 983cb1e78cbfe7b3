"""Discrete volume rendering against analytic transmittance (slab and sphere) and sampling."""

import math

import pytest
import torch

from quadfree.render.compositing import (
    alpha_from_density,
    composite,
    render_density,
    weights_from_alpha,
    weights_from_density,
)
from quadfree.render.sampling import midpoints_to_edges, sample_pdf, stratified_samples


@pytest.fixture(autouse=True)
def _float64():
    """Exact comparisons in double precision (restored afterwards)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _slab_render(sigma, a, b, colour, n):
    near, far = torch.tensor([0.0]), torch.tensor([1.0])
    t = stratified_samples(near, far, n, perturb=False)
    edges = midpoints_to_edges(t, near, far)
    deltas = edges[:, 1:] - edges[:, :-1]
    inside = (t >= a) & (t <= b)
    dens = torch.where(inside, torch.full_like(t, sigma), torch.zeros_like(t))
    rgb = torch.tensor(colour).expand(1, n, 3)
    return render_density(dens, rgb, t, deltas)


def test_homogeneous_slab_matches_analytic_transmittance():
    # slab [0.25, 0.75] aligned with the sample intervals: the discrete equation is exact
    sigma, a, b, c = 3.0, 0.25, 0.75, [0.2, 0.4, 0.9]
    out = _slab_render(sigma, a, b, c, n=64)
    trans = math.exp(-sigma * (b - a))
    assert out["acc"].item() == pytest.approx(1 - trans, abs=1e-12)
    expected = [ci * (1 - trans) + trans for ci in c]        # white background behind
    torch.testing.assert_close(out["rgb"][0], torch.tensor(expected), atol=1e-12, rtol=0)
    # expected depth ∫ t σ e^{−σ(t−a)} dt over [a, b], piecewise exact per interval
    exact = (a + 1 / sigma) - (b + 1 / sigma) * trans
    assert out["depth"].item() == pytest.approx(exact, abs=5e-5)


def test_homogeneous_sphere_chord():
    # sphere of radius 0.5 at the origin, density 2; rays at impact parameter p from z = 2
    sigma, rho, n = 2.0, 0.5, 4096
    ps = torch.tensor([0.0, 0.2, 0.4, 0.6])
    origins = torch.stack([ps, torch.zeros(4), torch.full((4,), 2.0)], -1)
    dirs = torch.tensor([0.0, 0.0, -1.0]).expand(4, 3)
    near, far = torch.full((4,), 1.0), torch.full((4,), 3.0)
    t = stratified_samples(near, far, n, perturb=False)
    pts = origins[:, None] + dirs[:, None] * t[..., None]
    dens = torch.where(pts.norm(dim=-1) <= rho, sigma, 0.0)
    edges = midpoints_to_edges(t, near, far)
    out = render_density(dens, torch.zeros(4, n, 3), t, edges[:, 1:] - edges[:, :-1])
    chord = 2 * torch.sqrt((rho ** 2 - ps ** 2).clamp(min=0))
    torch.testing.assert_close(out["acc"], 1 - torch.exp(-sigma * chord), atol=2e-3, rtol=0)
    assert out["acc"][3].item() == 0.0            # the ray that misses sees only background
    torch.testing.assert_close(out["rgb"][:, 0], torch.exp(-sigma * chord), atol=2e-3, rtol=0)


def test_alpha_and_density_weights_agree():
    g = torch.Generator().manual_seed(0)
    sigma = torch.rand(5, 16, generator=g) * 4
    deltas = torch.rand(5, 16, generator=g) * 0.2
    w1, t1 = weights_from_density(sigma, deltas)
    w2, t2 = weights_from_alpha(alpha_from_density(sigma, deltas))
    torch.testing.assert_close(w1, w2, atol=1e-9, rtol=0)
    torch.testing.assert_close(t1, t2, atol=1e-9, rtol=0)
    assert float(w1.sum(-1).max()) <= 1.0


def test_composite_empty_and_opaque():
    out = composite(torch.zeros(1, 4), torch.rand(1, 4, 3), torch.rand(1, 4))
    assert out["rgb"].tolist() == [[1.0, 1.0, 1.0]] and out["acc"].item() == 0.0
    w = torch.tensor([[0.0, 1.0, 0.0]])
    out = composite(w, torch.tensor([[[0, 0, 0], [0.3, 0.2, 0.1], [1, 1, 1]]]),
                    torch.tensor([[1.0, 2.0, 3.0]]))
    torch.testing.assert_close(out["rgb"], torch.tensor([[0.3, 0.2, 0.1]]))
    assert out["depth"].item() == 2.0


def test_stratified_samples_stay_in_their_bins():
    g = torch.Generator().manual_seed(1)
    near, far = torch.tensor([2.0, 0.0]), torch.tensor([6.0, 1.0])
    t = stratified_samples(near, far, 8, perturb=True, generator=g)
    width = (far - near)[:, None] / 8
    k = torch.floor((t - near[:, None]) / width)
    assert k.tolist() == [list(map(float, range(8)))] * 2
    mids = stratified_samples(near, far, 4, perturb=False)
    assert mids[0].tolist() == [2.5, 3.5, 4.5, 5.5]


def test_sample_pdf_follows_weights():
    bins = torch.linspace(0, 4, 5).expand(2, 5).contiguous()
    weights = torch.tensor([[0.0, 0.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    t = sample_pdf(bins, weights, 16, deterministic=True)
    assert bool(((t[0] >= 2.0) & (t[0] <= 3.0)).all())          # all in the heavy bin
    # uniform weights: inverse CDF is the identity map of evenly spaced levels
    torch.testing.assert_close(t[1], torch.linspace(0, 4, 18)[1:-1], atol=1e-3, rtol=0)
    g = torch.Generator().manual_seed(0)
    r = sample_pdf(bins, weights, 2000, deterministic=False, generator=g)
    assert bool((r[:, 1:] >= r[:, :-1]).all())                   # sorted
    frac = ((r[1] >= 1.0) & (r[1] < 2.0)).double().mean().item()
    assert frac == pytest.approx(0.25, abs=0.04)
