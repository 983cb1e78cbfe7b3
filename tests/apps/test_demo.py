"""`quadfree demo`: the whole pipeline at 12×12 with a few seconds of training per method."""

from __future__ import annotations

import json

import imageio.v3 as iio
import pytest

from quadfree.apps.demo import DemoOptions, run_demo
from quadfree.cli.main import main
from quadfree.errors import QuadfreeError


def _options(out):
    return DemoOptions(out, res=12, minutes=0.02, orbit_frames=2, test_views=3,
                       calibration_steps=2, scene_sizes={"train": 3, "val": 1, "test": 3},
                       nerf_set={"width": "16", "batch_rays": "64"},
                       autoint_set={"hidden": "16", "batch_rays": "64"},
                       progress=False)


def test_demo_writes_report_figures_and_table(tmp_path):
    out = tmp_path / "demo_out"
    result = run_demo(_options(out))
    for name in ("report.md", "comparison.png", "quality_vs_time.png", "orbit.gif", "orbit.mp4",
                 "results.json", "runs/nerf/checkpoint.pt", "runs/autoint/checkpoint.pt"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "results.json").read_text())
    assert [r["label"] for r in saved["rows"]] == ["NeRF", "AutoInt N=8"]
    nerf, autoint = saved["rows"]
    assert nerf["speedup"] == 1.0 and nerf["evals_per_ray"] == 32 + 64
    assert autoint["evals_per_ray"] == 9 + 1        # N+1 points × 1 shared net + sampler
    assert autoint["speedup"] == pytest.approx(
        nerf["render_s_per_frame"] / autoint["render_s_per_frame"])
    for row in saved["rows"]:
        assert 0.0 < row["psnr"] < 60.0 and -1.0 <= row["ssim"] <= 1.0
        assert len(row["render_s_all"]) == 3
    report = (out / "report.md").read_text()
    assert "![ground truth vs NeRF vs AutoInt](comparison.png)" in report
    assert f"| AutoInt N=8 | {autoint['psnr']:.2f} |" in report
    frames = iio.imread(out / "orbit.gif", index=None)
    assert frames.shape[0] == 2 and frames.shape[2] == 2 * 12 + 2     # NeRF | gap | AutoInt
    assert iio.imread(out / "orbit.mp4", extension=".mp4").shape == frames.shape[:3] + (3,)
    assert result["rows"][1]["config"]["sections"] == 8
    # a second run reuses the dataset and the finished training runs
    again = run_demo(_options(out))
    assert all(t["reused"] for t in again["training"].values())
    # ...and says so in the report and the results, with the machine and date they came from
    note = (out / "report.md").read_text()
    assert "Reused earlier runs (not retrained): NeRF trained on " in note
    assert again["training"]["nerf"]["trained_on"] == again["machine"]["cpu"]
    assert again["training"]["autoint"]["trained_at"][:4].isdigit()
    assert "Reused earlier runs" not in report          # the first run trained both
    # --fresh retrains and the note disappears
    fresh = _options(out)
    fresh.fresh = True
    retrained = run_demo(fresh)
    assert not any(t["reused"] for t in retrained["training"].values())
    assert "Reused earlier runs" not in (out / "report.md").read_text()
    # ...but not a run trained with another configuration: that is an error, not a stale row
    other = _options(out)
    other.autoint_set = {**other.autoint_set, "train_path": "grad"}
    with pytest.raises(QuadfreeError, match=r"train_path: 'integral' → 'grad'"):
        run_demo(other)


def test_demo_option_shows_terf_beside_nerf_and_autoint(tmp_path):
    opts = _options(tmp_path / "demo_terf")
    opts.terf, opts.orbit_frames = True, 0
    opts.terf_set = {"levels": 2, "grid": 8, "batch_rays": 64}
    result = run_demo(opts)
    assert [r["label"] for r in result["rows"]] == ["NeRF", "AutoInt N=8", "TeRF"]
    terf = result["rows"][2]
    assert terf["method"] == "terf" and terf["evals_per_ray"] == 0
    report = (tmp_path / "demo_terf" / "report.md").read_text()
    assert "# quadfree demo: NeRF vs AutoInt vs TeRF" in report and "| TeRF |" in report


def test_demo_cli_rejects_bad_resolution(tmp_path, capsys):
    code = main(["demo", "--out", str(tmp_path / "d"), "--res", "4", "--quiet"])
    assert code == 2
    assert "--res 4" in capsys.readouterr().err
    assert not (tmp_path / "d" / "report.md").exists()


def test_demo_cli_says_on_the_terminal_when_it_reuses_runs(tmp_path, capsys, monkeypatch):
    import quadfree.apps.demo as apps_demo  # the CLI imports run_demo when it runs

    seen = {}

    def fake_run_demo(opts):
        seen["opts"] = opts
        return {"rows": [], "total_seconds": 1.0,
                "reused_note": "Reused earlier runs (not retrained): NeRF trained on CPU X at "
                               "2026-01-01T00:00:00+00:00. Pass --fresh to retrain."}

    monkeypatch.setattr(apps_demo, "run_demo", fake_run_demo)
    assert main(["demo", "--out", str(tmp_path), "--quiet", "--autoint-set", "hidden=16"]) == 0
    assert "Reused earlier runs (not retrained): NeRF trained on CPU X" in capsys.readouterr().out
    opts = seen["opts"]
    assert opts.sections is None and opts.fresh is False
    assert opts.autoint_set == {"hidden": 16}            # typed once, at the CLI edge
    assert main(["demo", "--out", str(tmp_path), "--quiet", "--fresh", "--sections", "16"]) == 0
    assert seen["opts"].fresh is True and seen["opts"].sections == 16
