"""quadfree.surface: data, models (roots and IFT gradients vs dense references), fitting,
checkpoints, CLI and bench."""

import json
import math

import numpy as np
import pytest
import torch

from quadfree.cli.main import main
from quadfree.errors import QuadfreeError
from quadfree.render.rays import camera_rays, look_at
from quadfree.surface import data as sdata
from quadfree.surface.data import DepthViews, Frame, fit_frame
from quadfree.surface.evaluate import depth_normals, render_views, score
from quadfree.surface.export import field_grid, surface_mesh
from quadfree.surface.fit import FitConfig, Fitter, RaySet, load_state
from quadfree.surface.models import MLPDepth, TaylorDepth, carve_votes, domain_interval


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


def _dense_first_root(fn, o, r, lo, hi, samples=2000, iters=60):
    """First sign change of fn along each ray (float64 bisection on a dense sampling)."""
    out = []
    for i in range(o.shape[0]):
        ts = torch.linspace(float(lo[i]), float(hi[i]), samples, dtype=torch.float64)
        f = fn(o[i] + ts[:, None] * r[i])
        s = f > 0
        ch = torch.nonzero(s[1:] != s[:-1])
        if len(ch) == 0:
            out.append(math.nan)
            continue
        a, b = float(ts[ch[0, 0]]), float(ts[ch[0, 0] + 1])
        sa = bool(s[ch[0, 0]])
        for _ in range(iters):
            m = 0.5 * (a + b)
            if bool(fn((o[i] + m * r[i])[None])[0] > 0) == sa:
                a = m
            else:
                b = m
        out.append(0.5 * (a + b))
    return torch.tensor(out, dtype=torch.float64)


def _exact_taylor_field(m):
    p, w = m.p.detach()[0], (m.w.detach() * m.gain)[0, 0]

    def fn(x):
        d2 = ((x[:, None, :] - p[None]) ** 2).sum(-1)
        return torch.exp(-m.alpha * d2) @ w - m.bias
    return fn


def _rays(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    o = torch.tensor([0.0, 0.0, -3.0], dtype=torch.float64).expand(n, 3).clone()
    r = torch.nn.functional.normalize(torch.randn(n, 3, generator=g, dtype=torch.float64) * 0.06
                                      + torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64), dim=-1)
    return o, r


# --- data -----------------------------------------------------------------------------------

def test_depth_image_z_to_ray_distance_and_frame():
    z = np.full((4, 6), 2.0)
    v = sdata.depth_image_views(z, 3.0, 2.0, 3.0, 2.0)
    pts = v.points()
    assert torch.allclose(pts[:, 2], torch.full_like(pts[:, 2], -2.0), atol=1e-5)  # plane z=−2
    f = fit_frame(v, margin=0.8)
    dom = f.points(pts)
    assert float(dom.norm(dim=-1).max()) <= 0.8 + 1e-5
    o, r = f.rays(v.origins.reshape(-1, 3), v.directions.reshape(-1, 3))
    back = f.to_world(o + v.depth.reshape(-1, 1) * r)                  # t stays world depth
    assert torch.allclose(back, pts, atol=1e-5)


def test_read_depth_png_scale_and_bad_inputs(tmp_path):
    import imageio.v3 as iio
    img = np.zeros((5, 7), np.uint16)
    img[1:4, 2:5] = 1500
    iio.imwrite(tmp_path / "d.png", img)
    d = sdata.read_depth_image(tmp_path / "d.png", 0.001)
    assert d.shape == (5, 7) and d.max() == pytest.approx(1.5) and (d == 0).sum() == 35 - 9
    with pytest.raises(QuadfreeError, match="not found"):
        sdata.read_depth_image(tmp_path / "none.npy")
    np.save(tmp_path / "z.npy", np.zeros((3, 3)))
    with pytest.raises(QuadfreeError, match="no pixel"):
        sdata.read_depth_image(tmp_path / "z.npy")
    np.save(tmp_path / "v.npy", np.ones(4))
    with pytest.raises(QuadfreeError, match="2-D"):
        sdata.read_depth_image(tmp_path / "v.npy")
    with pytest.raises(QuadfreeError, match="fx"):
        sdata.depth_image_views(np.ones((3, 3)), -1.0, 1.0, 1.0, 1.0)


