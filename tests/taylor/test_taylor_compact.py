"""The finest level's degree-block M2L equals the dense-layout path (float64), values and
gradients."""

import pytest
import torch

from quadfree.taylor import FC2T2
from quadfree.taylor.compact import band_dense_flops, m2l_cells_flops


def _both(S, p, w):
    S.compact_finest = False
    dense = S.expand(p, w).coeffs
    S.compact_finest = True
    return S.expand(p, w).coeffs, dense


@pytest.mark.parametrize("levels,order,separation", [(1, 4, 2), (2, 3, 1), (3, 4, 2), (2, 0, 2)])
def test_block_m2l_equals_dense_path(levels, order, separation):
    g = torch.Generator().manual_seed(3)
    p = torch.rand(2, 700, 3, generator=g, dtype=torch.float64) * 2 - 1
    w = torch.rand(2, 2, 700, generator=g, dtype=torch.float64)
    S = FC2T2("exp(-25*(x**2+y**2+z**2))", levels=levels, order=order, separation=separation)
    compact, dense = _both(S, p, w)
    torch.testing.assert_close(compact, dense, rtol=1e-10, atol=1e-12)


def test_block_m2l_gradients_match_dense_path_and_gradcheck():
    g = torch.Generator().manual_seed(4)
    p = (torch.rand(1, 30, 3, generator=g, dtype=torch.float64) * 1.6 - 0.8).requires_grad_()
    w = torch.rand(1, 1, 30, generator=g, dtype=torch.float64).requires_grad_()
    q = torch.rand(20, 3, generator=g, dtype=torch.float64) * 2 - 1
    S = FC2T2("exp(-6*(x**2+y**2+z**2))", levels=2, order=2)
    grads = []
    for flag in (False, True):
        S.compact_finest = flag
        grads.append(torch.autograd.grad(S.expand(p, w)(q).pow(2).sum(), (p, w)))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    S.compact_finest = True
    assert torch.autograd.gradcheck(lambda w_: S.expand(p.detach(), w_)(q), (w,))


def test_block_m2l_executes_fewer_flops():
    W = torch.zeros(10, 50)
    assert m2l_cells_flops(64, 1, [W] * 3, 4) < 0.5 * band_dense_flops(64, 1, [W] * 3, 4)


def test_expansion_coefficients_are_contiguous():
    # a strided view here would move the layout change into every evaluation
    S = FC2T2("exp(-25*(x**2+y**2+z**2))", levels=2, order=3)
    E = S.expand(torch.rand(1, 50, 3) * 2 - 1, torch.rand(1, 2, 50))
    assert E.coeffs.is_contiguous()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_compiled_layout_change_equals_torch_copies(dtype, monkeypatch):
    """sum_cells' final layout change by the compiled gather-transpose (B = 2, C = 3; the
    M2L with the L2L, and the M2M) gives exactly the torch copies' cells."""
    from quadfree.taylor import compact, scatter
    g = torch.Generator().manual_seed(11)
    W = torch.rand(10, 50, generator=g, dtype=torch.float64).to(dtype)   # ρ = 4, s = 2
    A = torch.rand(35, 512, 6, generator=g, dtype=torch.float64).to(dtype)
    L = torch.rand(35, 64, 6, generator=g, dtype=torch.float64).to(dtype)
    Wl, Wm = W[:, :5], W[:5, :10]
    terms = [(A, [W] * 3, "m2l", 1.0), (L, [Wl] * 3, "up", 1.0)]
    calls = []
    original = scatter.rows_to_cells
    monkeypatch.setattr(scatter, "rows_to_cells",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    fast = compact.sum_cells(terms, 4, 2, 3)
    assert calls, "the compiled layout change was not taken"
    down = compact.m2l_cells(A, [Wm] * 3, 4, 2, 3, "down")
    monkeypatch.setattr(compact, "FAST_LAYOUT", False)
    assert torch.equal(fast, compact.sum_cells(terms, 4, 2, 3)) and fast.is_contiguous()
    assert torch.equal(down, compact.m2l_cells(A, [Wm] * 3, 4, 2, 3, "down"))
    assert fast.shape == (2, 3, 8, 8, 8, 35) and down.shape == (2, 3, 4, 4, 4, 35)
