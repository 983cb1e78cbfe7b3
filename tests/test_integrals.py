"""The engine protocol: quadrature and AutoInt engines agree with exact integrals (float64)."""

from __future__ import annotations

import math

import pytest
import torch

from quadfree.autoint import AutoIntEngine
from quadfree.errors import QuadfreeError
from quadfree.integrals import IntegralEngine
from quadfree.quadrature import QuadratureEngine, section_nodes
from quadfree.radiance.nerf import Config, NeRF
from quadfree.render.compositing import render_density
from quadfree.render.rays import RayBundle
from quadfree.render.sampling import midpoints_to_edges, stratified_samples


def _rays(r: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    o = torch.rand(r, 3, generator=g, dtype=torch.float64)
    d = torch.nn.functional.normalize(torch.randn(r, 3, generator=g, dtype=torch.float64), dim=-1)
    return o, d


def f(o, d, t):        # a smooth field along the ray: sin of the point's x plus t
    x = o[:, None, 0] + t * d[:, None, 0]
    return torch.stack([torch.sin(3 * x), t ** 2], dim=-1)


def F(o, d, t):        # its antiderivative in t (d_x constant along the ray)
    x = o[:, None, 0] + t * d[:, None, 0]
    return torch.stack([-torch.cos(3 * x) / (3 * d[:, None, 0]), t ** 3 / 3], dim=-1)


def test_engines_satisfy_the_protocol():
    assert isinstance(QuadratureEngine(f), IntegralEngine)
    assert isinstance(AutoIntEngine(F), IntegralEngine)


def test_autoint_engine_is_exact_and_gauss_quadrature_converges():
    o, d = _rays()
    edges = torch.linspace(2.0, 6.0, 9, dtype=torch.float64).expand(5, 9)
    exact = AutoIntEngine(F).section_means(o, d, edges)
    gauss = QuadratureEngine(f, rule="gauss", nodes=8).section_means(o, d, edges)
    mid = QuadratureEngine(f, rule="midpoint", nodes=64).section_means(o, d, edges)
    assert torch.allclose(gauss, exact, atol=1e-10)
    assert torch.allclose(mid, exact, atol=1e-3)
    a, b = torch.full((5,), 2.0, dtype=torch.float64), torch.full((5,), 6.0, dtype=torch.float64)
    seg = AutoIntEngine(F).segment_integrals(o, d, a, b)
    assert torch.allclose(seg[:, 1], torch.full((5,), (216 - 8) / 3, dtype=torch.float64))
    assert torch.allclose(QuadratureEngine(f, rule="gauss", nodes=12)
                          .segment_integrals(o, d, a, b), seg, atol=1e-9)


def test_stratified_nodes_stay_inside_their_sections():
    edges = torch.tensor([[0.0, 1.0, 4.0]], dtype=torch.float64)
    t = section_nodes(edges, 3, "stratified")
    assert t.shape == (1, 2, 3)
    assert bool((t[0, 0] >= 0).all() and (t[0, 0] <= 1).all())
    assert bool((t[0, 1] >= 1).all() and (t[0, 1] <= 4).all())
    assert math.isclose(float(section_nodes(edges, 1, "gauss")[0, 1, 0]), 2.5)


def test_nerf_through_the_engine_equals_direct_compositing():
    torch.manual_seed(0)
    model = NeRF(Config(width=16, depth=2, n_coarse=8, n_fine=0)).double()
    o, d = _rays(4)
    rays = RayBundle(o, d, torch.full((4,), 2.0, dtype=torch.float64),
                     torch.full((4,), 6.0, dtype=torch.float64))
    out = model.render_rays(rays, training=False)
    t = stratified_samples(rays.near, rays.far, 8, perturb=False)
    pts = o[:, None] + d[:, None] * t[..., None]
    raw, rgb = model.coarse(pts, d[:, None].expand_as(pts))
    edges = midpoints_to_edges(t, rays.near, rays.far)
    ref = render_density(model.coarse.density(raw), rgb, t, edges[:, 1:] - edges[:, :-1])
    assert torch.allclose(out["rgb"], ref["rgb"], atol=1e-12)
    assert torch.allclose(out["depth"], ref["depth"], atol=1e-12)


def test_unknown_rule_and_zero_nodes_are_user_errors():
    with pytest.raises(QuadfreeError, match="^rule 'nope'"):
        QuadratureEngine(f, rule="nope")
    with pytest.raises(QuadfreeError, match="^nodes 0"):
        section_nodes(torch.zeros(1, 3), 0)
