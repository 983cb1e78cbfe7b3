"""The peers of `bench integrate` against exact or dense references (float64)."""

import itertools

import numpy as np
import pytest
import torch

from quadfree.apps.bench.integrate import spline_rows
from quadfree.apps.bench.integrate_boxes import BoxSettings, BoxTestField, random_boxes
from quadfree.apps.bench.integrate_peers import (
    SummedVolumeTable,
    cell_centres,
    gauss_legendre_box,
    monte_carlo_box,
    rbf_to_grid,
    spline_antiderivative,
)
from quadfree.cli.bench_integrate import parse_box_dims
from quadfree.errors import QuadfreeError


def _piecewise_constant_box(cells: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Dense reference: Σ over cells of value × overlap volume with each box, on [−1, 1]^d."""
    d = cells.ndim
    out = np.zeros(len(lo))
    edges = [np.linspace(-1, 1, n + 1) for n in cells.shape]
    for k in range(len(lo)):
        overlaps = [np.clip(np.minimum(e[1:], hi[k, i]) - np.maximum(e[:-1], lo[k, i]), 0, None)
                    for i, e in enumerate(edges)]
        weight = overlaps[0]
        for i in range(1, d):
            weight = np.multiply.outer(weight, overlaps[i])
        out[k] = (weight * cells).sum()
    return out


@pytest.mark.parametrize("shape", [(7, 5), (4, 6, 3)])
def test_summed_volume_table_is_exact_for_piecewise_constant_fields(shape):
    g = torch.Generator().manual_seed(1)
    cells = torch.randn(shape, generator=g, dtype=torch.float64)
    lo, hi = random_boxes(50, len(shape), 0.01, g)
    svt = SummedVolumeTable(cells, (-1.0,) * len(shape), (1.0,) * len(shape))
    got = svt.integrate(lo, hi, chunk_size=16).numpy()            # several chunks
    expect = _piecewise_constant_box(cells.numpy(), lo.numpy(), hi.numpy())
    np.testing.assert_allclose(got, expect, rtol=1e-11, atol=1e-12)
    whole = svt.integrate(-torch.ones(1, len(shape)), torch.ones(1, len(shape)))
    assert whole.item() == pytest.approx(float(cells.sum() * 2 ** len(shape) / cells.numel()))


def test_summed_volume_table_of_a_smooth_field_converges_at_second_order():
    field = BoxTestField(2)
    lo, hi = random_boxes(200, 2, 0.1, torch.Generator().manual_seed(2))
    exact = field.box_integral(lo, hi)
    errors = []
    for n in (32, 64):
        cells = field.values(cell_centres((n, n), (-1, -1), (1, 1))).reshape(n, n)
        got = SummedVolumeTable(cells, (-1, -1), (1, 1)).integrate(lo, hi)
        errors.append(float((got - exact).norm() / exact.norm()))
    assert errors[1] < 1e-3 and 3.0 < errors[0] / errors[1] < 5.0, errors


@pytest.mark.parametrize("dim", [2, 3])
def test_box_test_field_integral_matches_dense_quadrature(dim):
    field = BoxTestField(dim)
    lo, hi = random_boxes(40, dim, 0.1, torch.Generator().manual_seed(3))
    dense = gauss_legendre_box(lambda x: field.values(x)[:, None], lo, hi, nodes=24)[:, 0]
    np.testing.assert_allclose(field.box_integral(lo, hi).numpy(), dense.numpy(), rtol=1e-10,
                               atol=1e-12)


def test_box_test_field_rejects_other_dimensions():
    with pytest.raises(QuadfreeError, match="dimension"):
        BoxTestField(4)


def test_gauss_legendre_box_is_exact_for_low_degree_polynomials():
    f = lambda x: (x[:, :1] ** 3 * x[:, 1:2] ** 2 * x[:, 2:3])   # noqa: E731
    lo = torch.tensor([[-0.5, 0.0, 0.2], [0.1, -1.0, -0.3]], dtype=torch.float64)
    hi = torch.tensor([[0.7, 0.5, 0.9], [0.4, 1.0, 0.8]], dtype=torch.float64)
    expect = ((hi[:, 0] ** 4 - lo[:, 0] ** 4) / 4 * (hi[:, 1] ** 3 - lo[:, 1] ** 3) / 3
              * (hi[:, 2] ** 2 - lo[:, 2] ** 2) / 2)
    got = gauss_legendre_box(f, lo, hi, nodes=2, chunk_size=4)[:, 0]
    torch.testing.assert_close(got, expect, rtol=1e-13, atol=1e-15)


def test_monte_carlo_box_converges_to_the_exact_integral():
    field = BoxTestField(2)
    lo, hi = random_boxes(20, 2, 0.5, torch.Generator().manual_seed(4))
    got = monte_carlo_box(lambda x: field.values(x)[:, None], lo, hi, 20_000,
                          torch.Generator().manual_seed(5), chunk_size=1 << 15)[:, 0]
    exact = field.box_integral(lo, hi)
    rel = float((got - exact).norm() / exact.norm())
    assert rel < 0.02, rel
    with pytest.raises(QuadfreeError, match="samples"):
        monte_carlo_box(field.values, lo, hi, 0, torch.Generator())


def test_spline_antiderivative_is_exact_for_cubics():
    x = np.sort(np.random.default_rng(0).uniform(-1, 1, 30))
    f = lambda t: 2 * t ** 3 - t + 0.25                           # noqa: E731
    F = lambda t: t ** 4 / 2 - t ** 2 / 2 + 0.25 * t              # noqa: E731
    S = spline_antiderivative(x, f(x))
    a, b = np.array([x[0], -0.3]), np.array([x[-1], 0.6])
    np.testing.assert_allclose(S(b) - S(a), F(b) - F(a), rtol=1e-12)


def test_spline_rows_report_both_sample_counts_against_the_exact_integral():
    x = np.linspace(-1, 1, 1000)
    a, b = np.array([-0.9, 0.0]), np.array([0.5, 1.0])
    exact = torch.as_tensor((np.sin(5 * b) - np.sin(5 * a)) / 5)
    rows = spline_rows(x, np.cos(5 * x), a, b, exact, coarse=20, repeats=2)
    assert [r["samples"] for r in rows] == [1000, 20]
    assert rows[0]["rel_error"] < 1e-10 < rows[1]["rel_error"] < 1e-3
    assert all(len(r["answer_times"]) == 2 and r["build_seconds"] > 0 for r in rows)
    with pytest.raises(QuadfreeError, match="spline_coarse"):
        spline_rows(x, np.cos(5 * x), a, b, exact, coarse=1, repeats=1)


def test_rbf_to_grid_reproduces_linear_fields_in_3d():
    p = np.random.default_rng(1).uniform(-1, 1, (300, 3))
    lin = lambda q: 0.5 + q[..., 0] - 2 * q[..., 1] + 3 * q[..., 2]   # noqa: E731
    grid = rbf_to_grid(p, lin(p), (3, 4, 2), (-1, -1, -1), (1, 1, 1), neighbors=20)
    expect = lin(cell_centres((3, 4, 2), (-1, -1, -1), (1, 1, 1)).numpy()).reshape(3, 4, 2)
    np.testing.assert_allclose(grid.numpy(), expect, atol=1e-8)


def test_cell_centres_are_in_c_order():
    c = cell_centres((2, 3), (0.0, 0.0), (2.0, 3.0))
    expect = [[0.5 + i, 0.5 + j] for i, j in itertools.product(range(2), range(3))]
    assert c.tolist() == expect


def test_box_settings_and_dims_name_the_bad_value():
    assert parse_box_dims("2,3") == [2, 3] and parse_box_dims(" none ") == []
    for bad in ("4", "2,x", "1,2"):
        with pytest.raises(QuadfreeError, match="box dimensions"):
            parse_box_dims(bad)
    with pytest.raises(QuadfreeError, match="mc_samples"):
        BoxSettings(mc_samples=0).check()
    with pytest.raises(QuadfreeError, match="noise"):
        BoxSettings(noise=-1.0).check()


def test_cli_rejects_bad_box_settings_before_any_work(tmp_path, capsys):
    from quadfree.cli.main import main

    out = tmp_path / "b.json"
    assert main(["bench", "integrate", "--json", str(out), "--box-dims", "4", "--quiet"]) == 2
    assert main(["bench", "integrate", "--json", str(out), "--mc-samples", "0", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "box dimensions" in err[0] and "--mc-samples" in err[1], err
    assert main(["bench", "integrate", "--json", str(out), "--min-length", "0", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--min-length 0.0: must be in (0, 2]" in err[0], err
    assert not out.exists()


def test_integrate_bench_options_name_parameters_not_flags():
    from quadfree.apps.bench.integrate import IntegrateBenchOptions
    for bad, param in (({"box_samples": 0}, "box_samples"), ({"intervals": 0}, "intervals"),
                       ({"box_noise": -1.0}, "box_noise"), ({"box_dims": (4,)}, "box_dims")):
        with pytest.raises(QuadfreeError) as err:
            IntegrateBenchOptions(**bad).check()
        assert err.value.param == param and "--" not in str(err.value)
