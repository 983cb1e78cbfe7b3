"""NeRF baseline: shapes, evaluation counts, deterministic inference, chunked rendering."""

import pytest
import torch

from quadfree.errors import QuadfreeError
from quadfree.radiance.nerf import Config, paper_config
from quadfree.radiance.registry import build_method
from quadfree.render.image import render_image, render_rays_chunked
from quadfree.render.rays import Camera, look_at

SMALL = {"width": 16, "depth": 2, "skips": "1", "n_coarse": 8, "n_fine": 8}


def _rays(n=12):
    cam = Camera(3, 4, 4.0, look_at(torch.tensor([0.0, -4.0, 1.0])))
    return cam.rays(2.0, 6.0)[:n]


def test_paper_and_default_configs():
    p = paper_config()
    assert (p.pos_freqs, p.dir_freqs, p.width, p.depth, p.skips) == (10, 4, 256, 8, (4,))
    m, _ = build_method("nerf", {k: getattr(p, k) for k in ("width", "depth", "skips",
                                                              "n_coarse", "n_fine")})
    assert m.evals_per_ray() == 64 + 64 + 128       # coarse pass + fine pass at all samples
    d = Config()
    assert d.n_coarse + d.n_fine == 64 and d.width == 64


def test_render_rays_outputs_and_gradients():
    torch.manual_seed(0)
    m, _ = build_method("nerf", SMALL)
    out = m.render_rays(_rays(), training=True)
    assert out["rgb"].shape == (12, 3) and out["depth"].shape == (12,)
    assert out["acc"].shape == (12,) and out["rgb_coarse"].shape == (12, 3)
    assert bool(((out["acc"] >= 0) & (out["acc"] <= 1)).all())
    assert bool(((out["depth"] >= 0) & (out["depth"] <= 6)).all())
    loss = m.loss(out, torch.zeros(12, 3))
    loss.backward()
    assert m.coarse.trunk.layers[0].weight.grad.abs().sum() > 0
    assert m.fine.trunk.layers[0].weight.grad.abs().sum() > 0


def test_inference_deterministic_training_stochastic():
    m, _ = build_method("nerf", SMALL)
    rays = _rays()
    with torch.no_grad():
        a = m.render_rays(rays, training=False)["rgb"]
        b = m.render_rays(rays, training=False)["rgb"]
        c = m.render_rays(rays, training=True)["rgb"]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_chunked_rendering_matches_one_pass():
    m, _ = build_method("nerf", {**SMALL, "n_fine": 0, "separate_fine": "false"})
    cam = Camera(5, 6, 6.0, look_at(torch.tensor([0.0, -4.0, 1.0])))
    whole = render_image(m, cam, chunk=4096)
    chunked = render_rays_chunked(m, cam.rays(), chunk=7)
    torch.testing.assert_close(whole["rgb"].reshape(-1, 3), chunked["rgb"])
    assert whole["rgb"].shape == (5, 6, 3) and whole["seconds"] > 0


def test_shared_fine_network_and_bad_configs():
    m, _ = build_method("nerf", {**SMALL, "separate_fine": "false"})
    assert m.fine is None and m.evals_per_ray() == 8 + 16
    with pytest.raises(QuadfreeError, match="skips"):
        build_method("nerf", {"depth": 2, "skips": "2"})
    with pytest.raises(QuadfreeError, match="n_coarse"):
        build_method("nerf", {"n_coarse": 0})
    with pytest.raises(QuadfreeError, match="density_activation"):
        build_method("nerf", {"density_activation": "tanh"})
