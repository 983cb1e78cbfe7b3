"""TeRF's volume-rendering layer vs dense quadrature of the same field (float64).

Stated tolerances: J = 4 Gauss pieces per crossed cell (the default) agree with a 4000-piece
composite of the same expansion to 1e-3 in colour and opacity, 2e-3 in depth (level 2,
Gaussian kernel, opacities 0.26–0.91; measured 2e-4, 4e-6, 4e-4); J = 8 to 3e-4 / 6e-4.
The expansion backward equals autograd through the expansion to 1e-9 for a polynomial
kernel (where the FMM is exact), and to 1e-2 relative for a Gaussian; against autograd
through the dense reference of the exact kernel sum the gradients agree to 5 % (expansion +
quadrature error).
"""

from __future__ import annotations

import pytest
import torch

from quadfree.errors import QuadfreeError
from quadfree.taylor import FC2T2, exact_sum
from quadfree.taylor.rays import clip_to_domain
from quadfree.taylor.volume import density_map, gauss_nodes, volume_render, volume_render_layer

D = torch.float64
GAUSS = "exp(-20*(x**2+y**2+z**2))"
POLY = "1 - 0.3*(x**2+y**2+z**2)"      # degree 2 ≤ ρ: the expansion is exact


@pytest.fixture(scope="module")
def poly_transform():
    return FC2T2(POLY, levels=1, order=4)


