"""``quadfree bench volrend``: options, user errors and a tiny end-to-end run (JSON keys)."""

from __future__ import annotations

import pytest

from quadfree.apps.bench.volrend import VolrendBenchOptions, run_benchmark
from quadfree.cli.main import main
from quadfree.data.scenes import make_scene


def test_bad_options_are_user_errors_naming_flags(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert main(["bench", "volrend", "--json", str(out), "--nonneg", "abs", "--quiet"]) == 2
    assert "--nonneg" in capsys.readouterr().err
    assert main(["bench", "volrend", "--json", str(out), "--iters", "0", "--quiet"]) == 2
    assert "--iters 0" in capsys.readouterr().err
    assert not out.exists()


def test_view_dependent_flag_reaches_the_options():
    import argparse

    from quadfree.cli.bench_volrend import add_arguments, options
    p = argparse.ArgumentParser()
    add_arguments(p)
    ns = p.parse_args(["--terf-view-dependent", "--quick", "--terf-view-sh", "2"])
    ns.device, ns.seed, ns.quiet, ns.json = "cpu", 0, True, "out/v.json"
    o = options(ns)
    assert o.view_dependent and o.quick and o.view_sh == 2 and o.figure_views == 2
    assert str(o.figure) == "out/v_views.png" and str(o.plot) == "out/v.png"


@pytest.fixture(scope="module")
def tiny_scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("scene") / "objects"
    make_scene("objects", out, res=16, sizes={"train": 4, "val": 1, "test": 3},
               progress=False)
    return out


def test_tiny_run_reports_every_row(tiny_scene, tmp_path):
    fig = tmp_path / "v_views.png"
    res = run_benchmark(VolrendBenchOptions(
        data=tiny_scene, res=16, iters=2, eval_views=3, timing_steps=1, progress=False,
        nonneg=("relu", "weights"), view_dependent=True, view_sh=1, figure=fig,
        train_set={"batch_rays": 64}, autoint_set={"hidden": 16, "depth": 2},
        terf_set={"levels": 2, "grid": 8}))
    rows = res["rows"]
    assert [r["method"] for r in rows] == ["nerf", "autoint", "terf", "terf", "terf", "terf"]
    assert [r["nonneg"] for r in rows[2:]] == ["relu", "weights", "relu", "relu"]
    assert [r["view_dependent"] for r in rows[2:]] == [False, False, True, False]
    assert [r["view_sh"] for r in rows[2:]] == [0, 0, 0, 1]
    assert {r["scene"] for r in rows} == {"objects"}
    assert rows[4]["label"] == "TeRF view-dep." and rows[4]["config"]["view_dependent"]
    assert rows[4]["work"]["network_evals_per_ray"] == 1
    assert rows[5]["label"] == "TeRF SH colour" and rows[5]["config"]["view_sh"] == 1
    assert rows[5]["work"]["expansion_channels"] == 13
    assert rows[5]["work"]["network_evals_per_ray"] == 0
    from PIL import Image
    with Image.open(fig) as im:             # 2 views × (ground truth + 6 rows), captioned
        assert im.width > im.height > 200
    for r in rows:
        assert r["forward_s"] > 0 and r["backward_s"] > 0
        assert "density_cv_median" in r["view_consistency"]
        assert {"psnr", "ssim", "render_s_per_frame", "speedup", "psnr_gap_db"} <= set(r)
    terf = rows[2]
    assert terf["evals_per_ray"] == 0 and terf["work"]["expansions_per_step"] == 2
    assert terf["view_consistency"]["density_cv_median"] in (0.0, None)
    assert set(res["targets"]) >= {"speedup_met", "backward_met", "cv_met", "psnr_met"}
    assert "machine" in res
