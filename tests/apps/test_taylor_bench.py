"""`quadfree bench taylor` writes its JSON (exact keys) and the PNG plot."""

import argparse
import json
import subprocess
import sys

import pytest

from quadfree.apps.bench import BENCHMARKS
from quadfree.apps.bench.taylor import TaylorBenchOptions, run_benchmark
from quadfree.cli import bench as cli_bench
from quadfree.cli import bench_taylor
from quadfree.cli.common import add_runtime_options
from quadfree.cli.main import main
from quadfree.errors import QuadfreeError


def test_bench_taylor_small_run_writes_json_and_plot(tmp_path):
    assert "taylor" in BENCHMARKS
    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    add_runtime_options(parser)
    bench_taylor.add_arguments(parser)
    out = tmp_path / "taylor.json"
    args = parser.parse_args(["--json", str(out), "--device", "cpu", "--quiet",
                              "--levels", "1,2", "--sizes", "300,2000", "--repeats", "1",
                              "--error-targets", "500", "--timing-targets", "200",
                              "--sweep", "0.5,2", "--sweep-size", "1000",
                              "--sweep-error-targets", "300", "--auto-tol", "3e-3"])
    args.bench = "taylor"
    assert cli_bench.run(args) == 0
    result = json.loads(out.read_text())
    assert (tmp_path / "taylor.png").stat().st_size > 1000
    keys = {"level", "order", "n", "m", "alpha", "expand_s", "eval_s", "exact_s",
            "exact_extrapolated", "rel_error", "speedup"}
    assert len(result["rows"]) == 4
    for row in result["rows"]:
        assert keys <= set(row)
        assert row["rel_error"] < 5e-3
        assert row["exact_extrapolated"] == (row["m"] > 200)
    assert result["scaling_exponent"] is None          # needs the 1e5 and 1e6 rows
    assert "machine" in result and result["machine"]["device"] == "cpu"
    for row in result["rows"]:
        # the peer at matched error: its cut-off follows the expansion's measured error
        assert row["neighbour_s"] > 0
        assert row["keops_s"] is None or row["keops_s"] > 0
        assert row["neighbour_rel_error"] < 2 * row["rel_error"] + 1e-6
        assert row["speedup_vs_neighbour"] == row["neighbour_s"] / (row["expand_s"]
                                                                    + row["eval_s"])
    sweep = result["alpha_sweep"]
    assert [s["alpha_h2"] for s in sweep] == [0.5, 2.0]
    assert sweep[0]["rel_error"] < sweep[1]["rel_error"]
    for s in sweep:
        assert s["auto_method"] in ("fc2t2", "neighbour", "dense")
        assert s["auto_rel_error"] <= 1.5 * s["auto_tol"]
        # a user's tolerance with a margin over the expansion's error, the neighbour sum
        # at the same tolerance as the peer
        assert s["user_tol"] == pytest.approx(max(3e-3, 1.5 * s["rel_error"]))
        assert s["user_auto_method"] in ("fc2t2", "neighbour", "dense")
        assert s["user_auto_s"] > 0 and s["user_neighbour_s"] > 0
        assert s["user_auto_met_tol"] == (s["user_auto_rel_error"] <= s["user_tol"])
        assert s["user_auto_rel_error"] <= 1.5 * s["user_tol"]
        assert s["user_neighbour_rel_error"] <= 1.5 * s["user_tol"]
        assert s["user_auto_speedup_vs_neighbour"] == s["user_neighbour_s"] / s["user_auto_s"]
    passes = result["passes"]
    assert sorted(passes) == ["1", "2"]
    assert [r["pass"] for r in passes["2"]][:2] == ["P2M", "M2M 2->1"]
    assert passes["2"][-1]["pass"] == "L2P" and result["matmul_peak_gflops"] > 0


@pytest.mark.parametrize(("field", "value", "param"), [
    ("levels", (), "levels"), ("levels", (4, 9), "levels"), ("order", 5, "order"),
    ("sizes", (100, 0), "sizes"), ("repeats", 0, "repeats"), ("sweep_size", 0, "sweep_size"),
    ("dense_max", -1, "dense_max"), ("alpha_h2", 0.0, "alpha_h2"),
    ("sweep", (0.5, -1.0), "sweep"), ("pair_budget", float("nan"), "pair_budget"),
    ("auto_tol", 0.0, "auto_tol"), ("auto_tol", 1.0, "auto_tol")])
def test_bench_taylor_options_out_of_range_name_the_parameter(field, value, param):
    with pytest.raises(QuadfreeError) as err:
        run_benchmark(TaylorBenchOptions(**{field: value}))
    assert err.value.param == param and str(err.value).startswith(param)


def test_bench_taylor_errors_name_flags_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "taylor.json"
    for argv, flag in ((["--levels", "4,9"], "--levels (4, 9)"),
                       (["--sweep-size", "0"], "--sweep-size 0"),
                       (["--sizes", ""], "--sizes: give at least one value")):
        assert main(["bench", "taylor", "--json", str(out), "--quiet", *argv]) == 2
        assert f"quadfree bench: error: {flag}" in capsys.readouterr().err
    with pytest.raises(SystemExit):                    # not a number: argparse's own error
        main(["bench", "taylor", "--json", str(out), "--levels", "4.5"])
    assert "expected comma-separated integers for --levels" in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".png").exists()


def test_every_benchmark_has_typed_flags_and_the_taylor_flags_load_without_torch():
    assert set(cli_bench.TYPED) == set(BENCHMARKS)
    code = ("import sys, quadfree.cli.bench_taylor, quadfree.cli.bench\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
