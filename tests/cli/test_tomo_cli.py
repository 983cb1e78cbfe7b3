"""`quadfree tomo` and `quadfree bench tomo` end to end on real files; bad input exits 2."""

import json

import imageio.v3 as iio
import numpy as np
import pytest

import quadfree.apps.bench as bench_registry
import quadfree.cli.main as cli_main
from quadfree.tomo import circle_mask, scan_angles, shepp_logan, simulate

FAST = ["--steps", "3", "--hidden", "8", "--depth", "1", "--quiet", "--threads", "1",
        "--device", "cpu"]


@pytest.fixture
def quadfree(monkeypatch):
    """``main(argv)`` with only the commands under test registered (others may be in flux)."""
    def run(*argv: str) -> int:
        monkeypatch.setattr(cli_main, "COMMANDS", [argv[0]])
        return cli_main.main(list(argv))
    return run


def test_tomo_phantom_writes_figure_metrics_and_arrays(quadfree, tmp_path, capsys):
    out = tmp_path / "run"
    code = quadfree("tomo", "--phantom", "shepp-logan", "--size", "64", "--subsample", "16",
                    "--out", str(out), *FAST)
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["arrays.npz", "figure.png", "metrics.json"]
    m = json.loads((out / "metrics.json").read_text())
    assert m["views"] == 8 and m["angles"] == 128 and m["size"] == 64
    assert m["model"]["angle_freqs"] == 2                       # few views: few harmonics
    assert m["train_angles_deg"] == [i * 180 / 128 for i in range(0, 128, 16)]
    for key in ("sinogram_psnr_autoint", "sinogram_psnr_linear", "image_psnr_fbp_sparse",
                "image_ssim_sart_sparse", "image_psnr_fbp_autoint"):
        assert np.isfinite(m[key])
    arrays = np.load(out / "arrays.npz")
    assert arrays["sinogram_completed"].shape == (64, 128)
    np.testing.assert_array_equal(arrays["image_reference"], shepp_logan(64))
    assert iio.imread(out / "figure.png").ndim == 3
    assert "sinogram_psnr_autoint" in capsys.readouterr().out


def test_tomo_png_image_and_user_sinogram(quadfree, tmp_path):
    img = (shepp_logan(32) * 255).round().astype(np.uint8)
    iio.imwrite(tmp_path / "ct.png", img)
    assert quadfree("tomo", "--image", str(tmp_path / "ct.png"), "--angles", "16", "--views",
                    "5", "--out", str(tmp_path / "a"), *FAST) == 0
    m = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert m["views"] == 5 and m["size"] == 32 and m["reference"] == "true image"
    angles = scan_angles(16)
    np.save(tmp_path / "s.npy", simulate(shepp_logan(32), angles))
    (tmp_path / "angles.txt").write_text("\n".join(str(a) for a in angles))
    assert quadfree("tomo", "--sinogram", str(tmp_path / "s.npy"), "--angles-file",
                    str(tmp_path / "angles.txt"), "--subsample", "4", "--out",
                    str(tmp_path / "b"), *FAST) == 0
    m = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert m["views"] == 4 and m["reference"] == "FBP of all given views"


def test_tomo_method_taylor_on_a_user_image_and_a_user_sinogram(quadfree, tmp_path):
    taylor = ["--method", "taylor", "--taylor-iterations", "3"]
    iio.imwrite(tmp_path / "ct.png", (shepp_logan(32) * 255).round().astype(np.uint8))
    assert quadfree("tomo", "--image", str(tmp_path / "ct.png"), "--angles", "16", "--views",
                    "5", "--out", str(tmp_path / "a"), *taylor, *FAST) == 0
    m = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert m["reference"] == "true image" and np.isfinite(m["image_psnr_taylor"])
    angles = scan_angles(16)
    np.save(tmp_path / "s.npy", simulate(shepp_logan(32), angles))
    (tmp_path / "angles.txt").write_text("\n".join(str(a) for a in angles))
    assert quadfree("tomo", "--sinogram", str(tmp_path / "s.npy"), "--angles-file",
                    str(tmp_path / "angles.txt"), "--subsample", "4", "--out",
                    str(tmp_path / "b"), *taylor, *FAST) == 0
    m = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert m["reference"] == "FBP of all given views" and m["taylor_view_consistency"] <= 1e-4
    assert np.load(tmp_path / "b" / "arrays.npz")["sinogram_taylor"].shape == (32, 16)


def test_bad_taylor_option_names_the_flag(quadfree, tmp_path, capsys):
    assert quadfree("tomo", "--phantom", "shepp-logan", "--method", "taylor",
                    "--taylor-tv", "-1", "--out", str(tmp_path / "o"), *FAST) == 2
    err = capsys.readouterr().err
    assert "--taylor-tv" in err and err.count("\n") == 1


