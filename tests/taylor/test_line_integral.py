"""Line integrals through the expansion (issue 15 item 1, forward): against dense Gauss–Legendre
quadrature of the exact kernel sum along the same (domain-clipped) rays."""

import math

import numpy as np
import pytest
import torch

from quadfree.taylor import FC2T2, Kernel
from quadfree.taylor.line_integrals import line_integral
from quadfree.taylor.rays import clip_to_domain

F64 = torch.float64


def dense_line_integral(kernel, p, w, o, r, near=0.0, far=math.inf, nodes=400):
    """Σ_n w_n ∫ φ(o + t r − p_n) dt over the domain part of [near, far], by composite
    Gauss–Legendre (differentiable). p (B, N, d), w (B, C, N), o, r (R, d) → (B, C, R)."""
    k = Kernel.parse(kernel, p.shape[-1])
    t0, t1 = clip_to_domain(o, r, near, far)
    x, wq = np.polynomial.legendre.leggauss(nodes)
    x, wq = torch.tensor(x, dtype=F64), torch.tensor(wq, dtype=F64)
    t = 0.5 * (t0 + t1)[:, None] + 0.5 * (t1 - t0)[:, None] * x            # (R, Q)
    pts = o[:, None, :] + t[..., None] * r[:, None, :]                      # (R, Q, d)
    phi = k.torch_fn(pts[None, :, :, None, :] - p[:, None, None, :, :])     # (B, R, Q, N)
    vals = torch.einsum("brqn,bcn->bcrq", phi, w)
    return (vals * wq).sum(-1) * 0.5 * (t1 - t0)


def rays(k, d, seed):
    g = torch.Generator().manual_seed(seed)
    o = torch.rand(k, d, generator=g, dtype=F64) * 3 - 1.5
    r = torch.randn(k, d, generator=g, dtype=F64)
    e = torch.eye(d, dtype=F64)
    o[0], r[0] = torch.full((d,), -1.5, dtype=F64), torch.ones(d, dtype=F64)   # corners
    o[1], r[1] = torch.zeros(d, dtype=F64), e[0]                               # on cell faces
    o[2], r[2] = torch.full((d,), 0.3, dtype=F64), -e[1]                       # parallel
    o[3], r[3] = torch.full((d,), 2.0, dtype=F64), e[0]                        # outside
    return o, r


@pytest.mark.parametrize("d,kernel,tol", [(3, "exp(-8*(x**2+y**2+z**2))", 5e-4),
                                          (2, "exp(-6*(x**2+y**2))", 1e-4)])
def test_line_integral_matches_dense_quadrature(d, kernel, tol):
    g = torch.Generator().manual_seed(d)
    S = FC2T2(kernel, levels=3, order=4, dim=d)
    p = torch.rand(2, 40, d, generator=g, dtype=F64) * 2 - 1
    w = torch.randn(2, 3, 40, generator=g, dtype=F64)
    o, r = rays(30, d, seed=d + 10)
    got = line_integral(S.expand(p, w), o, r, near=-1.0, far=2.5)
    want = dense_line_integral(kernel, p, w, o, r, near=-1.0, far=2.5)
    assert got.shape == (2, 3, 30)
    assert (got[..., 3] == 0).all()                       # misses the domain
    err = float((got - want).abs().max() / want.abs().max())
    assert err < tol, err


def test_polynomial_kernel_is_exact_to_round_off():
    kernel = "(1 + x**2 + y**2 + z**2)**2"
    S = FC2T2(kernel, levels=2, order=4, separation=1)
    g = torch.Generator().manual_seed(0)
    p = torch.rand(1, 10, 3, generator=g, dtype=F64) * 2 - 1
    w = torch.randn(1, 2, 10, generator=g, dtype=F64)
    o, r = rays(20, 3, seed=3)
    leaves = [x.clone().requires_grad_(True) for x in (p, w, o, r)]
    got = line_integral(S.expand(leaves[0], leaves[1]), leaves[2], leaves[3], far=2.0)
    ref_leaves = [x.clone().requires_grad_(True) for x in (p, w, o, r)]
    want = dense_line_integral(kernel, *ref_leaves, far=2.0, nodes=8)     # exact: degree 4
    torch.testing.assert_close(got, want, atol=1e-11, rtol=1e-11)
    # autograd through the expansion and the segment bounds agrees with the dense reference
    c = torch.randn(got.shape, generator=g, dtype=F64)
    c[..., 0] = 0     # ray 0 enters through the domain's corner: not differentiable in o, r
    ga = torch.autograd.grad((c * got).sum(), leaves)
    gb = torch.autograd.grad((c * want).sum(), ref_leaves)
    for name, a, b in zip("pwor", ga, gb):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-8, msg=f"gradient w.r.t. {name}")


