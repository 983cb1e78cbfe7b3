"""Procedural scenes: fog quadrature accuracy, objects geometry, determinism, atomic writes."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from quadfree.data.blender import load_blender
from quadfree.data.scenes import fog, make_scene, objects
from quadfree.errors import QuadfreeError
from quadfree.render.compositing import render_density
from quadfree.render.rays import camera_rays, look_at
from quadfree.render.sampling import midpoints_to_edges, stratified_samples

SIZES = {"train": 2, "val": 1, "test": 1}


def _fog_rays(n=64):
    c2w = look_at(torch.tensor([1.0, -3.5, 1.6]))
    rays = camera_rays(8, 8, 9.0, c2w)
    return rays.origins[:n], rays.directions[:n]


def test_fog_has_enough_anisotropic_blobs():
    scene = fog.make(0)
    assert scene.peaks.numel() >= 8
    eig = torch.linalg.eigvalsh(scene.precisions)
    assert bool((eig.amax(-1) / eig.amin(-1) > 1.2).all())   # anisotropic, not spheres


def test_fog_quadrature_error_bound():
    scene = fog.make(1)
    o, d = _fog_rays()
    out = scene.integrate(o, d, 2.0, 6.0)
    fine = dataclasses.replace(scene, adaptive=False).integrate(o, d, 2.0, 6.0, panels=256)
    assert float((out["rgb"] - fine["rgb"]).abs().max()) < 1e-5      # the stated bound
    assert float(out["defect"].max()) <= fog.DEFECT_TOL               # exact opacity check
    assert float(out["acc"].max()) > 0.3                              # the rays see fog


def test_fog_adaptive_refinement_fixes_dense_rays():
    # a very dense blob on the axis: 1 panel is far too coarse, adaptivity must repair it
    scene = fog.FogScene(torch.zeros(1, 3, dtype=torch.float64),
                         torch.eye(3, dtype=torch.float64)[None] / 0.1 ** 2,
                         torch.tensor([60.0], dtype=torch.float64),
                         torch.tensor([[0.2, 0.5, 0.9]], dtype=torch.float64), panels=1)
    o, d = torch.tensor([[0.0, 0.05, 4.0]]), torch.tensor([[0.0, 0.0, -1.0]])
    coarse = dataclasses.replace(scene, adaptive=False).integrate(o, d, 2.0, 6.0)
    assert float(coarse["defect"][0]) > 1e-4
    out = scene.integrate(o, d, 2.0, 6.0)
    assert float(out["defect"][0]) <= fog.DEFECT_TOL
    # one blob, one colour: emitted light is exactly colour × opacity
    torch.testing.assert_close(out["emitted"][0], scene.colours[0] * out["acc"][0],
                               atol=2e-6, rtol=0)


def test_fog_matches_independent_brute_force():
    # sample σ and colour of the 3-D field densely and composite with our renderer
    scene = fog.make(2)
    o, d = _fog_rays(16)
    n = 4000
    near, far = torch.full((16,), 2.0), torch.full((16,), 6.0)
    t = stratified_samples(near, far, n, perturb=False).double()
    pts = o.double()[:, None] + d.double()[:, None] * t[..., None]
    diff = pts[..., None, :] - scene.centres
    q = torch.einsum("rnki,kij,rnkj->rnk", diff, scene.precisions, diff)
    blob = scene.peaks * torch.exp(-0.5 * q)                          # (R, N, K)
    sigma = blob.sum(-1)
    colour = (blob @ scene.colours) / sigma.clamp(min=1e-300)[..., None]
    edges = midpoints_to_edges(t, near.double(), far.double())
    ref = render_density(sigma, colour, t, edges[:, 1:] - edges[:, :-1])
    out = scene.integrate(o, d, 2.0, 6.0)
    torch.testing.assert_close(out["rgb"], ref["rgb"], atol=2e-4, rtol=0)
    torch.testing.assert_close(out["acc"], ref["acc"], atol=2e-4, rtol=0)


def test_objects_sphere_trace_hits_analytic_distance():
    scene = objects.make(0)
    cam = torch.tensor([0.0, 0.0, 4.0])
    d = torch.nn.functional.normalize(scene.sphere_c - cam, dim=0)
    # aim at the sphere's centre: the first hit is the sphere (nothing else is in front)
    hit, t = scene.trace(cam[None], d[None])
    expected = float((scene.sphere_c - cam).norm()) - scene.sphere_r
    assert bool(hit[0])
    assert t[0].item() == pytest.approx(expected, abs=2e-3)
    miss, _ = scene.trace(cam[None], torch.tensor([[0.0, 0.0, 1.0]]))
    assert not bool(miss[0])


def test_scene_deterministic_and_loads(tmp_path):
    a = make_scene("fog", tmp_path / "a", res=8, seed=5, sizes=SIZES, progress=False)
    make_scene("fog", tmp_path / "b", res=8, seed=5, sizes=SIZES, progress=False)
    make_scene("fog", tmp_path / "c", res=8, seed=6, sizes=SIZES, progress=False)
    pa, pb, pc = (tmp_path / x / "train" / "r_0.png" for x in "abc")
    assert pa.read_bytes() == pb.read_bytes() and pa.read_bytes() != pc.read_bytes()
    assert a["quadrature_opacity_defect"] <= fog.DEFECT_TOL
    data = load_blender(tmp_path / "a", "test")
    assert data.images.shape == (1, 8, 8, 3) and data.depths is not None
    exact = np.load(tmp_path / "a" / "test" / "r_0_rgb.npy")        # unquantised ground truth
    assert np.abs(exact - data.images[0].numpy()).max() <= 1 / 255 + 1e-6
    meta = json.loads((tmp_path / "a" / "scene.json").read_text())
    assert meta["scene"] == "fog" and meta["seed"] == 5


def test_killed_generation_leaves_nothing(tmp_path, monkeypatch):
    calls = {"n": 0}
    original = objects.ObjectsScene.render

    def dying(self, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed")
        return original(self, *args)

    monkeypatch.setattr(objects.ObjectsScene, "render", dying)
    with pytest.raises(RuntimeError):
        make_scene("objects", tmp_path / "ds", res=8, sizes=SIZES, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_bad_scene_arguments(tmp_path):
    with pytest.raises(QuadfreeError, match="unknown"):
        make_scene("teapot", tmp_path / "x")
    with pytest.raises(QuadfreeError, match="^res "):
        make_scene("fog", tmp_path / "x", res=2)