def test_depth_normals_of_a_sphere():
    v = sphere_views(2, 16)
    n, ok = depth_normals(v)
    pts = v.origins + v.depth[..., None] * v.directions
    exact = torch.nn.functional.normalize(pts, dim=-1)
    cos = (n * exact).sum(-1)[ok]
    assert ok.sum() > 50 and float(cos.min()) > 0.97


# --- models ---------------------------------------------------------------------------------

def test_taylor_roots_match_the_exact_field_along_rays():
    torch.manual_seed(0)
    m = TaylorDepth(level=2, order=4, alpha_h2=0.5, radius=0.6).double()
    with torch.no_grad():
        m.w.mul_(1 + 0.3 * torch.rand_like(m.w))
    o, r = _rays(8)
    h = m.hits(o, r)
    lo, hi = domain_interval(o, r)
    ref = _dense_first_root(_exact_taylor_field(m), o, r, lo, hi)
    assert h.hit.all() and torch.isfinite(ref).all()
    assert torch.allclose(h.t, ref, atol=2e-3)          # expansion error at level 2, order 4


def test_taylor_depth_gradient_matches_finite_differences():
    torch.manual_seed(1)
    m = TaylorDepth(level=2, order=4, radius=0.6).double()
    o, r = _rays(5, seed=2)
    m.hits(o, r).t.sum().backward()
    g = m.w.grad[0, 0]
    idx = torch.topk(g.abs(), 3).indices
    eps = 1e-5
    for i in idx.tolist():
        with torch.no_grad():
            m.w[0, 0, i] += eps
            up = m.hits(o, r).t.sum()
            m.w[0, 0, i] -= 2 * eps
            dn = m.hits(o, r).t.sum()
            m.w[0, 0, i] += eps
        fd = (up - dn) / (2 * eps)
        assert float(g[i]) == pytest.approx(float(fd), rel=2e-3, abs=1e-8)


def test_mlp_roots_and_ift_gradient():
    torch.manual_seed(0)
    m = MLPDepth(depth=2, width=16, samples=128, bisections=40).double()
    with torch.no_grad():
        m.net[-1].weight.normal_(0, 0.05)
    o, r = _rays(6, seed=3)
    h = m.hits(o, r)
    lo, hi = domain_interval(o, r)
    ref = _dense_first_root(lambda x: m.value(x).detach(), o, r, lo, hi)
    assert h.hit.all()
    assert torch.allclose(h.t, ref, atol=1e-9)
    h.t.sum().backward()
    g = m.net[-1].bias.grad.clone()
    eps = 1e-6
    with torch.no_grad():
        m.net[-1].bias += eps
        up = m.hits(o, r).t.sum()
        m.net[-1].bias -= 2 * eps
        dn = m.hits(o, r).t.sum()
        m.net[-1].bias += eps
    assert float(g[0]) == pytest.approx(float((up - dn) / (2 * eps)), rel=1e-4)


def test_mlp_gradient_is_the_normal_direction():
    m = MLPDepth(depth=1, width=4).double()           # F = 0.85 − |x| at the start
    o, r = _rays(4)
    h = m.hits(o, r)
    q = o + h.t[:, None] * r
    n = -h.gradient / h.gradient.norm(dim=-1, keepdim=True)
    assert torch.allclose(n, q / q.norm(dim=-1, keepdim=True), atol=1e-8)
    assert torch.allclose(q.norm(dim=-1), torch.full((4,), 0.85, dtype=torch.float64))


def test_misses_have_no_root_and_no_gradient():
    m = TaylorDepth(level=2, order=4, radius=0.5)
    o = torch.tensor([[0.0, 0.0, -3.0], [0.0, 0.0, -3.0]])
    r = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])        # through the ball, away
    h = m.hits(o, r)
    assert h.hit.tolist() == [True, False] and float(h.t[1].detach()) == 0.0
    h.t.sum().backward()
    m2 = TaylorDepth(level=2, order=4, radius=0.5)
    m2.hits(o[1:], r[1:]).t.sum().backward()
    assert m2.w.grad is None or float(m2.w.grad.abs().max()) == 0.0


