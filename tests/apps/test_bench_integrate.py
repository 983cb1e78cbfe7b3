"""Smoke test of `quadfree bench integrate` (tiny sizes; the real run is documented in
README, section AutoInt)."""

import json

import numpy as np
import pytest

from quadfree.apps.bench.integrate_table import markdown_table
from quadfree.cli.main import main

KEYS = {"intervals", "autoint_seconds", "quadrature_seconds", "quadrature_nodes", "speedup",
        "autoint_rel_error", "quadrature_rel_error", "grad_cost_ratio", "machine"}


def test_bench_integrate_smoke(tmp_path, capsys):
    out = tmp_path / "bench" / "integrate.json"
    code = main(["bench", "integrate", "--json", str(out), "--intervals", "3000",
                 "--scan-intervals", "1000", "--steps", "100", "--hidden", "16", "--depth", "2",
                 "--repeats", "1", "--quiet", "--spline-coarse", "256",
                 "--box-dims", "2,3", "--boxes", "500", "--box-samples", "1024",
                 "--box-steps", "20", "--box-hidden", "8", "--rbf-grid", "6",
                 "--peer-boxes", "40", "--mc-samples", "16"])
    assert code == 0
    result = json.loads(out.read_text())
    assert KEYS <= set(result)
    assert result["intervals"] == 3000
    assert result["machine"]["device"] == "cpu"
    n = result["quadrature_nodes"]
    assert n >= 1
    # the chosen node count is within 10 % of AutoInt's error, and the scan shows why
    assert result["quadrature_rel_error"] <= 1.1 * result["autoint_rel_error"]
    scan = {int(k): e for k, e in result["node_scan"]["errors"]}
    target = result["node_scan"]["target"]
    passing = [k for k, e in scan.items() if e <= target]
    assert passing and min(passing) <= n         # n may grow when confirmed on all intervals
    assert all(e > target for k, e in scan.items() if k < min(passing))
    assert result["speedup"] == result["quadrature_seconds"] / result["autoint_seconds"]
    assert result["grad_cost_ratio"] > 1.0 and result["train_step_seconds"] > 0
    assert np.isfinite(result["autoint_rel_error"]) and result["autoint_rel_error"] < 1.0
    assert out.with_suffix(".png").stat().st_size > 5_000
    assert json.loads(capsys.readouterr().out) == result
    _check_peer_rows(result)


def _check_peer_rows(result):
    """The spline and box rows of the smoke run above (issue 19)."""
    spline = result["spline"]
    assert [r["samples"] for r in spline] == [1 << 15, 256]
    assert spline[0]["rel_error"] < 1e-12 and spline[1]["rel_error"] < 1e-6
    assert set(result["boxes"]) == {"2d", "3d"}
    for dim, boxes in ((2, result["boxes"]["2d"]), (3, result["boxes"]["3d"])):
        methods = [r["method"] for r in boxes["rows"]]
        assert methods[0].startswith("AutoInt") and "RBF" in methods[1]
        assert "summed-volume table" in methods[2] and methods[3].startswith("Monte Carlo")
        assert methods[4].startswith("Gauss–Legendre") and boxes["dim"] == dim
        for r in boxes["rows"]:
            assert r["build_seconds"] >= 0 and r["answer_seconds"] > 0
            assert np.isfinite(r["rel_error"]) and r["rel_error"] > 0
            assert r["answer_seconds_vs_autoint"] == pytest.approx(
                r["answer_seconds"] / boxes["rows"][0]["answer_seconds"])
        assert boxes["rows"][1]["grid_cells"] == 6 ** dim
    cases = [r["case"] for r in result["table"]]
    assert len(cases) == 4 + 5 + 5 and cases[0].startswith("1-D")
    assert result["table"][0]["rel_error_vs_autoint"] == 1.0
    table = markdown_table(result).splitlines()
    assert len(table) == 2 + len(cases) and sum("≈" in line for line in table) == 4
