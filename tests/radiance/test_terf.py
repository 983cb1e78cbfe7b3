"""TeRF as a radiance method: registry, both render paths, gradients, view consistency,
training with the shared trainer (checkpoint + reload), work counts."""

from __future__ import annotations

import pytest
import torch

from quadfree.data.blender import load_blender
from quadfree.data.scenes import make_scene
from quadfree.errors import QuadfreeError
from quadfree.radiance.base import RayBundle
from quadfree.radiance.consistency import (
    density_function,
    measure_view_consistency,
    view_consistency_stats,
)
from quadfree.radiance.registry import build_method
from quadfree.train.checkpoint import load_run
from quadfree.train.config import TrainConfig
from quadfree.train.trainer import Trainer

SMALL = {"levels": 2, "grid": 10, "order": 4}


def _rays(n: int, seed: int = 0) -> RayBundle:
    g = torch.Generator().manual_seed(seed)
    o = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=-1) * 4.0
    d = torch.nn.functional.normalize((torch.rand(n, 3, generator=g) - 0.5) - o, dim=-1)
    return RayBundle(o, d, torch.full((n,), 2.0), torch.full((n,), 6.0))


def _model(**kw):
    torch.manual_seed(0)
    m, cfg = build_method("terf", {**SMALL, **kw})
    with torch.no_grad():                       # a non-trivial field
        m.w_density.copy_(torch.rand(m.w_density.shape) * 0.006)
        m.w_color.copy_(torch.randn(m.w_color.shape) * 0.3)
    return m, cfg


@pytest.mark.parametrize("nonneg", ["relu", "softplus", "weights"])
def test_training_path_renders_what_inference_renders(nonneg):
    m, _ = _model(nonneg=nonneg)
    rays = _rays(64)
    train = m.render_rays(rays, training=True)
    with torch.no_grad():
        infer = m.render_rays(rays, training=False)
    assert 0.05 < float(infer["acc"].mean()) < 0.99
    for key in ("rgb", "acc", "depth"):
        assert torch.allclose(train[key].detach(), infer[key], atol=1e-5), key
    m.loss(train, torch.rand(64, 3)).backward()
    for p in (m.w_density, m.w_color, m.offsets):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_view_consistency_exactly_zero_by_construction():
    m, _ = _model()
    g = torch.Generator().manual_seed(1)
    pts = (torch.rand(200, 3, generator=g) - 0.5) * 1.5
    centres = torch.nn.functional.normalize(torch.randn(200, 6, 3, generator=g), dim=-1) * 4
    stats = view_consistency_stats(density_function(m), pts, centres, min_density=0.01)
    assert stats["points"] > 50
    assert stats["cv_median"] == 0.0 and stats["cv_mean"] == 0.0
    assert stats["disagree_fraction"] == 0.0


def test_density_outside_the_volume_is_zero_and_inside_matches_rendering():
    m, _ = _model(nonneg="softplus")
    d = torch.tensor([[0.0, 0.0, 1.0]])
    assert float(m.density_at(torch.tensor([[0.0, 0.0, 1.6]]), d)) == 0.0
    assert float(m.density_at(torch.zeros(1, 3), d)) > 0.0


def test_work_counts_and_no_network_evaluations():
    m, _ = _model()
    with torch.no_grad():
        m.render_rays(_rays(32), training=False)
    w = m.work()
    assert m.evals_per_ray() == 0 and w["network_evals_per_ray"] == 0
    assert w["expansions_per_step"] == 2 and w["sources"] == 1000
    assert 0 < w["coloured_cells_per_ray"] <= w["density_cells_per_ray"] <= w["cells_per_ray"]
    assert w["cells_per_ray"] <= 3 * 8
    assert w["cell_polynomials_per_ray"] == pytest.approx(
        w["density_cells_per_ray"] + 3 * w["coloured_cells_per_ray"], abs=0.02)


def test_view_dependence_off_is_todays_model_and_starts_lambertian():
    plain, _ = _model()
    assert plain.view_net is None and plain.color_bias(torch.ones(2, 3)) is None
    assert not any(k.startswith("view_net") for k in plain.state_dict())
    view, _ = _model(view_dependent=True)
    view.load_state_dict(plain.state_dict(), strict=False)     # same field, untrained β(d)
    rays = _rays(48)
    with torch.no_grad():
        a, b = plain.render_rays(rays, training=False), view.render_rays(rays, training=False)
    for key in ("rgb", "acc", "depth"):
        assert torch.equal(a[key], b[key]), key
    assert view.evals_per_ray() == 1 and view.work()["network_evals_per_ray"] == 1


