"""AutoInt volume rendering: integral path vs quadrature of the grad networks, sections,
training, view consistency."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quadfree.data.blender import load_blender
from quadfree.data.scenes import make_scene
from quadfree.errors import QuadfreeError
from quadfree.radiance.autoint import Config, build
from quadfree.radiance.base import RayBundle
from quadfree.radiance.consistency import measure_view_consistency, view_consistency_stats
from quadfree.radiance.registry import build_method
from quadfree.radiance.sections import SamplingNetwork, uniform_boundaries
from quadfree.train.config import TrainConfig
from quadfree.train.trainer import Trainer


def _random_rays(n: int, seed: int, dtype=torch.float32) -> RayBundle:
    g = torch.Generator().manual_seed(seed)
    origins = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=-1) * 4.0
    target = 0.5 * torch.randn(n, 3, generator=g)
    dirs = torch.nn.functional.normalize(target - origins, dim=-1)
    near = 2.0 + 0.3 * torch.rand(n, generator=g)
    far = 5.5 + 0.5 * torch.rand(n, generator=g)
    return RayBundle(origins.to(dtype), dirs.to(dtype), near.to(dtype), far.to(dtype))


def _perturbed_model(seed: int, **kw) -> torch.nn.Module:
    """A small model whose sampling network predicts non-uniform sections."""
    torch.manual_seed(seed)
    model = build(Config(hidden=32, depth=2, **kw))
    if model.sampler is not None:
        with torch.no_grad():
            model.sampler.mlp.head.weight.normal_(0.0, 1.0)
    return model


def _gauss_legendre_means(model, rays: RayBundle, bounds: torch.Tensor, pieces: int,
                          nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Section means of the grad networks by composite Gauss–Legendre quadrature."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    x, w = torch.tensor(x, dtype=bounds.dtype), torch.tensor(w, dtype=bounds.dtype)
    r, n = bounds.shape[0], bounds.shape[1] - 1
    edges = bounds[:, :-1, None] + (bounds[:, 1:] - bounds[:, :-1])[..., None] * \
        torch.linspace(0, 1, pieces + 1, dtype=bounds.dtype)                 # (R, N, P+1)
    lo, hi = edges[..., :-1], edges[..., 1:]                                   # (R, N, P)
    t = 0.5 * (lo + hi)[..., None] + 0.5 * (hi - lo)[..., None] * x           # (R, N, P, G)
    sigma, color = model.grad_fields(rays, t.reshape(r, -1))
    half = 0.5 * (hi - lo)[..., None]                                          # (R, N, P, 1)
    sig = (sigma.reshape(r, n, pieces, nodes) * w * half).sum((-1, -2))
    col = (color.reshape(r, n, pieces, nodes, 3) * (w * half)[..., None]).sum((-2, -3))
    length = bounds[:, 1:] - bounds[:, :-1]
    return sig / length, col / length[..., None]


@pytest.mark.parametrize("sampler", ["learned", "uniform"])
@pytest.mark.parametrize("normalized, pos_freqs", [(True, 10), (False, 8)])
def test_integral_section_means_equal_dense_quadrature(sampler, normalized, pos_freqs):
    # float64 so that the comparison measures the quadrature, not float32 cancellation in
    # Φ(b) − Φ(a). The encoding reaches frequency 2^9 (published, normalised) or 2^7 (the
    # CPU default, plain) and the swish layers mix it higher: 128 pieces × 8 Gauss nodes per
    # section converge (measured error 5e-11 and 1e-13 at 128 pieces, 4e-7 and 5e-9 at 64);
    # the tolerance 1e-8 leaves 200× margin.
    model = _perturbed_model(0, sections=8, sampler=sampler, shared=False,
                             pos_freqs=pos_freqs, normalized_encoding=normalized).double()
    rays = _random_rays(6, seed=1, dtype=torch.float64)
    with torch.no_grad():
        bounds = model.boundaries(rays)
        sig_int, col_int = model.section_means_integral(rays, bounds)
        sig_q, col_q = _gauss_legendre_means(model, rays, bounds, pieces=128, nodes=8)
    assert sig_int.shape == (6, 8) and col_int.shape == (6, 8, 3)
    assert sig_q.abs().max() > 1e-3          # the densities are not trivially zero
    torch.testing.assert_close(sig_int, sig_q, rtol=0, atol=1e-8)
    torch.testing.assert_close(col_int, col_q, rtol=0, atol=1e-8)


def test_shared_network_integral_means_equal_quadrature():
    model = _perturbed_model(3, sections=4, shared=True, pos_freqs=4).double()
    rays = _random_rays(4, seed=2, dtype=torch.float64)
    with torch.no_grad():
        bounds = model.boundaries(rays)
        sig_int, col_int = model.section_means_integral(rays, bounds)
        sig_q, col_q = _gauss_legendre_means(model, rays, bounds, pieces=8, nodes=8)
    torch.testing.assert_close(sig_int, sig_q, rtol=0, atol=1e-9)
    torch.testing.assert_close(col_int, col_q, rtol=0, atol=1e-9)


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("normalized", [False, True])
def test_fast_ray_paths_equal_the_generic_mlp_passes(shared, normalized):
    model = _perturbed_model(8, sections=4, shared=shared,
                             normalized_encoding=normalized).double()
    rays = _random_rays(5, seed=9, dtype=torch.float64)
    t = rays.near[:, None] + torch.rand(5, 7, dtype=torch.float64) * 3.0
    x = rays.origins[:, None] + t[..., None] * rays.directions[:, None]
    d = rays.directions[:, None].expand_as(x)
    z, v = torch.cat([x, d], -1), torch.cat([d, torch.zeros_like(d)], -1)
    nets = [model.field_net] if shared else [model.sigma_net, model.color_net]
    phi = torch.cat([n(z) for n in nets], -1)
    dphi = torch.cat([n.forward_with_tangent(z, v)[1] for n in nets], -1)
    with torch.no_grad():
        s_int, c_int = model.integral_fields(rays, t)
        s_grad, c_grad = model.grad_fields(rays, t)
    scale = model.config.sigma_scale
    torch.testing.assert_close(s_int, scale * phi[..., 0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(c_int, phi[..., 1:], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(s_grad, scale * dphi[..., 0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(c_grad, dphi[..., 1:], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sections", [8, 16, 32])
def test_section_boundaries_monotone_and_span_near_far(sections):
    torch.manual_seed(sections)
    net = SamplingNetwork(sections)
    with torch.no_grad():
        net.mlp.head.weight.normal_(0.0, 3.0)       # far from uniform
        net.mlp.head.bias.normal_(0.0, 3.0)
    rays = _random_rays(64, seed=sections)
    b = net(rays.origins, rays.directions, rays.near, rays.far)
    assert b.shape == (64, sections + 1)
    assert torch.equal(b[:, 0], rays.near) and torch.equal(b[:, -1], rays.far)
    steps = b[:, 1:] - b[:, :-1]
    # each section at least min_fraction/N of the interval (minus float32 round-off)
    floor = (net.min_fraction / sections) * (rays.far - rays.near)
    assert bool((steps >= floor[:, None] * (1 - 1e-4)).all())
    assert float(steps.detach().std(-1).mean()) > 1e-2      # really non-uniform
    u = uniform_boundaries(rays.near, rays.far, sections)
    assert torch.equal(u[:, 0], rays.near) and bool((u[:, 1:] > u[:, :-1]).all())


@pytest.mark.parametrize("train_path", ["integral", "grad"])
def test_boundaries_receive_gradients_from_rendering_loss(train_path):
    model = _perturbed_model(4, sections=8, train_path=train_path)
    rays = _random_rays(32, seed=5)
    out = model.render_rays(rays, training=True)
    model.loss(out, torch.full((32, 3), 0.3)).backward()
    assert model.sampler.mlp.head.weight.grad.abs().sum() > 0


def test_integral_training_path_optimises_what_inference_renders():
    rays = _random_rays(16, seed=11)
    model = _perturbed_model(5, sections=8, train_path="integral")
    train = model.render_rays(rays, training=True)["rgb"]
    infer = model.render_rays(rays, training=False)["rgb"]
    assert torch.equal(train, infer)
    assert train.requires_grad
    # the published grad path estimates the same section means from K jittered samples:
    # different at K = 2, and its error shrinks as K grows
    model.config.train_path = "grad"
    errs = []
    for k in (2, 256):
        model.config.samples_per_section = k
        torch.manual_seed(0)
        with torch.no_grad():
            out = model.render_rays(rays, training=True)["rgb"]
        errs.append(float((out - infer.detach()).abs().max()))
    assert errs[0] > 1e-4 and errs[1] < errs[0] / 4, errs


def test_evals_per_ray_counts_network_queries():
    assert build(Config(sections=8, shared=False)).evals_per_ray() == 2 * 9 + 1
    assert build(Config(sections=32, sampler="uniform", shared=False)).evals_per_ray() == 2 * 33
    assert build(Config(sections=16, shared=True)).evals_per_ray() == 17 + 1


def test_bad_config_is_a_user_error():
    with pytest.raises(QuadfreeError, match="sampler"):
        build(Config(sampler="random"))
    with pytest.raises(QuadfreeError, match="sections"):
        build(Config(sections=0))
    with pytest.raises(QuadfreeError, match="train_path"):
        build(Config(train_path="both"))


# --------------------------------------------------------------------------- trained model
@pytest.fixture(scope="module")
def tiny_scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("scene") / "objects"
    make_scene("objects", out, res=16, sizes={"train": 6, "val": 1, "test": 3},
               progress=False)
    return out


@pytest.fixture(scope="module")
def trained(tiny_scene, tmp_path_factory):
    """A small AutoInt model trained 120 steps with the shared trainer; returns
    (model, train split, loss before, loss after) with losses on the integral path."""
    data = load_blender(tiny_scene, "train")
    torch.manual_seed(0)
    model, cfg = build_method("autoint", {"sections": 8, "samples_per_section": 2,
                                          "hidden": 48, "depth": 3})
    rays, target = data.all_rays()

    def full_loss() -> float:
        with torch.no_grad():
            return float(((model.render_rays(rays, training=False)["rgb"] - target) ** 2).mean())

    before = full_loss()
    trainer = Trainer(model, "autoint", cfg, data, None,
                      TrainConfig(iters=120, batch_rays=256, lr=3e-3, lr_final=1e-3,
                                  val_every=0, ckpt_every=0),
                      tmp_path_factory.mktemp("run"), {}, progress=False)
    trainer.fit()
    return model, data, before, full_loss()


def test_short_training_lowers_the_loss(trained):
    _, _, before, after = trained
    assert after < 0.7 * before, (before, after)


def test_grad_mode_images_converge_to_integral_mode(trained):
    model, data, _, _ = trained
    rays = data.rays(0)[::4]
    with torch.no_grad():
        ref = model.render_rays(rays, training=False)["rgb"]
        errs = [float((model.render_grad(rays, k)["rgb"] - ref).abs().max())
                for k in (4, 64, 512)]
    # The encoding reaches frequency 2^7 (several periods per section), so the midpoint rule
    # only converges once K resolves it; at K = 512 the images agree to below 2e-3
    # (half an 8-bit level).
    assert errs[2] < errs[1] < errs[0], errs
    assert errs[2] < 2e-3, errs


def test_view_consistency_is_exact_for_nerf_and_measured_for_autoint(trained, tiny_scene):
    model, _, _, _ = trained
    test = load_blender(tiny_scene, "test")
    torch.manual_seed(0)
    nerf, _ = build_method("nerf", {"width": 16, "depth": 2, "skips": "",
                                    "density_bias": 2.0})
    s_nerf = measure_view_consistency(nerf, test, points=64, views=3, min_density=0.1)
    s_ai = measure_view_consistency(model, test, points=64, views=3, min_density=0.0)
    assert s_nerf["points"] > 0 and s_nerf["cv_median"] < 1e-6
    assert s_ai["views"] == 3 and s_ai["cv_median"] > 1e-3


def test_view_consistency_stats_flags_direction_dependent_density():
    def one_sided(p, d):       # dense only when looking along +z
        return torch.where(d[:, 2] > 0, 10.0, 0.0)
    pts = torch.zeros(2, 3)
    centres = torch.tensor([[[0.0, 0, -4], [0, 0, 4]], [[0, 0, -4], [0, 0, 4]]])
    s = view_consistency_stats(one_sided, pts, centres)
    assert s["cv_median"] == pytest.approx(1.0) and s["disagree_fraction"] == 1.0


def test_consistency_penalty_enters_the_loss():
    model = _perturbed_model(6, sections=4, consistency_weight=1.0, consistency_points=64)
    rays = _random_rays(16, seed=7)
    out = model.render_rays(rays, training=True)
    assert "consistency" in out and float(out["consistency"].detach()) >= 0.0
    target = torch.full((16, 3), 0.5)
    out = {k: v.detach() for k, v in out.items()}
    plain = torch.nn.functional.mse_loss(out["rgb"], target)
    assert float(model.loss(out, target)) == pytest.approx(float(plain + out["consistency"]))


@pytest.mark.parametrize("train_path", ["integral", "grad"])
def test_consistency_penalty_alone_trains_the_integral_network(train_path):
    model = _perturbed_model(6, sections=4, consistency_weight=1.0, consistency_points=64,
                             train_path=train_path)
    out = model.render_rays(_random_rays(16, seed=7), training=True)
    out["consistency"].backward()
    grads = [p.grad for p in model.field_net.parameters()]
    assert float(out["consistency"].detach()) > 0.0
    assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0.0


def test_published_grad_path_training_lowers_the_loss(tiny_scene, tmp_path):
    data = load_blender(tiny_scene, "train")
    torch.manual_seed(0)
    model, cfg = build_method("autoint", {"sections": 8, "hidden": 32, "depth": 2,
                                          "train_path": "grad", "normalized_encoding": "true"})
    rays, target = data.all_rays()

    def full_loss() -> float:
        with torch.no_grad():
            return float(((model.render_rays(rays, training=False)["rgb"] - target) ** 2).mean())

    before = full_loss()
    Trainer(model, "autoint", cfg, data, None,
            TrainConfig(iters=60, batch_rays=256, lr=3e-3, lr_final=1e-3, val_every=0,
                        ckpt_every=0), tmp_path, {}, progress=False).fit()
    assert full_loss() < 0.7 * before
