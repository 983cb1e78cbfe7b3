"""quadfree.surface.shading: inverse rendering from shading (paper §5.3.4)."""

import json
import math

import pytest
import torch

from quadfree.cli.main import main
from quadfree.errors import QuadfreeError
from quadfree.render.rays import camera_rays, look_at
from quadfree.surface.data import DepthViews, Frame
from quadfree.surface.fit import FitConfig, Fitter, RaySet
from quadfree.surface.models import TaylorDepth
from quadfree.surface.shading import angle_deg, gt_shading, lambert, shading_loss, shading_rays

LIGHT = torch.tensor([0.3, -0.5, 0.8])


def sphere_views(n_views=4, res=12, radius=1.0, dist=3.0):
    """Views of a sphere of ``radius`` at the origin with exact depth (0 = background)."""
    origins, dirs, depths = [], [], []
    for k in range(n_views):
        a = 2 * math.pi * k / n_views
        c2w = look_at(torch.tensor([dist * math.cos(a), dist * math.sin(a), 0.7]))
        rays = camera_rays(res, res, res * 1.2, c2w.float())
        o, d = rays.origins.double(), rays.directions.double()
        b = (o * d).sum(-1)
        disc = b * b - (o * o).sum(-1) + radius**2
        t = torch.where(disc > 0, -b - disc.clamp(min=0).sqrt(), torch.zeros_like(b))
        origins.append(o.float().reshape(res, res, 3))
        dirs.append(d.float().reshape(res, res, 3))
        depths.append(t.float().reshape(res, res))
    return DepthViews(torch.stack(origins), torch.stack(dirs), torch.stack(depths), "sphere")


@pytest.fixture(scope="module")
def sphere_shading():
    v = sphere_views(4, 12, radius=0.8)
    frame = Frame((0.0, 0.0, 0.0), 1.0)
    return v, frame, shading_rays(v, frame, LIGHT)


def test_gt_shading_of_a_sphere_is_lambert_of_its_exact_normals():
    v = sphere_views(2, 16)
    s = gt_shading(v, LIGHT)
    pts = v.origins + v.depth[..., None] * v.directions
    exact = lambert(torch.nn.functional.normalize(pts, dim=-1), LIGHT / LIGHT.norm())
    ok = torch.isfinite(s)
    assert ok.sum() > 50 and torch.isnan(s[v.depth == 0]).all()
    assert float((s - exact)[ok].abs().max()) < 0.05


def test_light_gradient_matches_finite_differences(sphere_shading):
    torch.manual_seed(0)
    _, _, rays = sphere_shading
    rays = rays[torch.arange(0, len(rays), 3)]
    m = TaylorDepth(level=2, order=4, radius=0.6, light=True).double()
    with torch.no_grad():
        m.light_raw.copy_(torch.tensor([0.5, 0.2, 0.9], dtype=torch.float64))
    cfg = FitConfig(l1=0.0)
    loss, _ = shading_loss(m, rays, cfg)
    loss.backward()
    g = m.light_raw.grad.clone()
    assert float(g.abs().max()) > 1e-3
    eps = 1e-6
    for i in range(3):
        with torch.no_grad():
            m.light_raw[i] += eps
            up = shading_loss(m, rays, cfg)[0]
            m.light_raw[i] -= 2 * eps
            dn = shading_loss(m, rays, cfg)[0]
            m.light_raw[i] += eps
        assert float(g[i]) == pytest.approx(float((up - dn) / (2 * eps)), rel=1e-5, abs=1e-9)


def test_shading_loss_needs_targets_and_a_light(sphere_shading):
    v, frame, rays = sphere_shading
    with pytest.raises(QuadfreeError, match="shading_rays"):
        shading_loss(TaylorDepth(level=1, order=2, light=True), RaySet.from_views(v, frame),
                     FitConfig())
    with pytest.raises(QuadfreeError, match="light"):
        shading_loss(TaylorDepth(level=1, order=2), rays, FitConfig())


def test_shading_gradient_reaches_the_surface_weights(sphere_shading):
    _, _, rays = sphere_shading
    m = TaylorDepth(level=2, order=4, radius=0.6, light=True)
    shading_loss(m, rays, FitConfig(l1=0.0, miss_weight=0.0))[0].backward()
    assert float(m.w.grad.abs().max()) > 0 and float(m.p.grad.abs().max()) > 0


def test_fit_lowers_the_shading_loss_and_turns_the_light(sphere_shading):
    torch.manual_seed(0)
    _, frame, rays = sphere_shading
    m = TaylorDepth(level=2, order=4, radius=0.6, light=True)
    before_light = angle_deg(m.light_direction().detach(), LIGHT)
    fitter = Fitter(m, FitConfig(steps=20, batch=256, lr=0.05), frame)
    fitter.run(rays, quiet=True, loss_fn=shading_loss)
    first = sum(h["mae"] for h in fitter.history[:3]) / 3
    last = sum(h["mae"] for h in fitter.history[-3:]) / 3
    assert last < 0.7 * first
    assert angle_deg(m.light_direction().detach(), LIGHT) < before_light


@pytest.fixture(scope="module")
def tiny_objects(tmp_path_factory):
    from quadfree.data.scenes import make_scene
    root = tmp_path_factory.mktemp("objects") / "objects"
    make_scene("objects", root, res=12, sizes={"train": 4, "val": 1, "test": 1},
               progress=False)
    return root


def test_cli_shading_writes_outputs_resumes_and_errors(tmp_path, tiny_objects, capsys):
    out = tmp_path / "inv"
    args = ["surface", "--data", str(tiny_objects), "--out", str(out), "--level", "2",
            "--batch", "256", "--resolution", "0", "--quiet", "--test-views", "1", "--shading"]
    assert main([*args, "--steps", "2"]) == 0
    for name in ("checkpoint.pt", "figure.png", "metrics.json"):
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert m["steps"] == 2 and 0 <= m["light_error_deg"] <= 180
    assert math.isfinite(m["shading_mae"]) and "normal_error_deg" in m
    assert main([*args, "--steps", "3", "--resume"]) == 0
    assert json.loads((out / "metrics.json").read_text())["steps"] == 3
    capsys.readouterr()
    base = ["surface", "--data", str(tiny_objects), "--quiet"]
    for extra, flag in ((["--model", "mlp", "--shading"], "--shading"),
                        (["--shading", "--light", "0", "0", "0"], "--light"),
                        (["--shading", "--rgb"], "--rgb")):
        code = main([*base, "--out", str(tmp_path / "x"), *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and flag in err[0], (extra, err)
    code = main([*base, "--out", str(out), "--resume", "--level", "2"])     # depth mode
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "same mode" in err[0]
    code = main(["surface", "--depth-image", "d.npy", "--fx", "1", "--fy", "1", "--cx", "1",
                 "--cy", "1", "--out", str(tmp_path / "y"), "--shading", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--shading" in err[0]