def test_carving_marks_the_inside():
    v = sphere_views(6, 16, radius=0.9)
    f = Frame((0.0, 0.0, 0.0), 1.0)
    rays = RaySet.from_views(v, f)
    occ = carve_votes(rays.o, rays.r, rays.depth, k=8).reshape(8, 8, 8)
    s = -1 + (torch.arange(8) + 0.5) * 0.25
    c = torch.stack(torch.meshgrid(s, s, s, indexing="ij"), -1).norm(dim=-1)
    assert float(occ[c < 0.5].min()) > 0.5         # deep inside: occupied
    assert float(occ[c > 1.2].max()) < 0.5         # outside: free


# --- fitting, checkpoints, mesh -------------------------------------------------------------

@pytest.fixture(scope="module")
def sphere_data():
    v = sphere_views(4, 12, radius=0.8)
    return v, Frame((0.0, 0.0, 0.0), 1.0)


@pytest.mark.parametrize("kind", ["taylor", "mlp"])
def test_fit_reduces_depth_error(sphere_data, kind):
    torch.manual_seed(0)
    v, frame = sphere_data
    rays = RaySet.from_views(v, frame)
    if kind == "taylor":
        m = TaylorDepth(level=2, order=4, radius=0.6)
        cfg = FitConfig(steps=15, batch=256, lr=0.05)
    else:
        m = MLPDepth(depth=2, width=16, radius=0.6, samples=32)
        cfg = FitConfig(steps=25, batch=256, lr=5e-3, l1=0.0)
    before = score(render_views(m, v, frame), v)["depth_mae"]
    Fitter(m, cfg, frame).run(rays, quiet=True)
    after = score(render_views(m, v, frame), v)["depth_mae"]
    assert after < 0.6 * before


def test_resume_continues_exactly(tmp_path, sphere_data):
    v, frame = sphere_data
    rays = RaySet.from_views(v, frame)
    cfg = FitConfig(steps=4, batch=128, lr=0.05, lr_final=1.0)     # constant rate
    straight = Fitter(TaylorDepth(level=2, order=4, radius=0.6), cfg, frame).run(rays, quiet=True)
    ck = tmp_path / "c.pt"
    half = Fitter(TaylorDepth(level=2, order=4, radius=0.6), FitConfig(steps=2, batch=128, lr=0.05,
                                                                       lr_final=1.0), frame)
    half.run(rays, checkpoint=ck, quiet=True)
    resumed = Fitter.resume(ck, cfg).run(rays, quiet=True)
    assert resumed.step == 4 and resumed.frame == frame
    assert torch.allclose(resumed.model.w, straight.model.w, atol=1e-6)


