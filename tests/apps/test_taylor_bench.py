"""`quadfree bench taylor` writes its JSON (exact keys) and the PNG plot."""

import argparse
import json

from quadfree.apps.bench import BENCHMARKS
from quadfree.apps.bench import taylor as bench_taylor
from quadfree.cli import bench as cli_bench
from quadfree.cli.common import add_runtime_options


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
                              "--sweep-error-targets", "300"])
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
    passes = result["passes"]
    assert sorted(passes) == ["1", "2"]
    assert [r["pass"] for r in passes["2"]][:2] == ["P2M", "M2M 2->1"]
    assert passes["2"][-1]["pass"] == "L2P" and result["matmul_peak_gflops"] > 0
