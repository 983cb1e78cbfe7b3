"""Bad input to the Taylor expansion raises QuadfreeError naming the input."""

import pytest
import torch

from quadfree.errors import QuadfreeError
from quadfree.taylor import FC2T2

KERNEL = "exp(-10*(x**2 + y**2 + z**2))"


@pytest.fixture(scope="module")
def S():
    return FC2T2(KERNEL, levels=1, order=2)


def test_sources_outside_domain(S):
    p = torch.tensor([[[0.0, 0.0, 1.5]]])
    with pytest.raises(QuadfreeError, match="sources p: 1 point"):
        S.expand(p, torch.ones(1, 1, 1))


def test_queries_outside_domain_and_clamp_option():
    E = FC2T2(KERNEL, levels=1, order=2).expand(torch.zeros(1, 1, 3), torch.ones(1, 1, 1))
    with pytest.raises(QuadfreeError, match="query points"):
        E(torch.tensor([[2.0, 0.0, 0.0]]))
    with pytest.raises(QuadfreeError, match="query points"):
        E.S[0, 0, -2.0, 0.0, 0.0]
    Ec = FC2T2(KERNEL, levels=1, order=2, clamp=True).expand(
        torch.tensor([[[0.0, 0.0, 3.0]]]), torch.ones(1, 1, 1))
    torch.testing.assert_close(Ec(torch.tensor([[0.0, 0.0, 5.0]])),
                               Ec(torch.tensor([[0.0, 0.0, 1.0]])))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_inputs(S, bad):
    p = torch.zeros(1, 2, 3)
    w = torch.ones(1, 1, 2)
    with pytest.raises(QuadfreeError, match="sources p"):
        S.expand(p.clone().index_fill_(1, torch.tensor([1]), bad), w)
    with pytest.raises(QuadfreeError, match="weights w"):
        S.expand(p, w.clone().fill_(bad))
    E = S.expand(p, w)
    with pytest.raises(QuadfreeError, match="query points"):
        E(torch.full((1, 3), bad))


def test_mismatched_shapes(S):
    with pytest.raises(QuadfreeError, match="weights w"):
        S.expand(torch.zeros(1, 5, 3), torch.ones(1, 1, 4))
    with pytest.raises(QuadfreeError, match="weights w"):
        S.expand(torch.zeros(2, 5, 3), torch.ones(1, 1, 5))
    with pytest.raises(QuadfreeError, match="sources p"):
        S.expand(torch.zeros(1, 5, 2), torch.ones(1, 1, 5))
    E = S.expand(torch.zeros(1, 5, 3), torch.ones(1, 1, 5))
    with pytest.raises(QuadfreeError, match="query points"):
        E(torch.zeros(4, 2))
    with pytest.raises(QuadfreeError, match="index"):
        E.S[0, 0, 0.0, 0.0]
    with pytest.raises(QuadfreeError, match="do not broadcast"):
        E.S[0, 0, torch.zeros(3), torch.zeros(4), 0.0]


def test_bad_configuration():
    with pytest.raises(QuadfreeError, match="order=5"):
        FC2T2(KERNEL, levels=2, order=5)
    with pytest.raises(QuadfreeError, match="levels=0"):
        FC2T2(KERNEL, levels=0)
    with pytest.raises(QuadfreeError, match="not symmetric"):
        FC2T2("x + y**2", levels=1, dim=2)
    with pytest.raises(QuadfreeError, match="unknown symbol"):
        FC2T2("exp(-a*x**2)", levels=1, dim=2)
    with pytest.raises(QuadfreeError, match="not a sympy expression"):
        FC2T2("exp(-(x**2", levels=1, dim=2)
    with pytest.raises(QuadfreeError, match="m2l='separable'"):
        FC2T2("1/(1 + x**2 + y**2)", levels=1, dim=2, m2l="separable")
    with pytest.raises(QuadfreeError, match="fit="):
        FC2T2(KERNEL, levels=1, fit="chebyshev")