def _rays(R: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    o = torch.nn.functional.normalize(torch.randn(R, 3, generator=g, dtype=D), dim=-1) * 2.5
    target = (torch.rand(R, 3, generator=g, dtype=D) - 0.5) * 0.8
    r = torch.nn.functional.normalize(target - o, dim=-1)
    return o, r


def _sources(N: int, seed: int = 1, scale: float = 3.0):
    g = torch.Generator().manual_seed(seed)
    p = (torch.rand(1, N, 3, generator=g, dtype=D) - 0.5) * 1.4
    w = torch.randn(1, 4, N, generator=g, dtype=D)
    w[:, 0] = w[:, 0].abs() * scale
    return p, w


def dense_reference(field, o, r, near, far, M, density="relu", beta=10.0, bg=1.0):
    """Composite M equal pieces of [t0, t1] (the part inside the domain) with field values
    ``field(points (R·M, 3)) -> (4, R·M)`` at their midpoints."""
    t0, t1 = clip_to_domain(o, r, near, far)
    k = (torch.arange(M, dtype=D) + 0.5) / M
    t = t0[:, None] + (t1 - t0)[:, None] * k                          # (R, M)
    x = (o[:, None, :] + t[..., None] * r[:, None, :]).clamp(-1, 1)
    vals = field(x.reshape(-1, 3)).reshape(4, *t.shape)
    sigma = density_map(vals[0], density, beta)[0]
    col = torch.sigmoid(vals[1:]).permute(1, 2, 0)
    a = sigma * ((t1 - t0) / M)[:, None]
    T = torch.exp(-(torch.cumsum(a, -1) - a))
    wts = T * -torch.expm1(-a)
    rgb = (wts[..., None] * col).sum(1) + (1 - wts.sum(1))[:, None] * bg
    return rgb, wts.sum(1), (wts * t).sum(1)


@pytest.mark.parametrize("nodes,tol", [(4, 1e-3), (8, 3e-4)])
def test_forward_matches_dense_quadrature_of_the_expansion(nodes, tol):
    S = FC2T2(GAUSS, levels=2, order=4)
    p, w = _sources(60, scale=0.6)
    E = S.expand(p, w)
    o, r = _rays(40)
    out = volume_render(E, o, r, 0.5, 6.0, nodes=nodes, t_min=0.0)
    rgb, acc, depth = dense_reference(lambda x: E.evaluate(x)[0], o, r, 0.5, 6.0, 4000)
    assert acc.max() > 0.8 and acc.min() < 0.4          # opaque and clear rays both present
    assert (out.rgb[0] - rgb).abs().max() < tol
    assert (out.acc[0] - acc).abs().max() < tol
    assert (out.depth[0] - depth).abs().max() < tol * 2   # depth is in units of t (~2.5)


@pytest.mark.parametrize("density", ["identity", "softplus"])
def test_density_maps_match_dense_reference(density):
    S = FC2T2(GAUSS, levels=2, order=4)
    p, w = _sources(60)
    E = S.expand(p, w)
    o, r = _rays(20, seed=3)
    out = volume_render(E, o, r, nodes=8, density=density, beta=4.0, t_min=0.0)
    rgb, acc, _ = dense_reference(lambda x: E.evaluate(x)[0], o, r, 0.0, float("inf"), 4000,
                                  density=density, beta=4.0)
    assert (out.rgb[0] - rgb).abs().max() < 1e-3
    assert (out.acc[0] - acc).abs().max() < 1e-3


def test_empty_space_skipping_is_exact_for_relu():
    S = FC2T2(GAUSS, levels=2, order=4)
    p, w = _sources(60)
    g = torch.linspace(-0.9, 0.9, 7, dtype=D)            # a negative floor on a lattice:
    lattice = torch.stack(torch.meshgrid(g, g, g, indexing="ij"), -1).reshape(1, -1, 3)
    floor = torch.zeros(1, 4, lattice.shape[1], dtype=D)
    floor[:, 0] = -1.5                                   # much of the volume has f₀ < 0
    p, w = torch.cat([p, lattice], 1), torch.cat([w, floor], 2)
    E = S.expand(p, w)
    o, r = _rays(30, seed=4)
    out = volume_render(E, o, r, nodes=8, t_min=0.0)
    full = volume_render(E, o, r, nodes=8, t_min=0.0, skip_empty=False)
    assert out.density_segments < 0.8 * out.segments == 0.8 * full.density_segments
    for a, b in ((out.rgb, full.rgb), (out.acc, full.acc), (out.depth, full.depth)):
        assert (a - b).abs().max() < 1e-12
    rgb, acc, depth = dense_reference(lambda x: E.evaluate(x)[0], o, r, 0.0, float("inf"), 4000)
    assert acc.max() > 0.3                # the kink of max(f, 0) costs accuracy: 3e-3 here
    assert (out.rgb[0] - rgb).abs().max() < 3e-3
    assert (out.acc[0] - acc).abs().max() < 3e-3
    wts = _loss_weights(30)
    _, gp, gw = _layer_grads(S, p, w, o, r, wts, nodes=8, t_min=0.0)
    _, gp_ref, gw_ref = _autograd_through_expansion(S, p, w, o, r, wts, nodes=8, t_min=0.0)
    assert _rel(gw, gw_ref) < 1e-2 and _rel(gp, gp_ref) < 1e-2


def test_early_termination_bounds_the_lost_colour():
    S = FC2T2(GAUSS, levels=2, order=4)
    p, w = _sources(60, scale=30.0)                     # very dense: rays terminate early
    E = S.expand(p, w)
    o, r = _rays(40)
    full = volume_render(E, o, r, t_min=0.0)
    cut = volume_render(E, o, r, t_min=1e-3)
    assert cut.active_segments < full.active_segments
    assert (cut.rgb - full.rgb).abs().max() < 2e-3
    assert (cut.acc - full.acc).abs().max() < 2e-3


def test_missing_rays_see_the_background():
    S = FC2T2(GAUSS, levels=1, order=2)
    p, w = _sources(5)
    out = volume_render(S.expand(p, w), torch.tensor([[3.0, 3.0, 0.0]], dtype=D),
                        torch.tensor([[1.0, 0.0, 0.0]], dtype=D), background=torch.tensor(
                            [0.2, 0.3, 0.4], dtype=D))
    assert out.rgb[0, 0].tolist() == pytest.approx([0.2, 0.3, 0.4])
    assert float(out.acc) == 0.0


def _layer_grads(S, p, w, o, r, weights, **kw):
    p_ = p.clone().requires_grad_(True)
    w_ = w.clone().requires_grad_(True)
    out = volume_render_layer(S, p_, w_, o, r, **kw)
    loss = (out["rgb"] * weights[0]).sum() + (out["acc"] * weights[1]).sum() \
        + (out["depth"] * weights[2]).sum()
    loss.backward()
    return loss.detach(), p_.grad, w_.grad


def _autograd_through_expansion(S, p, w, o, r, weights, **kw):
    p_ = p.clone().requires_grad_(True)
    w_ = w.clone().requires_grad_(True)
    out = volume_render(S.expand(p_, w_), o, r, **kw)
    loss = (out.rgb * weights[0]).sum() + (out.acc * weights[1]).sum() \
        + (out.depth * weights[2]).sum()
    loss.backward()
    return loss.detach(), p_.grad, w_.grad


def _loss_weights(R, seed=5):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(1, R, 3, generator=g, dtype=D), torch.randn(1, R, generator=g, dtype=D),
            torch.randn(1, R, generator=g, dtype=D))


def _rel(a, b):
    return float((a - b).norm() / b.norm())


