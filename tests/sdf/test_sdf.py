"""SDF application: shapes, meshes, samples, fitting, resume, CLI, benchmark."""

import argparse
import json

import numpy as np
import pytest
import torch

from quadfree.cli.main import main
from quadfree.errors import QuadfreeError
from quadfree.sdf.experiment import load_target
from quadfree.sdf.extract import marching_cubes, sample_grid
from quadfree.sdf.fit import FitConfig, Fitter, load_state, mae
from quadfree.sdf.mesh import load_mesh
from quadfree.sdf.models import MLPSDF, TaylorSDF
from quadfree.sdf.quality import surface_metrics
from quadfree.sdf.samples import make_samples
from quadfree.sdf.shapes import SHAPE_NAMES, get_shape


@pytest.mark.parametrize("name", SHAPE_NAMES)
def test_shapes_are_distances_inside_the_domain(name):
    sh = get_shape(name)
    x = (torch.rand(2000, 3, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    x.requires_grad_()
    d = sh.sdf(x)
    (g,) = torch.autograd.grad(d.sum(), x)
    outside = d.detach() > 0.02
    # an exact SDF has unit gradient outside the solid (the union too)
    assert torch.allclose(g[outside].norm(dim=-1), torch.ones(int(outside.sum())), atol=1e-3)
    assert float(d.detach().min()) < 0
    # the surface stays inside the domain with a margin
    edge = torch.cat([torch.full((100, 1), s) for s in (-0.95, 0.95)])
    for axis in range(3):
        pts = torch.rand(200, 3) * 2 - 1
        pts[:, axis] = edge[:, 0]
        assert float(sh.sdf(pts).min()) > 0


def write_sphere(path, subdivisions=3):
    import trimesh
    m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=2.0)
    m.apply_translation([5.0, 0.0, 0.0])
    m.export(path)
    return m


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".stl"])
def test_mesh_loads_normalised_with_signed_distances(tmp_path, suffix):
    write_sphere(tmp_path / f"s{suffix}")
    mesh = load_mesh(tmp_path / f"s{suffix}")
    r = np.linalg.norm(mesh.vertices, axis=1)
    assert abs(r.max() - 0.8) < 1e-9
    x = torch.rand(500, 3, dtype=torch.float64) * 2 - 1
    d = mesh.signed_distance(x)
    # the icosphere is within 1 % of the sphere of radius 0.8
    assert torch.allclose(d, x.norm(dim=-1) - 0.8, atol=0.012)


def test_bad_meshes_raise(tmp_path):
    empty = tmp_path / "empty.obj"
    empty.write_text("")
    garbage = tmp_path / "garbage.stl"
    garbage.write_bytes(b"\x00\x01 not a mesh" * 3)
    opened = tmp_path / "open.obj"
    m = write_sphere(tmp_path / "tmp.obj")
    m.update_faces(np.arange(len(m.faces)) > 5)
    m.export(opened)
    nan = tmp_path / "nan.obj"
    nan.write_text("v 0 0 0\nv 1 0 0\nv 0 nan 0\nv 0 0 1\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n")
    for path, msg in ((empty, "no triangles|unreadable"), (garbage, "unreadable|no triangles"),
                      (opened, "not watertight"), (nan, "NaN|no triangles|unreadable"),
                      (tmp_path / "none.obj", "not found"), (tmp_path / "x.txt", "not found")):
        with pytest.raises(QuadfreeError, match=msg):
            load_mesh(path)


def test_samples_mix_and_exact_distances():
    sh = get_shape("torus")
    target = load_target("torus", resolution=32)
    s = make_samples(sh.sdf, target.surface, 1000, seed=0)
    assert len(s) == 1000 and int(s.near.sum()) == 800
    assert torch.allclose(s.d, sh.sdf(s.q))
    assert float(s.d[s.near].abs().mean()) < float(s.d[~s.near].abs().mean())
    assert float(s.q.abs().max()) <= 1.0


def test_surface_metrics_detect_a_wrong_surface():
    a = marching_cubes(sample_grid(lambda x: x.norm(dim=-1) - 0.5, 32))
    b = marching_cubes(sample_grid(lambda x: x.norm(dim=-1) - 0.6, 32))
    same, other = surface_metrics(a, a, 3000), surface_metrics(a, b, 3000)
    # with n random points per side the floor is about half the point spacing, √(A/n)/2
    assert same["chamfer"] < 0.025 and 0.08 < other["chamfer"] < 0.13
    assert same["normal_consistency"] > 0.99


