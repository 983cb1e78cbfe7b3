"""Smoke test of `quadfree bench integrate` (tiny sizes; the real run is documented in
docs/readme/autoint.md)."""

import json

import numpy as np

from quadfree.cli.main import main

KEYS = {"intervals", "autoint_seconds", "quadrature_seconds", "quadrature_nodes", "speedup",
        "autoint_rel_error", "quadrature_rel_error", "grad_cost_ratio", "machine"}


def test_bench_integrate_smoke(tmp_path, capsys):
    out = tmp_path / "bench" / "integrate.json"
    code = main(["bench", "integrate", "--json", str(out), "--intervals", "3000",
                 "--scan-intervals", "1000", "--steps", "100", "--hidden", "16", "--depth", "2",
                 "--repeats", "1", "--quiet"])
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