def _bad_inputs(tmp_path):
    good = shepp_logan(32)
    np.save(tmp_path / "nonsquare.npy", np.zeros((32, 30)))
    neg = good.copy()
    neg[16, 16] = -0.5
    np.save(tmp_path / "negative.npy", neg)
    nan = good.copy()
    nan[10, 12] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    inf = good.copy()
    inf[10, 12] = np.inf
    np.save(tmp_path / "inf.npy", inf)
    np.save(tmp_path / "sino.npy", simulate(good, scan_angles(16)))
    (tmp_path / "angles15.txt").write_text(",".join(str(a) for a in scan_angles(15)))
    return [
        (["--image", str(tmp_path / "nonsquare.npy")], "square"),
        (["--image", str(tmp_path / "negative.npy")], "non-negative"),
        (["--image", str(tmp_path / "nan.npy")], "non-finite"),
        (["--image", str(tmp_path / "inf.npy")], "non-finite"),
        (["--image", str(tmp_path / "missing.png")], "no such file"),
        (["--sinogram", str(tmp_path / "sino.npy"), "--angles-file",
          str(tmp_path / "angles15.txt")], "16 sinogram columns but 15 angles"),
        (["--sinogram", str(tmp_path / "sino.npy")], "--angles-file"),
        (["--phantom", "shepp-logan", "--subsample", "100"], "--subsample 100"),
    ]


def test_bad_input_is_one_line_and_exit_code_2(quadfree, tmp_path, capsys):
    for args, message in _bad_inputs(tmp_path):
        out = tmp_path / "never"
        code = quadfree("tomo", *args, "--out", str(out), *FAST)
        err = capsys.readouterr().err
        assert code == 2, args
        assert message in err, (args, err)
        assert err.count("\n") == 1 and err.startswith("quadfree tomo: error:")
        assert not out.exists()


def test_bench_tomo_rows_have_exactly_the_issue_keys(quadfree, tmp_path, monkeypatch):
    monkeypatch.setattr(bench_registry, "BENCHMARKS",
                        {"tomo": bench_registry.BENCHMARKS["tomo"]})
    out = tmp_path / "tomo.json"
    assert quadfree("bench", "tomo", "--json", str(out), "--subsamples", "8,16",
                    "--methods", "autoint", "--compare-activations", "sine,tanh", *FAST) == 0
    res = json.loads(out.read_text())
    assert [r["subsample"] for r in res["rows"]] == [8, 16]
    assert [r["views"] for r in res["rows"]] == [16, 8]
    assert set(res["rows"][0]) == {
        "size", "subsample", "views", "sinogram_psnr_autoint", "sinogram_psnr_linear",
        "image_psnr_fbp_sparse", "image_ssim_fbp_sparse", "image_psnr_sart_sparse",
        "image_ssim_sart_sparse", "image_psnr_fbp_autoint", "image_ssim_fbp_autoint",
        "train_seconds"}
    assert [a["activation"] for a in res["activations"]] == ["sine", "tanh"]
    assert res["machine"]["device"] == "cpu"
    assert (tmp_path / "tomo.png").is_file()


def test_bench_tomo_taylor_rows_have_the_issue_keys(quadfree, tmp_path, monkeypatch):
    monkeypatch.setattr(bench_registry, "BENCHMARKS",
                        {"tomo": bench_registry.BENCHMARKS["tomo"]})
    out = tmp_path / "tomo.json"
    assert quadfree("bench", "tomo", "--json", str(out), "--sizes", "32", "--angles", "32",
                    "--subsamples", "4,8", "--methods", "taylor,mbir", "--taylor-iterations",
                    "3", *FAST) == 0
    res = json.loads(out.read_text())
    assert [(r["size"], r["subsample"]) for r in res["rows"]] == [(32, 4), (32, 8)]
    assert set(res["rows"][0]) == {
        "size", "subsample", "views", "sinogram_psnr_linear", "image_psnr_fbp_sparse",
        "image_ssim_fbp_sparse", "image_psnr_sart_sparse", "image_ssim_sart_sparse",
        "image_psnr_taylor", "image_ssim_taylor", "sinogram_psnr_taylor", "taylor_seconds",
        "taylor_view_consistency", "taylor_view_consistent", "image_psnr_mbir",
        "image_ssim_mbir", "mbir_seconds"}
    assert all(r["taylor_view_consistent"] for r in res["rows"])
    assert res["activations"] == [] and res["methods"] == ["taylor", "mbir"]
    assert (tmp_path / "tomo.png").is_file()


def test_tomo_method_taylor_adds_the_taylor_and_mbir_columns(quadfree, tmp_path):
    out = tmp_path / "run"
    assert quadfree("tomo", "--phantom", "shepp-logan", "--size", "64", "--angles", "32",
                    "--subsample", "8", "--method", "taylor", "--taylor-iterations", "3",
                    "--out", str(out), *FAST) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["methods"] == ["taylor", "mbir"] and "sinogram_psnr_autoint" not in m
    assert "prior_weight" not in m["taylor"]            # no prior was used: none recorded
    for key in ("image_psnr_taylor", "image_ssim_taylor", "sinogram_psnr_taylor",
                "image_psnr_mbir", "image_psnr_sart_sparse"):
        assert np.isfinite(m[key]), key
    assert m["taylor_view_consistency"] <= 1e-4
    arrays = np.load(out / "arrays.npz")
    assert arrays["image_taylor"].shape == (64, 64)
    assert arrays["sinogram_taylor"].shape == (64, 32)


