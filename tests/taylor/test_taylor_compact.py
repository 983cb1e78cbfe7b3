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
