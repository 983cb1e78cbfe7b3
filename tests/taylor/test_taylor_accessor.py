"""The numpy-like accessor S[b, c, x, y, z] and its .vol / .partials / .partials2 views."""

import torch

from quadfree.taylor import FC2T2, initialize


def expansion():
    g = torch.Generator().manual_seed(0)
    p = torch.rand(2, 300, 3, generator=g, dtype=torch.float64) * 2 - 1
    w = torch.randn(2, 3, 300, generator=g, dtype=torch.float64)
    return FC2T2("exp(-10*(x**2 + y**2 + z**2))", levels=2, order=4).expand(p, w)


def test_point_queries_match_evaluate():
    E = expansion()
    S = E.S
    pt = torch.tensor([[0.1, -0.2, 0.3]], dtype=torch.float64)
    full = E(pt)[:, :, 0]                                                # (B, C)
    torch.testing.assert_close(S[:, :, 0.1, -0.2, 0.3], full)
    torch.testing.assert_close(S[1, 2, 0.1, -0.2, 0.3], full[1, 2])
    torch.testing.assert_close(S[..., 0.1, -0.2, 0.3], full)
    torch.testing.assert_close(S[0, 1:, 0.1, -0.2, 0.3], full[0, 1:])
    assert S[0, 0, 0.1, -0.2, 0.3].shape == ()


def test_slices_are_linspace_and_broadcast():
    E = expansion()
    S = E.S
    z = torch.linspace(-0.5, 0.5, 7, dtype=torch.float64)
    a = S[0, 0, -0.5:0.5:7, -0.5:0.5:7, -0.5:0.5:7]
    torch.testing.assert_close(a, S[0, 0, z, z, z])
    pts = torch.stack([z, z, z], -1)
    torch.testing.assert_close(a, E(pts)[0, 0])
    assert S[0, 0, ::16, ::16, ::16].shape == (16,)
    assert S[0, 0, z, 0.0, 0.2].shape == (7,)                          # float broadcasts


def test_volume_queries_form_a_meshgrid():
    E = expansion()
    S = E.S
    v = S.vol[..., -1:1:4, -1:1:5, 0.0]
    assert v.shape == (2, 3, 4, 5, 1)
    x = torch.linspace(-1, 1, 4, dtype=torch.float64)
    y = torch.linspace(-1, 1, 5, dtype=torch.float64)
    torch.testing.assert_close(v[1, 2, 3, 4, 0], S[1, 2, x[3], y[4], 0.0])


def test_partials_match_gradient_and_hessian():
    E = expansion()
    S = E.S
    pt = torch.tensor([[0.3, 0.1, -0.6]], dtype=torch.float64)
    torch.testing.assert_close(S.partials[..., 0.3, 0.1, -0.6], E.gradient(pt)[:, :, 0])
    torch.testing.assert_close(S.partials2[..., 0.3, 0.1, -0.6], E.hessian(pt)[:, :, 0])
    assert S.partials.vol[0, 0, ::8, ::4, 0.0].shape == (8, 4, 1, 3)
    assert S.partials2[0, 0, 0.0, 0.0, 0.0].shape == (6,)


def test_accessor_is_differentiable_in_query_coordinates():
    E = expansion()
    x = torch.tensor([0.25, -0.3], dtype=torch.float64, requires_grad=True)
    y = E.S[0, 1, x, 0.1, 0.2]
    (gx,) = torch.autograd.grad(y.sum(), x)
    expect = E.S.partials[0, 1, x.detach(), 0.1, 0.2][:, 0]
    torch.testing.assert_close(gx, expect)


def test_paper_style_initialize():
    expand, A = initialize(lambda pkg: lambda x, y, z: pkg.exp(-5 * (x**2 + y**2 + z**2)),
                           levels=2, rho=4)
    L = expand(torch.zeros(1, 1, 3), torch.ones(1, 1, 1))
    assert L.shape == (1, 1, 8, 8, 8, 35)
    # one unit source at the origin: the field is the kernel itself
    assert abs(float(A(L)[0, 0, 0.2, 0.0, 0.0]) - float(torch.exp(torch.tensor(-0.2)))) < 3e-3