def test_view_network_gradient_matches_finite_differences():
    """∂loss/∂(direction network) through the expansion backward (float64, tiny model) vs
    central differences of the rendered loss, relative error < 1e-5."""
    torch.manual_seed(0)
    m, _ = build_method("terf", {"levels": 1, "grid": 5, "order": 3, "view_dependent": True,
                                 "view_width": 4})
    m = m.double()
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        m.w_density.copy_(torch.rand(m.w_density.shape, generator=g, dtype=torch.float64) * .01)
        m.w_color.copy_(torch.randn(m.w_color.shape, generator=g, dtype=torch.float64) * 0.3)
        for prm in m.view_net.parameters():
            prm.copy_(torch.randn(prm.shape, generator=g, dtype=torch.float64))
    r = _rays(12, seed=4)
    rays = RayBundle(*(t.double() for t in (r.origins, r.directions, r.near, r.far)))
    target = torch.rand(12, 3, generator=g, dtype=torch.float64)

    def loss(training: bool) -> torch.Tensor:
        out = m.render_rays(rays, training=training)
        return ((out["rgb"] - target) ** 2).sum()

    params = list(m.view_net.parameters())
    grads = torch.autograd.grad(loss(True), params)
    assert sum(float(gr.abs().sum()) for gr in grads) > 1e-3
    eps = 1e-6
    for prm, gr in zip(params, grads):
        flat, fd = prm.data.view(-1), torch.zeros(prm.numel(), dtype=torch.float64)
        for i in range(prm.numel()):
            keep = float(flat[i])
            with torch.no_grad():
                flat[i] = keep + eps
                up = float(loss(False))
                flat[i] = keep - eps
                down = float(loss(False))
                flat[i] = keep
            fd[i] = (up - down) / (2 * eps)
        assert float((gr.reshape(-1) - fd).norm()) <= 1e-5 * max(float(fd.norm()), 1e-8)


def test_view_sh_starts_lambertian_and_learns_direction_dependent_colour_weights():
    """view_sh: untrained (ΔW = 0) it renders exactly the Lambertian model; both render paths
    agree with trained ΔW; ΔW gets a gradient; the colour now depends on the direction while
    density (acc) does not; 3(K+1) colour channels are counted per coloured cell."""
    from quadfree.radiance.terf import sh_basis

    plain, _ = _model()
    view, _ = _model(view_sh=2)
    assert plain.w_view is None and view.w_view.shape == (1, 24, 1000)
    view.load_state_dict(plain.state_dict(), strict=False)
    rays = _rays(48)
    with torch.no_grad():
        a, b = plain.render_rays(rays, training=False), view.render_rays(rays, training=False)
    for key in ("rgb", "acc", "depth"):
        assert torch.allclose(a[key], b[key], atol=1e-6), key
    out = view.render_rays(rays, training=True)
    view.loss(out, torch.rand(48, 3)).backward()
    assert view.w_view.grad is not None and view.w_view.grad.abs().sum() > 0
    with torch.no_grad():
        view.w_view.copy_(torch.randn(view.w_view.shape) * 0.3)
        infer = view.render_rays(rays, training=False)
    train = view.render_rays(rays, training=True)
    for key in ("rgb", "acc", "depth"):
        assert torch.allclose(train[key].detach(), infer[key], atol=1e-5), key
    assert (infer["rgb"] - b["rgb"]).abs().max() > 1e-2
    assert torch.equal(infer["acc"], b["acc"])
    w = view.work()
    assert w["expansion_channels"] == 28 and w["network_evals_per_ray"] == 0
    assert w["cell_polynomials_per_ray"] == pytest.approx(
        w["density_cells_per_ray"] + 27 * w["coloured_cells_per_ray"], abs=0.5)
    d = torch.nn.functional.normalize(torch.randn(5, 3), dim=-1)
    assert torch.allclose(sh_basis(d, 1), sh_basis(d, 2)[:, :3])
    assert torch.allclose(sh_basis(-d, 1), -sh_basis(d, 1))      # odd degree 1 …
    assert torch.allclose(sh_basis(-d, 2)[:, 3:], sh_basis(d, 2)[:, 3:])   # … even degree 2


def test_bad_config_is_a_user_error():
    with pytest.raises(QuadfreeError, match="nonneg"):
        build_method("terf", {"nonneg": "abs"})
    with pytest.raises(QuadfreeError, match="grid"):
        build_method("terf", {"grid": 1})
    with pytest.raises(QuadfreeError, match="view_sh"):
        build_method("terf", {"view_sh": 3})


@pytest.fixture(scope="module")
def tiny_scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("scene") / "objects"
    make_scene("objects", out, res=16, sizes={"train": 6, "val": 1, "test": 3},
               progress=False)
    return out


def test_shared_trainer_lowers_the_loss_and_checkpoints_reload(tiny_scene, tmp_path):
    data = load_blender(tiny_scene, "train")
    torch.manual_seed(0)
    model, cfg = build_method("terf", SMALL)
    rays, target = data.all_rays()

    def full_loss(m) -> float:
        with torch.no_grad():
            return float(((m.render_rays(rays, training=False)["rgb"] - target) ** 2).mean())

    before = full_loss(model)
    Trainer(model, "terf", cfg, data, None,
            TrainConfig(iters=40, batch_rays=256, lr=1e-2, lr_final=5e-3, val_every=0,
                        ckpt_every=0), tmp_path, {}, progress=False).fit()
    after = full_loss(model)
    assert after < 0.7 * before, (before, after)
    reloaded, state = load_run(tmp_path, "cpu")
    assert state["method"] == "terf" and state["step"] == 40
    assert full_loss(reloaded) == pytest.approx(after, rel=1e-6)
    test = load_blender(tiny_scene, "test")
    stats = measure_view_consistency(reloaded, test, points=32, views=3, min_density=0.0)
    assert stats["cv_median"] == 0.0
