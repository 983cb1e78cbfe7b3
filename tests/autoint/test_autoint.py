"""quadfree.autoint: grad networks, exact segment/box integrals, additivity, sharing, chunking."""

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from quadfree.autoint import (
    AutoInt,
    GradNetwork,
    box_integral,
    directional_derivative,
    fit,
    mixed_partial,
)
from quadfree.errors import QuadfreeError
from quadfree.fields import MLP, PositionalEncoding, siren
from quadfree.quadrature.rules import gauss_legendre, quadrature_segment_integral

F64 = torch.float64


class SineProduct(nn.Module):
    """Φ(x) = Π_i sin(k_i x_i)/k_i: its mixed partial over all axes is Π_i cos(k_i x_i)."""

    def __init__(self, k):
        super().__init__()
        self.register_buffer("k", torch.as_tensor(k, dtype=F64))
        self.in_dim = len(k)

    def forward(self, x):
        return torch.prod(torch.sin(self.k * x) / self.k, dim=-1, keepdim=True)


def exact_box(k, lo, hi):
    """∫_box Π cos(k_i x_i) dx = Π (sin(k_i hi_i) − sin(k_i lo_i)) / k_i."""
    k = torch.as_tensor(k, dtype=F64)
    return torch.prod((torch.sin(k * hi) - torch.sin(k * lo)) / k, dim=-1, keepdim=True)