def test_backward_exact_for_a_polynomial_kernel(poly_transform):
    S = poly_transform
    p, w = _sources(30, scale=1.0)
    o, r = _rays(16)
    wts = _loss_weights(16)
    kw = dict(near=0.0, far=6.0, density="softplus", beta=3.0, t_min=0.0)
    loss, gp, gw = _layer_grads(S, p, w, o, r, wts, **kw)
    loss_ref, gp_ref, gw_ref = _autograd_through_expansion(S, p, w, o, r, wts, **kw)
    assert abs(float(loss - loss_ref)) < 1e-12
    assert _rel(gw, gw_ref) < 1e-9
    assert _rel(gp, gp_ref) < 1e-9


@pytest.mark.parametrize("density", ["relu", "identity"])
def test_backward_matches_autograd_through_the_expansion_gaussian(density):
    S = FC2T2(GAUSS, levels=2, order=4)
    p, w = _sources(60)
    o, r = _rays(30)
    wts = _loss_weights(30)
    _, gp, gw = _layer_grads(S, p, w, o, r, wts, density=density, t_min=0.0)
    _, gp_ref, gw_ref = _autograd_through_expansion(S, p, w, o, r, wts, density=density,
                                                    t_min=0.0)
    assert _rel(gw, gw_ref) < 1e-2
    assert _rel(gp, gp_ref) < 1e-2


def test_backward_matches_autograd_through_dense_exact_reference():
    S = FC2T2(GAUSS, levels=3, order=4)
    p, w = _sources(40)
    o, r = _rays(24)
    wts = _loss_weights(24)
    _, gp, gw = _layer_grads(S, p, w, o, r, wts, nodes=8, t_min=0.0)
    p_ = p.clone().requires_grad_(True)
    w_ = w.clone().requires_grad_(True)
    rgb, acc, depth = dense_reference(lambda x: exact_sum(S.kernel, p_, w_, x[None])[0],
                                      o, r, 0.0, float("inf"), 1500)
    loss = (rgb * wts[0][0]).sum() + (acc * wts[1][0]).sum() + (depth * wts[2][0]).sum()
    gp_ref, gw_ref = torch.autograd.grad(loss, (p_, w_))
    assert _rel(gw, gw_ref) < 5e-2
    assert _rel(gp, gp_ref) < 5e-2


def test_gradcheck_tiny(poly_transform):
    S = poly_transform
    p, w = _sources(3, scale=1.0)
    o, r = _rays(3)
    p.requires_grad_(True)
    w.requires_grad_(True)

    def f(p_, w_):
        out = volume_render_layer(S, p_, w_, o, r, nodes=2, density="softplus", beta=2.0,
                                  t_min=0.0)
        return out["rgb"], out["acc"], out["depth"]

    assert torch.autograd.gradcheck(f, (p, w), eps=1e-6, atol=1e-6, fast_mode=True)


def _grads_layer_and_autograd(S, p, w, o, r, wts, kw, **extra):
    """Gradients of one scalar loss of (rgb, acc, depth) w.r.t. p, w and every ``extra``
    tensor (keyword arguments of the renderer), from the layer's expansion backward and from
    autograd through ``volume_render`` of the same expansion: ``(layer, autograd)``."""
    def grads(layer: bool):
        p_, w_ = p.clone().requires_grad_(True), w.clone().requires_grad_(True)
        ex = {k: v.clone().requires_grad_(True) for k, v in extra.items()}
        if layer:
            out = volume_render_layer(S, p_, w_, o, r, **ex, **kw)
            rgb, acc, depth = out["rgb"], out["acc"], out["depth"]
        else:
            res = volume_render(S.expand(p_, w_), o, r, **ex, **kw)
            rgb, acc, depth = res.rgb, res.acc, res.depth
        loss = (rgb * wts[0]).sum() + (acc * wts[1]).sum() + (depth * wts[2]).sum()
        return torch.autograd.grad(loss, (p_, w_, *ex.values()))

    return grads(True), grads(False)


