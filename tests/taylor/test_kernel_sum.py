"""The explicit Taylor layer's expansion-based backward against autograd through exact_sum."""

import pytest
import torch

from quadfree.errors import QuadfreeError
from quadfree.taylor import FC2T2, exact_sum
from quadfree.taylor.functions import KernelSumFunction
from quadfree.taylor.layers import KernelSum
from quadfree.taylor.ops import kernel_sum

POLY = {2: "(1 + x**2 + y**2)**2", 3: "(1 + x**2 + y**2 + z**2)**2"}
GAUSS = {2: "exp(-12*(x**2 + y**2))", 3: "exp(-12*(x**2 + y**2 + z**2))"}


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def problem(dim: int, B: int, C: int, N: int, M: int, shared_q: bool, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(B, N, dim, generator=g, dtype=torch.float64) * 1.8 - 0.9
    w = torch.randn(B, C, N, generator=g, dtype=torch.float64)
    qshape = (M, dim) if shared_q else (B, M, dim)
    q = torch.rand(*qshape, generator=g, dtype=torch.float64) * 1.8 - 0.9
    gy = torch.randn(B, C, M, generator=g, dtype=torch.float64)
    return p, w, q, gy


def grads(fn, p, w, q, gy):
    leaves = [t.clone().requires_grad_() for t in (p, w, q)]
    y = fn(*leaves)
    y.backward(gy)
    return y.detach(), [t.grad for t in leaves]


@pytest.mark.parametrize("dim,B,C,shared_q", [(2, 2, 3, False), (3, 2, 2, True),
                                              (3, 1, 1, False), (2, 3, 1, True)])
def test_polynomial_kernel_gradients_exact(dim, B, C, shared_q):
    S = FC2T2(POLY[dim], levels=2, order=4, dim=dim, separation=1)
    p, w, q, gy = problem(dim, B, C, N=40, M=30, shared_q=shared_q)
    y, (gp, gw, gq) = grads(lambda p, w, q: kernel_sum(p, w, q, S), p, w, q, gy)
    y0, (rp, rw, rq) = grads(lambda p, w, q: exact_sum(S.kernel, p, w, q), p, w, q, gy)
    assert rel(y, y0) < 1e-11
    assert rel(gp, rp) < 1e-11
    assert rel(gw, rw) < 1e-11
    assert rel(gq, rq) < 1e-11
    assert gq.shape == q.shape and gp.shape == p.shape and gw.shape == w.shape


@pytest.mark.parametrize("dim,B,C,shared_q", [(2, 2, 2, False), (3, 2, 2, True)])
def test_gaussian_kernel_gradients_close(dim, B, C, shared_q):
    # σ = 1/√24 ≈ 0.2 on a level-3 grid (16 cells per axis, h = 0.125). At ρ = 4 the
    # expansion itself is accurate to ≈ 8e-5 (2-D) and ≈ 1.6e-4 (3-D) relative; w̄ is an
    # expansion of the same kind (so the same tolerance), p̄ and q̄ read its derivatives,
    # which lose about one digit (measured ≈ 1.2e-3 and ≈ 1.7e-3).
    S = FC2T2(GAUSS[dim], levels=3, order=4, dim=dim)
    p, w, q, gy = problem(dim, B, C, N=300, M=200, shared_q=shared_q, seed=1)
    y, (gp, gw, gq) = grads(lambda p, w, q: kernel_sum(p, w, q, S), p, w, q, gy)
    y0, (rp, rw, rq) = grads(lambda p, w, q: exact_sum(S.kernel, p, w, q), p, w, q, gy)
    assert rel(y, y0) < 3e-4
    assert rel(gw, rw) < 3e-4
    assert rel(gp, rp) < 3e-3
    assert rel(gq, rq) < 3e-3


def test_gradcheck_tiny_polynomial():
    S = FC2T2("(1 + x**2 + y**2)**2", levels=1, order=4, dim=2, separation=1)
    p, w, q, _ = problem(2, B=1, C=2, N=4, M=3, shared_q=False, seed=3)
    inputs = tuple(t.clone().requires_grad_() for t in (p, w, q))
    assert torch.autograd.gradcheck(lambda p, w, q: kernel_sum(p, w, q, S), inputs,
                                    eps=1e-6, atol=1e-7)


def test_only_q_needs_no_second_expansion(monkeypatch):
    S = FC2T2(GAUSS[2], levels=2, order=4, dim=2)
    p, w, q, gy = problem(2, B=1, C=1, N=20, M=10, shared_q=True)
    calls = []
    real = S.expand
    monkeypatch.setattr(S, "expand", lambda *a: calls.append(1) or real(*a))
    qq = q.clone().requires_grad_()
    kernel_sum(p, w, qq, S).backward(gy)
    assert len(calls) == 1 and qq.grad is not None
    pp = p.clone().requires_grad_()
    kernel_sum(pp, w, q, S).backward(gy)
    assert len(calls) == 3          # forward + one backward expansion of ȳ


def test_layer_recycles_its_expansion(monkeypatch):
    S = FC2T2(GAUSS[3], levels=2, order=4)
    layer = KernelSum(S, torch.rand(50, 3, dtype=torch.float64) - 0.5, channels=2)
    with torch.no_grad():
        layer.w.normal_()
    calls = []
    real = S.expand
    monkeypatch.setattr(S, "expand", lambda *a: calls.append(1) or real(*a))
    q1, q2 = torch.rand(8, 3, dtype=torch.float64) - 0.5, torch.zeros(3, 3, dtype=torch.float64)
    y1, y2 = layer(q1), layer(q2)
    layer.gradient(q1)
    layer.evaluate(q2)
    assert len(calls) == 1
    ref = exact_sum(S.kernel, layer.p.detach(), layer.w.detach(), q1)
    assert rel(y1.detach(), ref) < 1e-2 and y2.shape == (1, 2, 3)
    opt = torch.optim.SGD(layer.parameters(), lr=1e-3)
    (y1.sum() + y2.sum()).backward()
    assert len(calls) == 3          # one backward expansion per output
    opt.step()
    layer(q1)
    assert len(calls) == 4          # parameters changed: a new expansion


def test_fixed_sources_are_not_parameters():
    S = FC2T2(GAUSS[2], levels=1, order=2, dim=2)
    layer = KernelSum(S, torch.zeros(5, 2), learn_sources=False)
    assert [n for n, _ in layer.named_parameters()] == ["w"]
    layer(torch.zeros(2, 2)).sum().backward()
    assert layer.w.grad.shape == (1, 1, 5)


def test_bad_inputs_name_the_parameter():
    S = FC2T2(GAUSS[2], levels=1, order=2, dim=2)
    p, w, q = torch.zeros(1, 3, 2), torch.zeros(1, 1, 3), torch.zeros(4, 2)
    with pytest.raises(QuadfreeError, match="weights w"):
        kernel_sum(p, torch.zeros(1, 1, 4), q, S)
    with pytest.raises(QuadfreeError, match="targets q"):
        kernel_sum(p, w, torch.zeros(4, 3), S)
    with pytest.raises(QuadfreeError, match="targets q"):
        kernel_sum(p, w, torch.full((4, 2), 1.5), S)
    with pytest.raises(QuadfreeError, match="sources p"):
        kernel_sum(torch.full((1, 3, 2), float("nan")), w, q, S)
    with pytest.raises(QuadfreeError, match="expansion"):
        kernel_sum(p, w, q, S, expansion=S.expand(p, torch.zeros(1, 2, 3)))
    with pytest.raises(QuadfreeError, match="transform"):
        kernel_sum(p, w, q, "exp(-x**2)")


def test_non_symmetric_kernel_rejected():
    with pytest.raises(QuadfreeError, match="not symmetric"):
        FC2T2("exp(-(x - 0.2)**2 - y**2)", levels=1, order=2, dim=2)


def test_function_is_usable_directly():
    S = FC2T2(POLY[2], levels=1, order=4, dim=2, separation=1)
    p, w, q, _ = problem(2, 1, 1, 5, 4, shared_q=True)
    assert rel(KernelSumFunction.apply(p, w, q, S, None), exact_sum(S.kernel, p, w, q)) < 1e-12
