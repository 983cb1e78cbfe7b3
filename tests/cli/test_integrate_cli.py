"""`quadfree integrate` end to end (real files in tmp_path), and every bad input it must refuse."""

import json

import numpy as np
import pytest

from quadfree.apps.signals import BUILTINS, SampledSignal, builtin_signal, load_samples
from quadfree.cli.main import main
from quadfree.errors import QuadfreeError

FAST = ["--steps", "150", "--hidden", "16", "--depth", "2", "--lr", "2e-3", "--quiet"]


def _rows(out_dir):
    return json.loads((out_dir / "integrals.json").read_text())["rows"]


def test_builtin_signal_run_writes_plot_and_reports_errors(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["integrate", "--signal", "poly", "--interval", "0,0.5", "--interval=-1,-0.5",
                 "--out", str(out), *FAST])
    assert code == 0
    printed = capsys.readouterr().out
    assert "[-1, 1]" in printed and "[0, 0.5]" in printed and "exact" in printed
    assert (out / "integrate.png").stat().st_size > 10_000
    rows = _rows(out)
    assert [(r["a"], r["b"]) for r in rows] == [(-1, 1), (0, 0.5), (-1, -0.5)]
    assert rows[0]["reference"] == pytest.approx(1.0)             # ∫_{-1}^{1} x³ − x + 0.5
    assert rows[1]["reference"] == pytest.approx(0.5 ** 4 / 4 - 0.5 ** 2 / 2 + 0.25)
    for r in rows:
        assert r["abs_error"] < 2e-2
        assert r["abs_error"] == pytest.approx(abs(r["autoint"] - r["reference"]))


@pytest.mark.parametrize("suffix", [".csv", ".npy"])
def test_user_data_is_compared_with_the_trapezoid_rule(tmp_path, suffix):
    x = np.linspace(0.0, 3.0, 400)
    y = np.sin(2 * x) + 1.0
    path = tmp_path / f"samples{suffix}"
    if suffix == ".csv":
        lines = [f"{float(a)!r},{float(b)!r}" for a, b in zip(x, y)]
        path.write_text("x,y\n" + "\n".join(lines) + "\n")
    else:
        np.save(path, np.stack([x, y], 1))
    out = tmp_path / "out"
    assert main(["integrate", "--data", str(path), "--interval", "0.5,2", "--out", str(out),
                 *FAST]) == 0
    rows = _rows(out)
    trapz = np.trapezoid(y, x)
    assert rows[0]["reference"] == pytest.approx(trapz, rel=1e-12)
    assert json.loads((out / "integrals.json").read_text())["reference"] == "trapezoid"
    exact = [(-np.cos(6) + 1) / 2 + 3, (np.cos(1) - np.cos(4)) / 2 + 1.5]
    for row, ex in zip(rows, exact):
        assert row["rel_error"] < 1e-2
        assert row["reference"] == pytest.approx(ex, rel=1e-4)     # trapezoid on 400 samples


def test_every_builtin_has_a_correct_antiderivative():
    for name, sig in BUILTINS.items():
        x = np.linspace(*sig.domain, 20001)
        trap = np.trapezoid(sig.values(x), x)
        assert sig.reference_integral([sig.domain[0]], [sig.domain[1]])[0] == pytest.approx(
            trap, rel=1e-6, abs=1e-9), name
    assert {"poly", "cos", "step", "gauss"} <= set(BUILTINS)


def test_trapezoid_between_samples_is_exact_for_linear_pieces():
    s = SampledSignal("s", np.array([0.0, 1.0, 3.0]), np.array([1.0, 3.0, -1.0]))
    # interpolant: 1 + 2x on [0, 1], 3 − 2(x − 1) on [1, 3]
    assert s.reference_integral([0.5], [2.0])[0] == pytest.approx(1.25 + 2.0)
    assert s.reference_integral([0.0], [3.0])[0] == pytest.approx(2.0 + 2.0)


def _write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, np.ndarray):
        np.save(path, content)
    else:
        path.write_text(content)
    return str(path)


BAD_CASES = {
    "nan in csv": (["--data", ("d.csv", "0,1\n1,nan\n2,3\n")], "non-finite"),
    "inf in npy": (["--data", ("d.npy", np.array([[0, 1], [1, np.inf], [2, 0.0]]))],
                   "non-finite"),
    "three columns csv": (["--data", ("d.csv", "0,1,2\n1,2,3\n")], "expected 2 columns"),
    "ragged csv": (["--data", ("d.csv", "0,1\n1,2,5\n")], "line 2: expected 2 columns"),
    "three columns npy": (["--data", ("d.npy", np.zeros((4, 3)))], "expected 2 columns"),
    "1-D npy": (["--data", ("d.npy", np.arange(4.0))], "expected 2 columns"),
    "one column csv": (["--data", ("d.csv", "0\n1\n2\n")], "expected 2 columns"),
    "unsorted x": (["--data", ("d.csv", "0,1\n2,1\n1,1\n")], "not sorted"),
    "repeated x": (["--data", ("d.csv", "0,1\n1,1\n1,2\n")], "repeats"),
    "empty csv": (["--data", ("d.csv", "")], "empty"),
    "header only csv": (["--data", ("d.csv", "x,y\n")], "empty"),
    "empty npy": (["--data", ("d.npy", np.zeros((0, 2)))], "empty"),
    "single sample": (["--data", ("d.csv", "0,1\n")], "at least 2"),
    "text in csv": (["--data", ("d.csv", "0,1\n1,abc\n")], "not a number"),
    "text npy": (["--data", ("d.npy", np.array([["a", "b"], ["c", "d"]]))], "numeric"),
    "missing file": (["--data", "does-not-exist.csv"], "no such file"),
    "unknown format": (["--data", ("d.json", "[]")], "unknown format"),
    "interval outside domain": (["--signal", "cos", "--interval", "0.5,1.5"],
                                "outside the domain"),
    "interval outside data": (["--data", ("d.csv", "0,1\n1,2\n2,0\n"), "--interval=-1,1"],
                              "outside the domain"),
    "reversed interval": (["--signal", "cos", "--interval", "0.5,0.1"], "a < b"),
    "malformed interval": (["--signal", "cos", "--interval", "0.5"], "expected two numbers"),
    "nan interval": (["--signal", "cos", "--interval", "nan,0.5"], "finite"),
    "unknown signal": (["--signal", "square"], "unknown"),
    "bad steps": (["--signal", "cos", "--steps", "0"], "--steps"),
    "domain with data": (["--data", ("d.csv", "0,1\n1,2\n"), "--domain", "0,1"], "--domain"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_is_one_line_exit_2_nothing_written(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv, message = BAD_CASES[case]
    args = []
    for item in argv:
        args.append(_write(tmp_path, *item) if isinstance(item, tuple) else item)
    before = set(tmp_path.iterdir())
    out = tmp_path / "out"
    code = main(["integrate", *args, "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("quadfree integrate: error: ") and message in lines[0]
    assert captured.out == ""
    assert set(tmp_path.iterdir()) == before                     # nothing written


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("keep me")
    assert main(["integrate", "--signal", "cos", "--out", str(target), "--quiet"]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert target.read_text() == "keep me"


def test_loader_library_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("0,1\n0,2\n")
    with pytest.raises(QuadfreeError, match=r"bad\.csv"):
        load_samples(path)
    with pytest.raises(QuadfreeError, match="^domain"):
        builtin_signal("cos").with_domain(1.0, 1.0)
