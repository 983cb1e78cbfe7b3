"""Prepared (fixed) targets: same values and gradients as the uncached path, in float64."""

import pytest
import torch

from quadfree.errors import QuadfreeError
from quadfree.taylor import FC2T2, exact_sum, passes
from quadfree.taylor.layers import KernelSum
from quadfree.taylor.ops import kernel_sum
from quadfree.taylor.targets import FixedTargets, value_and_gradient

POLY = {2: "(1 + x**2 + y**2)**2", 3: "(1 + x**2 + y**2 + z**2)**2"}
GAUSS = {2: "exp(-12*(x**2 + y**2))", 3: "exp(-12*(x**2 + y**2 + z**2))"}


def problem(dim, B, C, N, M, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(B, N, dim, generator=g, dtype=torch.float64) * 1.8 - 0.9
    w = torch.randn(B, C, N, generator=g, dtype=torch.float64)
    q = torch.rand(M, dim, generator=g, dtype=torch.float64) * 2 - 1
    q[0] = 1.0                                       # a target on the domain's corner
    gy = torch.randn(B, C, M, generator=g, dtype=torch.float64)
    return p, w, q, gy


def value_and_grads(p, w, q, gy, S):
    p, w = p.clone().requires_grad_(), w.clone().requires_grad_()
    y = kernel_sum(p, w, q, S)
    y.backward(gy)
    return y.detach(), p.grad, w.grad


@pytest.mark.parametrize("dim,B,C,m2l,levels", [(3, 1, 1, "auto", 3), (3, 2, 3, "auto", 2),
                                                 (3, 1, 2, "general", 2),
                                                 (2, 2, 2, "auto", 3), (2, 1, 1, "general", 2)])
def test_fixed_targets_match_the_uncached_path(dim, B, C, m2l, levels):
    S = FC2T2(GAUSS[dim], levels=levels, order=4, dim=dim, m2l=m2l)
    p, w, q, gy = problem(dim, B, C, N=70, M=90)
    y0, gp0, gw0 = value_and_grads(p, w, q, gy, S)
    y1, gp1, gw1 = value_and_grads(p, w, FixedTargets(q, S), gy, S)
    for a, b in ((y1, y0), (gp1, gp0), (gw1, gw0)):
        assert a.shape == b.shape
        assert float((a - b).abs().max()) <= 1e-12 * float(b.abs().max())


def test_fixed_targets_polynomial_kernel_exact_against_dense():
    S = FC2T2(POLY[3], levels=2, order=4, separation=1)
    p, w, q, gy = problem(3, 2, 2, N=30, M=40, seed=2)
    y1, gp1, gw1 = value_and_grads(p, w, FixedTargets(q, S), gy, S)
    pp, ww = p.clone().requires_grad_(), w.clone().requires_grad_()
    y0 = exact_sum(S.kernel, pp, ww, q)
    y0.backward(gy)
    for a, b in ((y1, y0.detach()), (gp1, pp.grad), (gw1, ww.grad)):
        assert float((a - b).norm() / b.norm()) < 1e-11


def test_fixed_targets_gradcheck():
    S = FC2T2(POLY[2], levels=1, order=4, dim=2, separation=1)
    p, w, q, _ = problem(2, 1, 2, N=4, M=5, seed=3)
    T = FixedTargets(q, S)
    inputs = (p.clone().requires_grad_(), w.clone().requires_grad_())
    assert torch.autograd.gradcheck(lambda p, w: kernel_sum(p, w, T, S), inputs,
                                    eps=1e-6, atol=1e-7)


def test_expand_moments_equals_expand():
    for dim, m2l, levels in ((3, "auto", 3), (3, "general", 2), (2, "auto", 3)):
        S = FC2T2(GAUSS[dim], levels=levels, order=4, dim=dim, m2l=m2l)
        p, w, _, _ = problem(dim, 2, 2, N=50, M=1)
        rows = passes.p2m_rows(p, w, S.n, S.order)
        a = S.expand_moments(rows, 2, 2).coeffs
        b = S.expand(p, w).coeffs
        assert torch.allclose(a, b, rtol=0, atol=1e-13 * float(b.abs().max()))


def test_fixed_targets_moments_equal_p2m_rows():
    S = FC2T2(GAUSS[3], levels=2, order=3)
    _, _, q, gy = problem(3, 2, 2, N=1, M=60)
    rows = FixedTargets(q, S).moments(gy)
    ref = passes.p2m_rows(q[None].expand(2, -1, -1), gy, S.n, S.order)
    assert rows.shape == ref.shape and rows.stride() == ref.stride()
    assert torch.allclose(rows, ref, rtol=0, atol=1e-13)


@pytest.mark.parametrize("dim", [2, 3])
def test_value_and_gradient_match_evaluate_and_gradient(dim):
    S = FC2T2(GAUSS[dim], levels=2, order=4, dim=dim)
    p, w, q, _ = problem(dim, 2, 3, N=40, M=25)
    E = S.expand(p, w)
    for x in (q, torch.rand(2, 25, dim, dtype=torch.float64) * 2 - 1):
        vg = value_and_gradient(E, x)
        assert vg.shape == (2, 3, 25, 1 + dim)
        assert torch.allclose(vg[..., 0], E.evaluate(x), rtol=0, atol=1e-12)
        assert torch.allclose(vg[..., 1:], E.gradient(x), rtol=0, atol=1e-10)


def test_layer_prepare_and_training_step_agree():
    S = FC2T2(GAUSS[3], levels=2, order=4)
    torch.manual_seed(0)
    a = KernelSum(S, torch.rand(40, 3, dtype=torch.float64) - 0.5, channels=2)
    with torch.no_grad():
        a.w.normal_()
    b = KernelSum(S, a.p.detach(), a.w.detach())
    q = torch.rand(50, 3, dtype=torch.float64) * 2 - 1
    T = b.prepare(q)
    for layer, x in ((a, q), (b, T)):
        layer(x).square().sum().backward()
    assert torch.allclose(a.p.grad, b.p.grad, rtol=1e-12, atol=1e-12)
    assert torch.allclose(a.w.grad, b.w.grad, rtol=1e-12, atol=1e-12)


def test_fixed_targets_errors_name_the_input():
    S = FC2T2(GAUSS[2], levels=1, order=2, dim=2)
    with pytest.raises(QuadfreeError, match="targets q"):
        FixedTargets(torch.zeros(2, 3, 2), S)
    with pytest.raises(QuadfreeError, match="outside the domain"):
        FixedTargets(torch.full((2, 2), 1.5), S)
    with pytest.raises(QuadfreeError, match="transform"):
        FixedTargets(torch.zeros(2, 2), "S")
    T = FixedTargets(torch.zeros(2, 2), S)
    p, w = torch.zeros(1, 3, 2, dtype=torch.float64), torch.zeros(1, 1, 3, dtype=torch.float64)
    with pytest.raises(QuadfreeError, match="targets q: prepared in torch.float32"):
        kernel_sum(p, w, T, S)
    other = FC2T2(GAUSS[2], levels=2, order=2, dim=2)
    with pytest.raises(QuadfreeError, match="another transform"):
        kernel_sum(p.float(), w.float(), T, other)
    with pytest.raises(QuadfreeError, match="values"):
        T.expand(torch.zeros(1, 1, 3))


@pytest.mark.parametrize("fixed_q", [False, True])
def test_fixed_sources_match_the_uncached_path(fixed_q):
    S = FC2T2(GAUSS[3], levels=3, order=4)
    p, w, q, gy = problem(3, 1, 2, N=60, M=70, seed=4)
    layer = KernelSum(S, p, w, learn_sources=False)
    src = layer.fixed_sources()
    assert src is not None and layer.fixed_sources() is src          # prepared once
    y = layer(FixedTargets(q, S) if fixed_q else q)
    y.backward(gy)
    ww = w.clone().requires_grad_()
    y0 = kernel_sum(p, ww, q, S)
    y0.backward(gy)
    y, y0 = y.detach(), y0.detach()
    assert float((y - y0).abs().max()) <= 1e-12 * float(y0.abs().max())
    assert float((layer.w.grad - ww.grad).abs().max()) <= 1e-12 * float(ww.grad.abs().max())


def test_fixed_sources_gradcheck_and_checks():
    S = FC2T2(POLY[2], levels=1, order=4, dim=2, separation=1)
    p, w, q, _ = problem(2, 1, 2, N=4, M=5, seed=5)
    src = FixedTargets(p[0], S)
    assert torch.autograd.gradcheck(lambda w: kernel_sum(p, w, q, S, sources=src),
                                    (w.clone().requires_grad_(),), eps=1e-6, atol=1e-7)
    with pytest.raises(QuadfreeError, match="sources: must be the sources p"):
        kernel_sum(p + 0.01, w, q, S, sources=src)
    with pytest.raises(QuadfreeError, match="sources: must be the sources p"):
        kernel_sum(p.clone().requires_grad_(), w, q, S, sources=src)
    with pytest.raises(QuadfreeError, match="sources: expected a FixedTargets"):
        kernel_sum(p, w, q, S, sources=p)
    assert KernelSum(S, p).fixed_sources() is None                    # learned sources


def test_targets_prepared_under_one_transform_follow_the_kernel_of_another():
    # the cached basis depends only on grid, order and dimension; the passes (the kernel)
    # must be those of the transform passed in, in the forward with fixed sources and in
    # the backward
    S1 = FC2T2("exp(-20*(x**2 + y**2))", levels=2, order=4, dim=2)
    S2 = FC2T2("exp(-5*(x**2 + y**2))", levels=2, order=4, dim=2)
    p, w, q, gy = problem(2, 1, 1, N=30, M=50)
    ref = value_and_grads(p, w, q, gy, S2)
    got = value_and_grads(p, w, FixedTargets(q, S1), gy, S2)
    for a, b in zip(got, ref):
        assert (a - b).abs().max() < 1e-12 * (1 + b.abs().max())
    ys = kernel_sum(p, w, q, S2, sources=FixedTargets(p[0], S1))
    assert (ys - kernel_sum(p, w, q, S2)).abs().max() < 1e-12


def test_fixed_sources_outside_the_domain_with_clamp():
    S = FC2T2("exp(-20*(x**2 + y**2))", levels=2, order=4, dim=2, clamp=True)
    p = torch.tensor([[0.2, 0.1], [1.05, 0.0]], dtype=torch.float64)
    layer = KernelSum(S, p, learn_sources=False).double()
    q = torch.zeros(3, 2, dtype=torch.float64)
    ref = kernel_sum(p[None], layer.w.detach(), q, S)
    assert (layer(q).detach() - ref).abs().max() < 1e-12


def test_evaluate_rejects_an_expansion_of_another_grid():
    q = torch.rand(20, 2, dtype=torch.float64) - 0.5
    T = FixedTargets(q, FC2T2(GAUSS[2], levels=2, order=4, dim=2))
    E = FC2T2(GAUSS[2], levels=3, order=4, dim=2).expand(
        torch.rand(1, 5, 2, dtype=torch.float64) - 0.5, torch.ones(1, 1, 5, dtype=torch.float64))
    with pytest.raises(QuadfreeError, match="expansion"):
        T.evaluate(E)