def test_color_bias_gradient_is_exact_for_a_polynomial_kernel(poly_transform):
    """A per-ray colour-logit shift (view-dependent colour): the layer's gradient w.r.t. it and
    w.r.t. p, w equal autograd through the expansion (exact kernel) to 1e-9; gradcheck too."""
    S = poly_transform
    p, w = _sources(30, scale=1.0)
    o, r = _rays(16)
    wts = _loss_weights(16)
    g = torch.Generator().manual_seed(9)
    bias = torch.randn(16, 3, generator=g, dtype=D)
    kw = dict(near=0.0, far=6.0, density="softplus", beta=3.0, t_min=0.0)

    for got, ref in zip(*_grads_layer_and_autograd(S, p, w, o, r, wts, kw, color_bias=bias)):
        assert _rel(got, ref) < 1e-9
    plain = volume_render(S.expand(p, w), o, r, **kw)
    shifted = volume_render(S.expand(p, w), o, r, color_bias=bias, **kw)
    assert torch.equal(plain.acc, shifted.acc)                     # density is untouched
    assert (plain.rgb - shifted.rgb).abs().max() > 1e-2
    assert torch.equal(volume_render(S.expand(p, w), o, r, color_bias=torch.zeros(16, 3),
                                     **kw).rgb, plain.rgb)
    b3 = bias[:3].clone().requires_grad_(True)
    o3, r3 = o[:3], r[:3]
    assert torch.autograd.gradcheck(
        lambda b_: volume_render_layer(S, p, w, o3, r3, color_bias=b_, nodes=2, **kw)["rgb"],
        (b3,), eps=1e-6, atol=1e-6)
    with pytest.raises(QuadfreeError, match="color_bias"):
        volume_render_layer(S, p, w, o, r, color_bias=torch.zeros(15, 3))


def test_float32_runs_and_published_relu_weights():
    S = FC2T2(GAUSS, levels=2, order=4)
    p, w = _sources(30)
    w = w.float()
    w.requires_grad_(True)
    w_eff = torch.cat([torch.relu(w[:, :1]), w[:, 1:]], 1)
    out = volume_render_layer(S, p.float(), w_eff, *(x.float() for x in _rays(8)),
                              density="identity")
    out["rgb"].sum().backward()
    assert out["rgb"].dtype == torch.float32 and torch.isfinite(w.grad).all()


def test_errors_name_the_parameter():
    S = FC2T2(GAUSS, levels=1, order=2)
    p, w = _sources(3)
    o, r = _rays(2)
    with pytest.raises(QuadfreeError, match="nodes"):
        volume_render_layer(S, p, w, o, r, nodes=0)
    with pytest.raises(QuadfreeError, match="density"):
        volume_render_layer(S, p, w, o, r, density="exp")
    with pytest.raises(QuadfreeError, match="weights w"):
        volume_render_layer(S, p, w[:, :3], o, r)
    with pytest.raises(QuadfreeError, match="t_min"):
        volume_render(S.expand(p, w), o, r, t_min=1.0)
    assert gauss_nodes(3)[1].sum().item() == pytest.approx(2.0)


# ---------------------------------------------------------------- view-dependent colour weights
def _mix_case(N: int, R: int, K: int, seed: int = 11):
    """Sources with 4 + 3K channel weights (density, w⁽²⁾, ΔW_1 … ΔW_K), rays, mixing a."""
    p, w = _sources(N, scale=1.0)
    g = torch.Generator().manual_seed(seed)
    w = torch.cat([w, 0.7 * torch.randn(1, 3 * K, N, generator=g, dtype=D)], 1)
    o, r = _rays(R)
    mix = torch.randn(R, K, generator=g, dtype=D)
    return p, w, o, r, mix


def test_color_mix_is_per_ray_colour_weights(poly_transform):
    """Rendering with a = color_mix[r] equals rendering ray r alone through a 4-channel
    expansion with weights w⁽²⁾ + Σ_k a_k ΔW_k (exact kernel: to 1e-12), and a = 0 is the
    Lambertian render."""
    S = poly_transform
    K = 3
    p, w, o, r, mix = _mix_case(20, 5, K)
    kw = dict(near=0.0, far=6.0, density="softplus", beta=3.0, t_min=0.0)
    out = volume_render(S.expand(p, w), o, r, color_mix=mix, **kw)
    for i in range(5):
        wc = w[:, 1:4] + (mix[i][:, None, None] * w[0, 4:].reshape(K, 3, -1)).sum(0)[None]
        ref = volume_render(S.expand(p, torch.cat([w[:, :1], wc], 1)), o[i:i + 1],
                            r[i:i + 1], **kw)
        assert (out.rgb[0, i] - ref.rgb[0, 0]).abs().max() < 1e-12
        assert abs(float(out.acc[0, i] - ref.acc[0, 0])) < 1e-12
    plain = volume_render(S.expand(p, w[:, :4]), o, r, **kw)
    zero = volume_render(S.expand(p, w), o, r, color_mix=torch.zeros(5, K, dtype=D), **kw)
    assert (zero.rgb - plain.rgb).abs().max() < 1e-12
    assert (out.rgb - plain.rgb).abs().max() > 1e-2