def test_outside_circle_pixels_are_reported(quadfree, tmp_path, capsys):
    img = np.ones((32, 32))
    np.save(tmp_path / "square.npy", img)
    assert quadfree("tomo", "--image", str(tmp_path / "square.npy"), "--angles", "16",
                    "--subsample", "4", "--out", str(tmp_path / "o"), *FAST) == 0
    expected = int((~circle_mask(32)).sum())
    assert f"note: {expected} non-zero pixel(s) outside" in capsys.readouterr().out


def test_tomo_method_taylor_autoint_runs_autoint_then_the_taylor_fit(quadfree, tmp_path):
    out = tmp_path / "run"
    assert quadfree("tomo", "--phantom", "shepp-logan", "--size", "64", "--angles", "32",
                    "--subsample", "8", "--method", "taylor_autoint", "--taylor-iterations", "3",
                    "--prior-views", "16", "--prior-weight", "0.5", "--out", str(out),
                    *FAST) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["methods"] == ["autoint", "taylor_autoint"]
    assert m["taylor"]["prior_views"] == 16 and m["taylor"]["prior_weight"] == 0.5
    assert m["taylor_autoint_predicted_views"] == 12                  # 16 spread − 4 measured
    for key in ("image_psnr_fbp_autoint", "image_psnr_taylor_autoint",
                "sinogram_psnr_taylor_autoint"):
        assert np.isfinite(m[key]), key
    assert m["taylor_autoint_view_consistency"] <= 1e-4
    assert np.load(out / "arrays.npz")["image_taylor_autoint"].shape == (64, 64)


@pytest.mark.parametrize("flags, message", [
    (["--prior-views", "1"], "--prior-views 1"),
    (["--prior-weight", "-1"], "--prior-weight -1"),
    (["--prior-weight", "0"], "--prior-weight 0"),
])
def test_tomo_bad_prior_flags_exit_2_before_any_training(quadfree, tmp_path, capsys, flags,
                                                         message):
    if "--subsample" not in flags:
        flags = ["--subsample", "8", *flags]
    code = quadfree("tomo", "--phantom", "shepp-logan", "--angles", "32", "--method",
                    "taylor_autoint", *flags, "--out", str(tmp_path / "r"), *FAST)
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "r" / "metrics.json").exists()


def test_bench_tomo_taylor_autoint_rows_add_autoint_and_the_beats_checks(quadfree, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr(bench_registry, "BENCHMARKS",
                        {"tomo": bench_registry.BENCHMARKS["tomo"]})
    out = tmp_path / "tomo.json"
    assert quadfree("bench", "tomo", "--json", str(out), "--sizes", "32", "--angles", "32",
                    "--subsamples", "8", "--methods", "taylor_autoint", "--taylor-iterations",
                    "3", "--prior-views", "16", "--compare-activations", "", *FAST) == 0
    res = json.loads(out.read_text())
    assert res["methods"] == ["autoint", "taylor_autoint"]
    row, detail = res["rows"][0], res["details"][0]
    for key in ("image_psnr_fbp_autoint", "image_psnr_taylor_autoint",
                "sinogram_psnr_taylor_autoint", "taylor_autoint_seconds"):
        assert np.isfinite(row[key]), key
    assert row["taylor_autoint_view_consistent"] is True
    assert set(detail["taylor_autoint_psnr_beats"]) == {"sart_sparse", "fbp_sparse",
                                                        "fbp_autoint"}
    assert detail["taylor_autoint_predicted_views"] == 12
    sinos = {k: row[f"sinogram_psnr_{k}"] for k in ("autoint", "taylor_autoint", "linear")}
    assert detail["winner_sinogram"] == max(sinos, key=sinos.get)
    assert (tmp_path / "tomo.png").is_file()


def test_bench_tomo_refuses_a_bad_subsampling_before_training_any_row(quadfree, tmp_path,
                                                                    capsys, monkeypatch):
    monkeypatch.setattr(bench_registry, "BENCHMARKS",
                        {"tomo": bench_registry.BENCHMARKS["tomo"]})
    out = tmp_path / "tomo.json"
    code = quadfree("bench", "tomo", "--json", str(out), "--sizes", "32", "--angles", "32",
                    "--subsamples", "4,100", "--methods", "autoint", "--compare-activations",
                    "", "--quiet", "--threads", "1", "--device", "cpu", "--steps", "1000000")
    assert code == 2 and "subsample 100" in capsys.readouterr().err
    assert not out.exists()


def test_tomo_bad_angles_file_is_named_as_such(quadfree, tmp_path, capsys):
    np.save(tmp_path / "s.npy", simulate(shepp_logan(16), scan_angles(4)))
    (tmp_path / "angles.txt").write_text("0\n45\n45\n135\n")
    code = quadfree("tomo", "--sinogram", str(tmp_path / "s.npy"), "--angles-file",
                    str(tmp_path / "angles.txt"), "--views", "2", "--out",
                    str(tmp_path / "r"), *FAST)
    err = capsys.readouterr().err
    assert code == 2 and "--angles-file" in err and "distinct" in err