def test_near_far_split_the_integral():
    S = FC2T2("exp(-5*(x**2+y**2))", levels=2, order=4, dim=2)
    g = torch.Generator().manual_seed(1)
    E = S.expand(torch.rand(1, 20, 2, generator=g, dtype=F64) - 0.5,
                 torch.rand(1, 1, 20, generator=g, dtype=F64))
    o, r = rays(10, 2, seed=4)
    whole = line_integral(E, o, r, near=-5.0, far=5.0)
    split = torch.tensor(0.37, dtype=F64).expand(10)
    parts = line_integral(E, o, r, near=-5.0, far=split) + line_integral(E, o, r, split, 5.0)
    torch.testing.assert_close(parts, whole, atol=1e-12, rtol=1e-12)


def _layer_vs_dense(kernel, S, p, w, o, r, far, nodes, seed):
    from quadfree.taylor.line_integrals import line_integral_layer
    g = torch.Generator().manual_seed(seed)
    leaves = [x.clone().requires_grad_(True) for x in (p, w, o, r)]
    y = line_integral_layer(S, *leaves, far=far)
    ref_leaves = [x.clone().requires_grad_(True) for x in (p, w, o, r)]
    want = dense_line_integral(kernel, *ref_leaves, far=far, nodes=nodes)
    c = torch.randn(y.shape, generator=g, dtype=F64)
    c[..., 0] = 0     # ray 0 enters through the domain's corner: not differentiable in o, r
    got = torch.autograd.grad((c * y).sum(), leaves)
    ref = torch.autograd.grad((c * want).sum(), ref_leaves)
    return y, want, got, ref


def test_ray2m_backward_is_exact_for_a_polynomial_kernel():
    """Gauss points per segment carry exactly the segment's moments: with an exact expansion
    the ray2M backward equals autograd through the dense reference to round-off."""
    kernel = "(1 + x**2 + y**2 + z**2)**2"
    S = FC2T2(kernel, levels=2, order=4, separation=1)
    g = torch.Generator().manual_seed(20)
    p = torch.rand(2, 10, 3, generator=g, dtype=F64) * 2 - 1
    w = torch.randn(2, 2, 10, generator=g, dtype=F64)
    o, r = rays(16, 3, seed=21)
    y, want, got, ref = _layer_vs_dense(kernel, S, p, w, o, r, 2.0, 8, 22)
    torch.testing.assert_close(y, want.detach(), atol=1e-11, rtol=1e-11)
    for name, a, b in zip("pwor", got, ref):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-8, msg=f"gradient w.r.t. {name}")


@pytest.mark.parametrize("d", [2, 3])
def test_ray2m_backward_matches_the_dense_reference(d):
    kernel = "exp(-8*(x**2+y**2+z**2))" if d == 3 else "exp(-6*(x**2+y**2))"
    S = FC2T2(kernel, levels=3, order=4, dim=d)
    g = torch.Generator().manual_seed(30 + d)
    p = torch.rand(1, 30, d, generator=g, dtype=F64) * 2 - 1
    w = torch.randn(1, 2, 30, generator=g, dtype=F64)
    o, r = rays(20, d, seed=40 + d)
    _, _, got, ref = _layer_vs_dense(kernel, S, p, w, o, r, 3.0, 400, 50)
    for name, a, b in zip("pwor", got, ref):
        rel = float((a - b).norm() / b.norm())
        assert rel < 3e-3, (name, rel)


def test_ray2m_gradcheck_tiny():
    from quadfree.taylor.line_integrals import line_integral_layer
    S = FC2T2("(1 + x**2) * (1 + 3*y**2)", levels=1, order=4, dim=2)
    g = torch.Generator().manual_seed(60)
    p = torch.rand(1, 3, 2, generator=g, dtype=F64) - 0.5
    w = torch.randn(1, 2, 3, generator=g, dtype=F64)
    o = torch.tensor([[-1.5, 0.2], [0.3, -1.4], [-0.1, 0.05]], dtype=F64)
    r = torch.tensor([[1.0, 0.1], [0.2, 1.0], [0.7, -0.6]], dtype=F64)
    leaves = [x.clone().requires_grad_(True) for x in (p, w, o, r)]
    assert torch.autograd.gradcheck(lambda *a: line_integral_layer(S, *a, far=2.0), leaves,
                                    atol=1e-7, rtol=1e-6)