def test_color_mix_backward_exact_for_a_polynomial_kernel(poly_transform):
    """Gradients w.r.t. p, all 4 + 3K weight channels and the mixing coefficients equal
    autograd through the expansion to 1e-9 (the FMM is exact for this kernel); gradcheck."""
    S = poly_transform
    p, w, o, r, mix = _mix_case(30, 16, 4)
    wts = _loss_weights(16)
    kw = dict(near=0.0, far=6.0, density="softplus", beta=3.0, t_min=0.0)

    for got, ref in zip(*_grads_layer_and_autograd(S, p, w, o, r, wts, kw, color_mix=mix)):
        assert _rel(got, ref) < 1e-9
    p3, w3, o3, r3, m3 = _mix_case(3, 3, 2, seed=4)
    args = tuple(t.clone().requires_grad_(True) for t in (p3, w3, m3))
    assert torch.autograd.gradcheck(
        lambda p_, w_, m_: volume_render_layer(S, p_, w_, o3, r3, color_mix=m_, nodes=2,
                                               **kw)["rgb"],
        args, eps=1e-6, atol=1e-6, fast_mode=True)


def test_color_bias_and_color_mix_together_backward_exact(poly_transform):
    """Both view-dependence options at once (``view_dependent`` and ``view_sh``): gradients
    w.r.t. p, w, the per-ray bias and the mixing coefficients equal autograd through the
    expansion (the bias shifts the mixed logits)."""
    S = poly_transform
    p, w, o, r, mix = _mix_case(30, 16, 4)
    bias = 0.3 * torch.randn(16, 3, generator=torch.Generator().manual_seed(7),
                             dtype=mix.dtype)
    wts = _loss_weights(16)
    kw = dict(near=0.0, far=6.0, density="softplus", beta=3.0, t_min=0.0)

    layer, reference = _grads_layer_and_autograd(S, p, w, o, r, wts, kw, color_bias=bias,
                                                 color_mix=mix)
    assert len(layer) == 4
    for got, ref in zip(layer, reference):
        assert _rel(got, ref) < 1e-9


def test_color_mix_backward_matches_dense_exact_reference():
    """Against autograd through dense quadrature of the exact Gaussian kernel sum with the
    per-ray mixed colour weights: 5 % (expansion + quadrature error), as for the plain layer."""
    S = FC2T2(GAUSS, levels=3, order=4)
    K = 3
    p, w, o, r, mix = _mix_case(40, 24, K)
    w[:, 0] = w[:, 0].abs() * 3.0
    wts = _loss_weights(24)
    p_, w_, m_ = (t.clone().requires_grad_(True) for t in (p, w, mix))
    out = volume_render_layer(S, p_, w_, o, r, color_mix=m_, nodes=8, t_min=0.0)
    loss = (out["rgb"] * wts[0]).sum() + (out["acc"] * wts[1]).sum() \
        + (out["depth"] * wts[2]).sum()
    got = torch.autograd.grad(loss, (p_, w_, m_))
    p_, w_, m_ = (t.clone().requires_grad_(True) for t in (p, w, mix))
    M = 1500

    def field(x):                                   # (R·M, 3) → (4, R·M), mixed per ray
        v = exact_sum(S.kernel, p_, w_, x[None])[0].reshape(4 + 3 * K, 24, M)
        col = v[1:4] + (m_.T[:, None, :, None] * v[4:].reshape(K, 3, 24, M)).sum(0)
        return torch.cat([v[:1], col], 0).reshape(4, -1)

    rgb, acc, depth = dense_reference(field, o, r, 0.0, float("inf"), M)
    loss = (rgb * wts[0][0]).sum() + (acc * wts[1][0]).sum() + (depth * wts[2][0]).sum()
    ref = torch.autograd.grad(loss, (p_, w_, m_))
    for a, b in zip(got, ref):
        assert _rel(a, b) < 5e-2


def test_color_mix_errors_name_the_parameter():
    S = FC2T2(GAUSS, levels=1, order=2)
    p, w, o, r, mix = _mix_case(3, 2, 2)
    with pytest.raises(QuadfreeError, match="weights w"):
        volume_render_layer(S, p, w[:, :4], o, r, color_mix=mix)
    with pytest.raises(QuadfreeError, match="color_mix"):
        volume_render_layer(S, p, w, o, r, color_mix=mix[:1])
    with pytest.raises(QuadfreeError, match="4 \\+ 3K"):
        volume_render(S.expand(p, w), o, r)