def test_bad_checkpoints_are_user_errors(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(QuadfreeError, match="unreadable"):
        load_state(bad)
    torch.save({"x": 1}, tmp_path / "other.pt")
    with pytest.raises(QuadfreeError, match="not a surface checkpoint"):
        load_state(tmp_path / "other.pt")


def test_mesh_of_the_initial_ball():
    m = MLPDepth(depth=1, width=4, radius=0.5)
    verts, faces = surface_mesh(field_grid(m.field, 24), Frame((1.0, 0.0, 0.0), 2.0))
    assert len(faces) > 100
    assert abs(np.linalg.norm(verts - [1.0, 0.0, 0.0], axis=1).mean() - 1.0) < 0.03
    with pytest.raises(QuadfreeError, match="no surface"):
        surface_mesh(np.ones((4, 4, 4)), Frame((0.0, 0.0, 0.0), 1.0))


def test_rgbd_colour_at_the_root_trains_colour_and_moves_the_surface(sphere_data):
    torch.manual_seed(0)
    v, frame = sphere_data
    target = torch.tensor([0.2, 0.6, 0.9])
    v = DepthViews(v.origins, v.directions, v.depth, "sphere", target.expand(*v.depth.shape, 3))
    m = TaylorDepth(level=2, order=4, radius=0.6, colour=True)
    o, r = frame.rays(v.origins.reshape(-1, 3), v.directions.reshape(-1, 3))
    with torch.no_grad():
        m.c.uniform_(0.0, 1.0)                     # a colour field that varies in space
    h = m.hits(o, r)
    q = o + h.t[:, None] * r
    m.colour_at(q)[h.hit].sum().backward()       # colour depends on w only through the root
    assert h.hit.sum() > 50
    assert float(m.w.grad.abs().max()) > 0 and float(m.c.grad.abs().max()) > 0
    with torch.no_grad():
        m.c.fill_(0.5)
    m.zero_grad()
    before = score(render_views(m, v, frame), v)["rgb_psnr_surface"]
    Fitter(m, FitConfig(steps=15, batch=256, lr=0.05), frame).run(RaySet.from_views(v, frame),
                                                                  quiet=True)
    after = score(render_views(m, v, frame), v)["rgb_psnr_surface"]
    assert after > before + 3.0


# --- CLI and bench --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_objects(tmp_path_factory):
    from quadfree.data.scenes import make_scene
    root = tmp_path_factory.mktemp("objects") / "objects"
    make_scene("objects", root, res=12, sizes={"train": 4, "val": 1, "test": 1},
               progress=False)
    return root


def test_cli_fits_writes_outputs_and_resumes(tmp_path, tiny_objects, capsys):
    out = tmp_path / "run"
    args = ["surface", "--data", str(tiny_objects), "--out", str(out), "--level", "2",
            "--batch", "256", "--resolution", "24", "--quiet", "--test-views", "1"]
    assert main([*args, "--steps", "2"]) == 0
    for name in ("checkpoint.pt", "figure.png", "mesh.ply", "metrics.json"):
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert m["steps"] == 2 and 0 <= m["coverage"] <= 1 and "depth_mae_pct" in m
    assert main([*args, "--steps", "3", "--resume"]) == 0
    assert json.loads((out / "metrics.json").read_text())["steps"] == 3
    rgbd = tmp_path / "rgbd"
    assert main(["surface", "--data", str(tiny_objects), "--out", str(rgbd), "--level", "2",
                 "--batch", "256", "--resolution", "0", "--quiet", "--test-views", "1",
                 "--steps", "2", "--rgb"]) == 0
    assert (rgbd / "rgb.png").is_file()
    assert "rgb_psnr_surface" in json.loads((rgbd / "metrics.json").read_text())
    capsys.readouterr()


def test_cli_depth_image_and_one_line_errors(tmp_path, capsys):
    z = np.full((10, 12), 2.0)
    z[3:7, 4:8] = 1.6
    np.save(tmp_path / "d.npy", z)
    out = tmp_path / "k"
    assert main(["surface", "--depth-image", str(tmp_path / "d.npy"), "--fx", "10", "--fy", "10",
                 "--cx", "6", "--cy", "5", "--out", str(out), "--level", "2", "--steps", "2",
                 "--batch", "128", "--resolution", "0", "--quiet"]) == 0
    assert (out / "metrics.json").is_file()
    capsys.readouterr()
    code = main(["surface", "--depth-image", str(tmp_path / "d.npy"), "--fx", "10",
                 "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--fy" in err[0]
    code = main(["surface", "--data", str(tmp_path / "none"), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "not found" in err[0]
    (out / "checkpoint.pt").write_bytes(b"junk")
    code = main(["surface", "--depth-image", str(tmp_path / "d.npy"), "--fx", "10", "--fy", "10",
                 "--cx", "6", "--cy", "5", "--out", str(out), "--resume", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "unreadable" in err[0]


def test_bench_surface_rows_have_the_issue_keys(tiny_objects):
    from quadfree.apps.bench.surface import ROW_KEYS, SurfaceBenchOptions, run_benchmark
    res = run_benchmark(SurfaceBenchOptions(data=tiny_objects, seconds=0.5, levels=(2,),
                                            test_views=1, timing_rays=64, repeats=1,
                                            batch=128, mlp_width=8, progress=False))
    assert [r["model"] for r in res["rows"]] == ["taylor", "mlp"]
    for row in res["rows"]:
        assert set(ROW_KEYS) <= set(row)
        assert row["forward_s"] > 0 and row["backward_s"] > 0 and row["train_seconds"] > 0
    assert res["rows"][0]["level"] == 2 and res["rows"][1]["level"] is None
    assert "machine" in res and res["summary"][0]["level"] == 2