@pytest.fixture(scope="module")
def sphere_data():
    target = load_target("sphere", resolution=32)
    train = make_samples(target.sdf, target.surface, 4000, seed=0)
    test = make_samples(target.sdf, target.surface, 1000, seed=1)
    return target, train, test


def test_taylor_fit_reduces_error(sphere_data):
    _, train, test = sphere_data
    torch.manual_seed(0)
    model = TaylorSDF(level=2, sources_per_cell=1)
    fitter = Fitter(model, FitConfig(epochs=25, lr=3e-2))
    fitter.run(train, quiet=True)
    losses = [h["loss"] for h in fitter.history]
    assert losses[-1] < 0.6 * losses[0]
    assert mae(model, test) < 0.03


def test_mlp_fit_reduces_error(sphere_data):
    _, train, _ = sphere_data
    torch.manual_seed(0)
    fitter = Fitter(MLPSDF(depth=4, width=32), FitConfig(epochs=10, lr=3e-3, batch=256))
    fitter.run(train, quiet=True)
    assert fitter.history[-1]["loss"] < 0.6 * fitter.history[0]["loss"]


@pytest.mark.parametrize("kind", ["taylor", "mlp"])
def test_resume_continues_exactly(tmp_path, sphere_data, kind):
    _, train, _ = sphere_data

    def model():
        torch.manual_seed(0)
        return TaylorSDF(level=2) if kind == "taylor" else MLPSDF(depth=3, width=16)

    cfg6 = FitConfig(epochs=6, lr=1e-2, lr_final=1.0, batch=1000, checkpoint_every=0)
    cfg3 = FitConfig(epochs=3, lr=1e-2, lr_final=1.0, batch=1000, checkpoint_every=0)
    straight = Fitter(model(), cfg6).run(train, quiet=True)
    Fitter(model(), cfg3).run(train, checkpoint=tmp_path / "c.pt", quiet=True)
    resumed = Fitter.resume(tmp_path / "c.pt", cfg6).run(train, quiet=True)
    assert resumed.epoch == 6 and len(resumed.history) == 6
    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)


def test_corrupt_checkpoint_is_a_user_error(tmp_path):
    bad = tmp_path / "c.pt"
    bad.write_bytes(b"junk")
    with pytest.raises(QuadfreeError, match="unreadable"):
        load_state(bad)
    torch.save({"a": 1}, tmp_path / "d.pt")
    with pytest.raises(QuadfreeError, match="not an sdf checkpoint"):
        load_state(tmp_path / "d.pt")


SMALL = ["--level", "2", "--samples", "3000", "--test-samples", "500", "--resolution", "24",
         "--quiet"]