def random_boxes(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    lo = torch.rand(n, d, generator=g, dtype=F64) * 2 - 1
    hi = lo + torch.rand(n, d, generator=g, dtype=F64) * (1 - lo)
    return lo, hi


# ---------------------------------------------------------------- grad network = derivative

def _autograd_partial(phi, x, axes):
    """Reverse-mode reference: differentiate Φ's output (summed) along each axis in turn."""
    x = x.clone().requires_grad_(True)
    y = phi(x).sum()
    for axis in axes:
        (g,) = torch.autograd.grad(y, x, create_graph=True)
        y = g[..., axis].sum()
    return g[..., axes[-1]]


@pytest.mark.parametrize("act", ["sine", "swish", "tanh"])
@pytest.mark.parametrize("axes", [(0,), (2,), (0, 1), (2, 0, 1)])
def test_grad_network_equals_autograd_derivative(act, axes):
    torch.manual_seed(0)
    phi = MLP(3, 1, hidden=32, depth=3, activation=act, w0=5.0,
              encoding=PositionalEncoding(3, 2)).to(F64)
    x = torch.rand(64, 3, dtype=F64) * 2 - 1
    got = GradNetwork(phi, axes=axes)(x)[:, 0]
    assert torch.allclose(got, _autograd_partial(phi, x, axes), atol=1e-10, rtol=1e-9)


def test_grad_network_float32_tolerance_and_direction():
    torch.manual_seed(1)
    phi = siren(3, 2, hidden=32, depth=2)
    x = torch.rand(50, 3) * 2 - 1
    v = torch.tensor([0.3, -1.0, 2.0])
    got = GradNetwork(phi, direction=v)(x)
    jac = torch.autograd.functional.jacobian(lambda p: phi(p).sum(0), x)   # (2, 50, 3)
    ref = torch.einsum("cnd,d->nc", jac, v)
    assert torch.allclose(got, ref, atol=1e-4, rtol=1e-4)


def test_mixed_partial_of_plain_callable_uses_nested_forward_mode():
    phi = lambda x: x[..., :1] ** 2 * x[..., 1:2] ** 3 * x[..., 2:]   # noqa: E731
    x = torch.tensor([[1.5, 2.0, -1.0]], dtype=F64)
    assert mixed_partial(phi, x, (0, 1, 2)).item() == pytest.approx(2 * 1.5 * 3 * 4.0)
    assert directional_derivative(phi, x, torch.tensor([0.0, 0.0, 1.0])).item() == 18.0


def test_grad_network_argument_errors():
    phi = nn.Linear(2, 1)
    with pytest.raises(ValueError, match="exactly one"):
        GradNetwork(phi)
    with pytest.raises(ValueError, match="distinct"):
        GradNetwork(phi, axes=(0, 0))
    with pytest.raises(ValueError, match="non-zero"):
        GradNetwork(phi, direction=[0.0, 0.0])


# ------------------------------------------------------------------ parameter sharing

def test_optimizer_step_on_grad_network_changes_phi():
    torch.manual_seed(0)
    model = AutoInt(siren(1, 1, hidden=16, depth=2), axes=0)
    assert {id(p) for p in model.grad.parameters()} == {id(p) for p in model.phi.parameters()}
    x = torch.linspace(-1, 1, 32)[:, None]
    before = model.phi(x).detach().clone()
    opt = torch.optim.Adam(model.grad.parameters(), lr=1e-2)
    loss = (model.grad(x) - torch.cos(x)).pow(2).mean()
    loss.backward()
    opt.step()
    assert not torch.allclose(model.phi(x), before)


# ------------------------------------------------------------- exact integrals, 1-D to 3-D

def test_exact_1d_integrals_through_autoint():
    model = AutoInt(SineProduct([3.0]), axes=0)
    a = torch.tensor([-1.0, 0.0, 0.25], dtype=F64)
    b = torch.tensor([1.0, 0.5, 0.26], dtype=F64)
    got = model.integrate(a, b)[:, 0]
    expect = torch.cos(3 * a) * 0 + (torch.sin(3 * b) - torch.sin(3 * a)) / 3
    assert torch.allclose(got, expect, atol=1e-15)
    # the grad network is cos(3x): quadrature of it agrees
    assert torch.allclose(model.integrate_quadrature(a, b, nodes=12)[:, 0], expect, atol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_exact_box_integrals(d):
    k = [1.0, 2.5, 4.0][:d]
    model = AutoInt(SineProduct(k), axes=tuple(range(d)))
    lo, hi = random_boxes(200, d, seed=d)
    expect = exact_box(k, lo, hi)
    got = model.integrate_box(lo, hi) if d > 1 else model.integrate(lo, hi)
    assert torch.allclose(got, expect, atol=1e-14)
    # and the grad network is the integrand Π cos(k_i x_i)
    x = torch.rand(10, d, dtype=F64)
    integrand = torch.prod(torch.cos(torch.tensor(k, dtype=F64) * x), -1, keepdim=True)
    assert torch.allclose(model.grad(x), integrand, atol=1e-14)


def test_box_over_two_of_three_axes_keeps_the_third_fixed():
    phi = lambda x: (x[..., :1] ** 2 * x[..., 1:2] * x[..., 2:] ** 3)   # noqa: E731
    lo = torch.tensor([[0.0, 1.0, 2.0]], dtype=F64)
    hi = torch.tensor([[1.0, 3.0, 2.0]], dtype=F64)
    # ∫_0^1∫_1^3 ∂²Φ/∂x0∂x1 = ∫∫ 2 x0 z³ = z³ · [x0²]_0^1 · [x1]_1^3 = 8 · 1 · 2
    assert box_integral(phi, lo, hi, axes=(0, 1)).item() == pytest.approx(16.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=3, max_size=3),
       st.floats(-1.0, 1.0, allow_nan=False))
def test_additivity(points, other):
    torch.manual_seed(0)
    model = _ADDITIVITY_MODEL
    a, b, c = points
    pt = lambda t: torch.tensor([[t, other]], dtype=F64)   # noqa: E731
    left = model.integrate(pt(a), pt(b)) + model.integrate(pt(b), pt(c))
    assert torch.allclose(left, model.integrate(pt(a), pt(c)), atol=1e-12)


torch.manual_seed(0)
_ADDITIVITY_MODEL = AutoInt(siren(2, 2, hidden=16, depth=2).to(F64), axes=0)


# ----------------------------------------------------------------------- chunking

class CountingField(nn.Module):
    """Φ(x) = 2x + 1 that records the largest batch it was called with."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(1, 1)
        with torch.no_grad():
            self.lin.weight.fill_(2.0)
            self.lin.bias.fill_(1.0)
        self.max_rows = 0
        self.in_dim = 1

    def forward(self, x):
        self.max_rows = max(self.max_rows, x.shape[0])
        return self.lin(x)


def test_ten_million_intervals_in_bounded_chunks():
    phi = CountingField()
    model = AutoInt(phi, axes=0)
    n = 10_000_000
    a = torch.zeros(n)
    b = torch.linspace(0, 1, n)
    out = model.integrate(a, b, chunk_size=1 << 18)
    assert out.shape == (n, 1)
    assert phi.max_rows == 2 * (1 << 18)                     # both ends of one chunk at once
    assert torch.allclose(out[:, 0], 2 * b, atol=1e-5)
    assert not out.requires_grad


def test_box_and_quadrature_chunks_are_bounded():
    phi = CountingField()
    lo, hi = torch.zeros(5000, 1), torch.ones(5000, 1)
    box_integral(phi, lo, hi, axes=(0,), chunk_size=1000)
    assert phi.max_rows <= 1000
    phi.max_rows = 0
    out = quadrature_segment_integral(phi, lo, hi, nodes=7, chunk_size=700)
    assert phi.max_rows <= 700 and torch.allclose(out, torch.full((5000, 1), 2.0))


def test_gauss_legendre_exact_for_degree_2n_minus_1():
    x, w = gauss_legendre(4)
    for p in range(8):
        expect = 0.0 if p % 2 else 2.0 / (p + 1)
        assert float((w * x ** p).sum()) == pytest.approx(expect, abs=1e-14)
    assert float((w * x ** 8).sum()) != pytest.approx(2 / 9, abs=1e-6)


# --------------------------------------------------------------------- user errors

def test_integrate_rejects_bad_inputs():
    model = AutoInt(nn.Linear(2, 1), axes=0)
    good = torch.zeros(3, 2)
    with pytest.raises(QuadfreeError, match="shape"):
        model.integrate(good, torch.zeros(4, 2))
    with pytest.raises(QuadfreeError, match="non-finite"):
        model.integrate(good, torch.full((3, 2), float("nan")))
    with pytest.raises(QuadfreeError, match="outside the integrated axes"):
        model.integrate(good, torch.ones(3, 2))
    with pytest.raises(QuadfreeError, match="integrate_box"):
        AutoInt(nn.Linear(2, 1), axes=(0, 1)).integrate(good, good)
    with pytest.raises(QuadfreeError, match="no box integrals"):
        AutoInt(nn.Linear(2, 1), direction=[1.0, 1.0]).integrate_box(good, good)
    with pytest.raises(QuadfreeError, match="not parallel"):
        AutoInt(nn.Linear(2, 1), direction=[1.0, 1.0]).integrate(
            good, torch.tensor([[1.0, 0.0]] * 3))
    with pytest.raises(QuadfreeError, match="coordinate"):
        AutoInt(siren(2, 1, hidden=4, depth=1), axes=0).integrate(torch.zeros(3), torch.ones(3))


def test_directional_integral_is_line_integral():
    # Φ(x) = x0 * x1, v = (1, 1): ∇Φ·v = x0 + x1; from a = (0, 0) to b = s·v: ∫_0^s 2τ dτ = s²
    model = AutoInt(lambda_module(lambda x: x[..., :1] * x[..., 1:]), direction=[1.0, 1.0])
    a = torch.zeros(2, 2, dtype=F64)
    b = torch.tensor([[2.0, 2.0], [0.5, 0.5]], dtype=F64)
    assert model.integrate(a, b)[:, 0].tolist() == [4.0, 0.25]
    quad = model.integrate_quadrature(a, b, nodes=2)[:, 0]
    assert torch.allclose(quad, torch.tensor([4.0, 0.25], dtype=F64))


def lambda_module(fn):
    class Wrapped(nn.Module):
        def forward(self, x):
            return fn(x)
    return Wrapped()


# ----------------------------------------------------------------------------- fit

def test_fit_stops_at_target_and_is_reproducible():
    def run():
        torch.manual_seed(0)
        model = AutoInt(siren(1, 1, hidden=16, depth=2), axes=0)
        x = torch.linspace(-1, 1, 128)[:, None]
        hist = fit(model.grad, x, torch.cos(2 * x), steps=400, lr=1e-3, batch_size=64,
                   target_loss=1e-3, seed=5, progress=False)
        return hist
    h1, h2 = run(), run()
    assert h1.reached_target and h1.steps < 400 and h1.final_loss <= 1e-3
    assert h1.losses == h2.losses
    assert all(math.isfinite(v) for v in h1.losses)


def test_fit_refuses_broadcasting_shapes():
    model = AutoInt(siren(1, 1, hidden=8, depth=1), axes=0)
    x = torch.rand(16, 1)
    with pytest.raises(ValueError, match="shape"):
        fit(model.grad, x, torch.rand(16), steps=1, progress=False)


def test_fitted_1d_integral_of_cosine():
    torch.manual_seed(0)
    model = AutoInt(siren(1, 1, hidden=32, depth=2), axes=0)
    x = torch.linspace(-1, 1, 1024)[:, None]
    fit(model.grad, x, torch.cos(5 * x), steps=400, lr=1e-3, lr_final=1e-5, batch_size=512,
        progress=False)
    a, b = torch.tensor([-1.0, -0.3, 0.2]), torch.tensor([1.0, 0.9, 0.4])
    exact = (torch.sin(5 * b) - torch.sin(5 * a)) / 5
    got = model.integrate(a, b)[:, 0]
    assert float((got - exact).norm() / exact.norm()) < 1e-3


def test_fitted_3d_box_integral_of_cosine_product():
    """Must-show: a 3-D box integral through the public API within 1e-3 relative error.

    f(x, y, z) = cos(x)·cos(1.5y)·cos(2z) on [−1, 1]³; the exact box integral is the product
    of sines. The grad network is the third mixed partial of a SIREN Φ (explicit jet pass).
    """
    k = [1.0, 1.5, 2.0]
    kt = torch.tensor(k)
    torch.manual_seed(0)
    model = AutoInt(siren(3, 1, hidden=32, depth=2, w0=30.0, first_w0=3.0), axes=(0, 1, 2))
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1 << 14, 3, generator=g) * 2 - 1
    y = torch.prod(torch.cos(kt * x), -1, keepdim=True)
    hist = fit(model.grad, x, y, steps=800, lr=4e-3, lr_final=4e-5, batch_size=2048,
               progress=False)
    assert hist.final_loss < 1e-4
    lo, hi = random_boxes(2000, 3, seed=7)
    got = model.integrate_box(lo, hi).double()
    expect = exact_box(k, lo, hi)
    rel = float((got - expect).norm() / expect.norm())
    assert rel <= 1e-3, rel
    # corners outside the integrated axes must agree: a full-domain box is one number
    whole = model.integrate_box(-torch.ones(1, 3), torch.ones(1, 3)).item()
    assert whole == pytest.approx(exact_box(k, -torch.ones(1, 3), torch.ones(1, 3)).item(),
                                  rel=2e-3)


def test_fitted_box_corners_sign_convention():
    lo, hi = torch.zeros(1, 2), torch.ones(1, 2)
    corners = list(itertools.product((0, 1), repeat=2))
    from quadfree.autoint import box_corners
    pts, signs = box_corners(lo, hi, (0, 1))
    for (i, j), p, s in zip(corners, pts, signs):
        assert p[0].tolist() == [float(i), float(j)]
        assert s.item() == (-1) ** (2 - i - j)
