"""FC²T² expansion against exact dense sums: exactness, convergence, multi-level bookkeeping."""

import numpy as np
import pytest
import torch

from quadfree.taylor import FC2T2, exact_sum
from quadfree.taylor.legendre import eval_numpy, gauss
from quadfree.taylor.multiindex import multi_indices, num_coefficients
from quadfree.taylor.operators import get_tables, offset_table_general
from quadfree.taylor.passes import ag_to_cells, basis_products, locate, p2m

F64 = torch.float64


def problem(b, c, n, m, dim, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    p = (torch.rand(b, n, dim, generator=g, dtype=dtype) * 2 - 1)
    w = torch.randn(b, c, n, generator=g, dtype=dtype)
    q = (torch.rand(b, m, dim, generator=g, dtype=dtype) * 2 - 1)
    return p, w, q


def rel(a, b):
    return float((a - b).norm() / b.norm())


def test_multi_index_counts():
    assert num_coefficients(3, 4) == 35 == len(multi_indices(3, 4))
    assert num_coefficients(2, 4) == 15 == len(multi_indices(2, 4))
    assert multi_indices(3, 1) == ((0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1))


def test_legendre_basis_is_orthonormal():
    x, w = gauss(8)
    e = eval_numpy(x, 4)
    np.testing.assert_allclose((e * w[:, None]).T @ e, np.eye(5), atol=1e-13)


@pytest.mark.parametrize("levels", [1, 3])
def test_polynomial_kernel_is_exact_general_m2l(levels):
    # a kernel of total degree ρ is represented exactly by every pass: the whole multi-level
    # FMM must then reproduce the dense sum to round-off, with batch and channels
    p, w, q = problem(2, 3, 300, 200, 3)
    S = FC2T2("(1 + x**2 + y**2 + z**2)**2", levels=levels, order=4, separation=1)
    assert not S.separable
    assert rel(S.expand(p, w)(q), exact_sum(S.kernel, p, w, q)) < 1e-12


@pytest.mark.parametrize("levels", [1, 3])
def test_polynomial_kernel_is_exact_separable_m2l_2d(levels):
    p, w, q = problem(2, 2, 400, 300, 2, seed=1)
    S = FC2T2("(1 + x**2) * (1 + 3*y**2)", levels=levels, order=4, dim=2)
    assert S.separable
    assert rel(S.expand(p, w)(q), exact_sum(S.kernel, p, w, q)) < 1e-12


def test_multi_level_equals_single_level_for_polynomial_kernel():
    p, w, q = problem(1, 1, 200, 100, 3, seed=2)
    ys = [FC2T2("1 + 2*x**2 + y**2 + x**2*z**2", levels=lev, order=4, separation=1
                ).expand(p, w)(q) for lev in (1, 2, 3)]
    assert rel(ys[1], ys[0]) < 1e-12 and rel(ys[2], ys[0]) < 1e-12


def test_multi_level_matches_dense_single_level_m2l_2d():
    # single-level reference: every target cell meets every source cell through the
    # finest-level least-squares M2L table (O(G²)); the multi-level scheme must agree with it
    # up to the (small) approximation error of the coarse levels.
    kernel, levels, order = "exp(-6*(x**2+y**2))", 2, 4
    S = FC2T2(kernel, levels=levels, order=order, dim=2)
    p, w, q = problem(1, 1, 400, 300, 2, seed=3)
    n = S.n
    M = ag_to_cells(p2m(p, w, n, order), 1, 1, 2, order)[0, 0].reshape(n * n, -1)
    cells = np.array([(i, j) for i in range(n) for j in range(n)])
    offs = np.array([(i, j) for i in range(-n + 1, n) for j in range(-n + 1, n)])
    G = offset_table_general(S.kernel, 2.0 / n, order, offs)
    table = {tuple(o): torch.as_tensor(G[k]) for k, o in enumerate(offs)}
    L = torch.zeros(n * n, M.shape[1], dtype=F64)
    for t, ct in enumerate(cells):
        for s, cs in enumerate(cells):
            L[t] += table[tuple(ct - cs)] @ M[s]
    idx, u = locate(q[0], n)
    E = basis_products(u, order)
    single = (L[idx[:, 0] * n + idx[:, 1]] * E).sum(-1)
    multi = S.expand(p, w)(q)[0, 0]
    exact = exact_sum(S.kernel, p, w, q)[0, 0]
    assert rel(single, exact) < 2e-3 and rel(multi, exact) < 2e-3
    assert rel(multi, single) < 1e-3


def test_wider_separation_reduces_coarse_level_error():
    p, w, q = problem(1, 1, 1500, 400, 3, seed=15)
    kernel = "exp(-10*(x**2 + y**2 + z**2))"
    exact = exact_sum(kernel, p, w, q)
    e1 = rel(FC2T2(kernel, levels=3, order=4, separation=1).expand(p, w)(q), exact)
    e2 = rel(FC2T2(kernel, levels=3, order=4, separation=2).expand(p, w)(q), exact)
    assert e2 < e1 / 4, (e1, e2)                                  # measured 1.5e-3 → 1.6e-4


@pytest.mark.parametrize("separation", [1, 2])
def test_separable_m2l_equals_general_m2l(separation):
    p, w, q = problem(1, 2, 500, 300, 3, seed=4)
    kernel = "exp(-12*(x**2 + y**2 + z**2))"
    sep = FC2T2(kernel, levels=2, order=4, m2l="separable", separation=separation)
    gen = FC2T2(kernel, levels=2, order=4, m2l="general", separation=separation)
    assert sep.separable and not gen.separable
    assert FC2T2(kernel, levels=2, order=4).separable           # chosen automatically
    assert rel(sep.expand(p, w)(q), gen.expand(p, w)(q)) < 1e-9


def test_error_falls_with_order():
    p, w, q = problem(1, 1, 1500, 400, 3, seed=5)
    kernel = "exp(-16*(x**2 + y**2 + z**2))"
    exact = exact_sum(kernel, p, w, q)
    errs = [rel(FC2T2(kernel, levels=3, order=o).expand(p, w)(q), exact)
            for o in (0, 1, 2, 3, 4)]
    # measured: 0.35, 0.068, 0.010, 1.4e-3, 2.1e-4 — each order at least 3× better
    assert all(b < a / 3 for a, b in zip(errs, errs[1:])), errs
    assert errs[-1] < 5e-4


def test_error_falls_with_level_for_a_fixed_kernel():
    p, w, q = problem(1, 1, 1500, 400, 3, seed=6)
    kernel = "exp(-40*(x**2 + y**2 + z**2))"
    exact = exact_sum(kernel, p, w, q)
    errs = [rel(FC2T2(kernel, levels=lev, order=4).expand(p, w)(q), exact) for lev in (1, 2, 3)]
    # measured: 0.31, 0.035, 1.5e-3
    assert errs[0] > 5 * errs[1] > 25 * errs[2], errs
    assert errs[2] < 3e-3


def test_matched_width_keeps_error_small_at_every_level():
    # α·h² fixed: the kernel narrows with the grid and the error stays at the same level
    p, w, q = problem(1, 1, 3000, 300, 3, seed=7)
    for lev in (1, 2, 3):
        h = 2.0 / 2 ** (lev + 1)
        kernel = f"exp(-{0.5 / h**2}*(x**2 + y**2 + z**2))"
        err = rel(FC2T2(kernel, levels=lev, order=4).expand(p, w)(q), exact_sum(kernel, p, w, q))
        assert err < 1.5e-3, (lev, err)            # measured 6.7e-4, 7.3e-4, 8.1e-4


def test_least_squares_beats_plain_taylor():
    p, w, q = problem(1, 1, 800, 300, 3, seed=8)
    kernel = "exp(-10*(x**2 + y**2 + z**2))"
    exact = exact_sum(kernel, p, w, q)
    e_ls = rel(FC2T2(kernel, levels=2, order=4, separation=1).expand(p, w)(q), exact)
    e_t = rel(FC2T2(kernel, levels=2, order=4, separation=1, fit="taylor").expand(p, w)(q),
              exact)
    # measured: least squares 1.5e-3, plain Taylor 5.0e-2 (§3.1, Figure 5)
    assert e_ls < e_t / 10, (e_ls, e_t)
    assert e_t < 0.1


def test_taylor_fit_is_exact_for_polynomials():
    p, w, q = problem(1, 1, 100, 50, 2, seed=9)
    S = FC2T2("(1 + x**2 + y**2)**2", levels=2, order=4, dim=2, fit="taylor")
    assert rel(S.expand(p, w)(q), exact_sum(S.kernel, p, w, q)) < 1e-12


def test_float32_matches_float64():
    p, w, q = problem(1, 1, 3000, 500, 3, seed=10)
    S = FC2T2("exp(-20*(x**2 + y**2 + z**2))", levels=3, order=4)
    y64 = S.expand(p, w)(q)
    y32 = S.expand(p.float(), w.float())(q.float())
    assert y32.dtype == torch.float32
    assert rel(y32.double(), y64) < 1e-5


def test_gradient_and_hessian_against_exact():
    p, w, q = problem(1, 1, 1500, 200, 3, seed=11)
    q = q * 0.95
    kernel = "exp(-8*(x**2 + y**2 + z**2))"
    E = FC2T2(kernel, levels=3, order=4).expand(p, w)
    qq = q[0].clone().requires_grad_(True)
    y = exact_sum(kernel, p, w, qq)[0, 0]
    (g,) = torch.autograd.grad(y.sum(), qq, create_graph=True)
    assert rel(E(q)[0, 0], y.detach()) < 5e-4                      # measured 1.7e-4
    assert rel(E.gradient(q)[0, 0], g.detach()) < 4e-3             # measured 1.6e-3
    hess_rows = [torch.autograd.grad(g[:, i].sum(), qq, retain_graph=True)[0] for i in range(3)]
    exact_h = torch.stack([hess_rows[i][:, j] for i in range(3) for j in range(i, 3)], -1)
    assert rel(E.hessian(q)[0, 0], exact_h) < 3e-2                 # measured 1.1e-2


def test_gradient_matches_autograd_of_the_expansion():
    p, w, q = problem(1, 2, 300, 50, 3, seed=12)
    E = FC2T2("exp(-8*(x**2 + y**2 + z**2))", levels=2, order=4).expand(p, w)
    qq = q.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(E(qq)[:, 1].sum(), qq)
    torch.testing.assert_close(g[0], E.gradient(q)[0, 1], rtol=1e-10, atol=1e-12)


def test_expansion_is_differentiable_in_weights_and_sources():
    p, w, q = problem(1, 1, 200, 100, 3, seed=13)
    kernel = "exp(-6*(x**2 + y**2 + z**2))"
    S = FC2T2(kernel, levels=2, order=4)
    pp, ww = p.clone().requires_grad_(True), w.clone().requires_grad_(True)
    gp, gw = torch.autograd.grad(S.expand(pp, ww)(q).sum(), (pp, ww))
    pe, we = p.clone().requires_grad_(True), w.clone().requires_grad_(True)
    ep, ew = torch.autograd.grad(exact_sum(kernel, pe, we, q).sum(), (pe, we))
    assert rel(gw, ew) < 5e-4 and rel(gp, ep) < 1e-2               # measured 1.3e-4, 2.3e-3


def test_monomial_coefficients_reproduce_values():
    p, w, q = problem(1, 1, 100, 20, 3, seed=14)
    E = FC2T2("exp(-5*(x**2 + y**2 + z**2))", levels=2, order=4).expand(p, w)
    mono = E.monomial_coefficients()[0, 0]
    idx, u = locate(q[0], E.n)
    c = mono[idx[:, 0], idx[:, 1], idx[:, 2]]                            # (M, P)
    powers = torch.stack([torch.prod(u ** torch.tensor(k, dtype=F64), -1)
                          for k in multi_indices(3, 4)], -1)
    torch.testing.assert_close((c * powers).sum(-1), E(q)[0, 0], rtol=1e-10, atol=1e-12)


def test_operator_tables_cached_in_memory_and_on_disk(tmp_path):
    from quadfree.taylor import operators
    S = FC2T2("exp(-7*(x**2 + y**2))", levels=2, order=3, dim=2, cache_dir=tmp_path)
    files = list(tmp_path.glob("taylor-*.npz"))
    assert len(files) == 1
    assert get_tables(S.kernel, 2, 3, "lstsq", None) is S.tables
    operators._MEMORY.clear()
    again = get_tables(S.kernel, 2, 3, "lstsq", None, cache_dir=tmp_path)
    assert again is not S.tables
    for a, b in zip(again.window, S.tables.window):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