def test_cli_fits_writes_outputs_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["sdf", "--shape", "sphere", "--out", str(out), "--epochs", "3", *SMALL]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["checkpoint.pt", "figure.png", "mesh.ply", "metrics.json"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and metrics["model"] == "taylor"
    for key in ("mae", "mae_near_surface", "chamfer", "normal_consistency", "flops_per_epoch"):
        assert np.isfinite(metrics[key])
    assert main(["sdf", "--shape", "sphere", "--out", str(out), "--epochs", "5", "--resume",
                 *SMALL]) == 0
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 5
    capsys.readouterr()
    # resuming with another model is refused
    assert main(["sdf", "--shape", "sphere", "--out", str(out), "--epochs", "6", "--resume",
                 "--model", "mlp", *SMALL]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checkpoint" in err[0]


def test_cli_mlp_and_mesh(tmp_path):
    write_sphere(tmp_path / "s.stl")
    out = tmp_path / "mlp"
    assert main(["sdf", "--mesh", str(tmp_path / "s.stl"), "--model", "mlp", "--mlp-depth",
                 "3", "--mlp-width", "16", "--out", str(out), "--epochs", "1", *SMALL]) == 0
    assert json.loads((out / "metrics.json").read_text())["model"] == "mlp"


def test_cli_bad_mesh_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.obj"
    bad.write_text("this is not an obj\n")
    code = main(["sdf", "--mesh", str(bad), "--out", str(tmp_path / "o"), *SMALL])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "bad.obj" in err[0]


def test_cutoff_sum_gradients_match_dense():
    from quadfree.apps.bench.sdf import cutoff_sum
    from quadfree.taylor import exact_sum
    g = torch.Generator().manual_seed(0)
    p = (torch.rand(60, 3, generator=g, dtype=torch.float64) - 0.5).requires_grad_()
    w = torch.randn(60, generator=g, dtype=torch.float64).requires_grad_()
    q = (torch.rand(20, 3, generator=g, dtype=torch.float64) - 0.5).requires_grad_()
    y = cutoff_sum(p, w, q, 40.0, radius=0.6, chunk=7)
    ref = exact_sum("exp(-40*(x**2+y**2+z**2))", p[None], w[None, None], q)[0, 0]
    ga = torch.autograd.grad(y.sum(), (p, w, q))
    gb = torch.autograd.grad(ref.sum(), (p, w, q))
    assert float((y - ref).detach().abs().max()) < 1e-3 * float(ref.detach().abs().max())
    for a, b in zip(ga, gb):
        assert float((a - b).abs().max()) < 1e-3 * float(b.abs().max())


def test_bench_sdf_rows_have_the_issue_keys():
    from quadfree.apps.bench import sdf
    from quadfree.cli import bench_sdf
    parser = argparse.ArgumentParser()
    bench_sdf.add_arguments(parser)
    args = parser.parse_args(["--shapes", "sphere", "--levels", "2", "--seconds", "0.5",
                              "--samples", "2000", "--test-samples", "400", "--resolution",
                              "20", "--layer-sizes", "400", "--layer-level", "2",
                              "--baseline-targets", "100", "--mlp-width", "16",
                              "--epoch-repeats", "1"])
    args.device, args.seed, args.quiet, args.json = "cpu", 0, True, None
    out = sdf.run_benchmark(bench_sdf.options(args))
    keys = {"shape", "model", "level", "seconds_per_epoch", "epochs", "mae",
            "mae_near_surface", "chamfer", "normal_consistency", "flops_per_epoch"}
    assert [r["model"] for r in out["rows"]] == ["taylor", "mlp"]
    assert all(keys <= set(r) for r in out["rows"])
    assert out["layer"][0]["taylor_forward_s"] > 0 and "machine" in out
    assert out["summary"][0]["shape"] == "sphere"
    ab = out["epochs"][0]
    assert ab["level"] == 2 and min(ab["taylor_s"], ab["taylor_uncached_s"], ab["mlp_s"]) > 0
    parts = {(r["path"], r["part"]) for r in out["epoch_parts"]}
    assert ("prepared", "passes of ybar") in parts and ("uncached", "read at samples") in parts


def test_cli_refuses_a_non_empty_out_unless_resume_or_overwrite(tmp_path, capsys):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    argv = ["sdf", "--shape", "sphere", "--out", str(out), "--epochs", "1", *SMALL]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "exists and is not empty" in err[0], err
    assert "--resume" in err[0] and "--overwrite" in err[0]
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
    assert main([*argv, "--overwrite"]) == 0
    assert (out / "metrics.json").is_file() and (out / "thesis.tex").is_file()


def test_sdf_errors_name_the_parameter_and_the_cli_shows_the_flag(tmp_path, capsys):
    from quadfree.sdf.experiment import build_config
    with pytest.raises(QuadfreeError) as err:
        build_config("taylor", test_samples=0)
    assert err.value.param == "test_samples" and "--" not in str(err.value)
    with pytest.raises(QuadfreeError) as err:
        build_config("mlp", batch=0)
    assert err.value.param == "batch"
    assert main(["sdf", "--shape", "sphere", "--out", str(tmp_path / "o"),
                 "--test-samples", "0", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--test-samples 0: must be at least 1" in err[0], err
    assert not (tmp_path / "o").exists()
    assert main(["bench", "sdf", "--json", str(tmp_path / "b.json"), "--levels", "3",
                 "--mlp-width", "0", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--mlp-width 0: must be at least 1" in err[0], err


def test_sdf_cli_literals_match_the_library():
    from quadfree.cli import sdf as cli_sdf
    from quadfree.sdf.experiment import DEFAULT_LR, SdfConfig

    assert cli_sdf.SHAPE_NAMES == list(SHAPE_NAMES)
    assert cli_sdf.DEFAULT_LR == DEFAULT_LR and cli_sdf.MODEL_NAMES == list(DEFAULT_LR)
    assert cli_sdf.MODEL_DEFAULTS == {k: getattr(SdfConfig(), k) for k in cli_sdf.MODEL_DEFAULTS}
    assert cli_sdf.FIT_DEFAULTS == {k: getattr(FitConfig(), k) for k in cli_sdf.FIT_DEFAULTS}
