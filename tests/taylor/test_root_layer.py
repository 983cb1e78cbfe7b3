"""Root-implicit layer: depth and surface gradient against a dense reference (exact kernel sum
along each ray, first sign change, bisection), gradients against autograd through that
reference, gradcheck where the expansion is exact (a polynomial kernel)."""

import math

import pytest
import torch

from quadfree.errors import QuadfreeError
from quadfree.taylor import FC2T2, Kernel
from quadfree.taylor.rays import clip_to_domain
from quadfree.taylor.roots import depth, find_first_root, first_root, surface_gradient

F64 = torch.float64
GAUSS = "exp(-10*(x**2+y**2+z**2))"
POLY = "(1 + x**2 + y**2 + z**2)**2"          # degree 4 = ρ: the expansion is exact


def field(kernel, p, w):
    """Exact f(x) = Σ_n φ(x − p_n) w_n (differentiable in everything): p (N, d), w (N,)."""
    k = Kernel.parse(kernel, p.shape[-1])
    return lambda x: (k.torch_fn(x[..., None, :] - p) * w).sum(-1)


def reference_roots(f, o, r, level, near=0.0, far=math.inf, samples=3000):
    """First sign change of f(o + t r) − level in the domain part of [near, far].

    Returns t (R,) (differentiable in f's parameters, o, r through one Newton step from
    the converged root: the implicit-function-theorem derivative) and hit (R,).
    """
    with torch.no_grad():
        t0, t1 = clip_to_domain(o, r, near, far)
        s = torch.linspace(0, 1, samples, dtype=F64)
        t = t0[:, None] + s * (t1 - t0)[:, None]                       # (R, samples)
        g = f(o[:, None, :] + t[..., None] * r[:, None, :]) - level
        neg = g < 0
        change = (neg[:, 1:] != neg[:, :-1]) & (t1 > t0)[:, None]
        hit = change.any(1)
        i = change.float().argmax(1)
        lo = t.gather(1, i[:, None])[:, 0]
        hi = t.gather(1, i[:, None] + 1)[:, 0]
        lo_neg = neg.gather(1, i[:, None])[:, 0]
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            mneg = (f(o + mid[:, None] * r) - level) < 0
            left = mneg != lo_neg
            hi, lo = torch.where(left, mid, hi), torch.where(left, lo, mid)
        ts = torch.where(hit, 0.5 * (lo + hi), torch.zeros_like(lo))
    # one differentiable Newton step from the root: value = ts, derivative = IFT
    tq = ts.clone().requires_grad_(True)
    val = f(o.detach() + tq[:, None] * r.detach()) - level
    dfdt = torch.autograd.grad(val.sum(), tq)[0].detach()
    dfdt = torch.where(hit, dfdt, torch.ones_like(dfdt))
    t = ts - (f(o + ts[:, None] * r) - level) / dfdt
    return torch.where(hit, t, torch.zeros_like(t)), hit


def reference_gradient(f, x):
    """∇f(x) (R, d), differentiable (create_graph)."""
    if not x.requires_grad:
        x = x.requires_grad_(True)
    return torch.autograd.grad(f(x).sum(), x, create_graph=True)[0]


def blob(seed, n=40, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    p = (torch.rand(1, n, 3, generator=g, dtype=dtype) - 0.5) * 0.8
    w = (torch.rand(1, 1, n, generator=g, dtype=dtype) + 0.5) / n * 4
    return p, w


def camera_rays(k, seed, radius=1.8, spread=0.35):
    """Rays from a sphere around the domain toward random points near the centre."""
    g = torch.Generator().manual_seed(seed)
    o = torch.randn(k, 3, generator=g, dtype=F64)
    o = o / o.norm(dim=-1, keepdim=True) * radius
    target = (torch.rand(k, 3, generator=g, dtype=F64) - 0.5) * 2 * spread
    r = target - o
    return o, r / r.norm(dim=-1, keepdim=True)


def test_roots_are_exact_roots_of_the_expansion():
    S = FC2T2(GAUSS, levels=3, order=4)
    p, w = blob(0)
    E = S.expand(p, w)
    o, r = camera_rays(64, 1)
    level = 0.5
    hits = find_first_root(E, o, r, level)
    Ef = lambda x: E(x.clamp(-1, 1).reshape(1, -1, 3))[0, 0].reshape(x.shape[:-1])  # noqa: E731
    t_ref, hit_ref = reference_roots(Ef, o, r, level, samples=4000)
    assert hits.hit.sum() > 40 and (~hits.hit).sum() > 0
    assert torch.equal(hits.hit[0], hit_ref)
    torch.testing.assert_close(hits.t[0], t_ref.detach(), atol=1e-10, rtol=0)
    resid = E(hits.q)[0, 0][hits.hit[0]] - level
    assert resid.abs().max() < 1e-12
    chunked = find_first_root(E, o, r, level, chunk=7)           # chunks over rays agree
    assert torch.equal(chunked.hit, hits.hit)
    torch.testing.assert_close(chunked.t, hits.t, atol=1e-12, rtol=0)


def test_depth_and_normals_match_the_exact_kernel_sum():
    S = FC2T2(GAUSS, levels=4, order=4)
    p, w = blob(1)
    o, r = camera_rays(96, 2)
    level = 0.5
    out = first_root(S, p, w, o, r, level)
    f = field(GAUSS, p[0], w[0, 0])
    t_ref, hit_ref = reference_roots(f, o, r, level)
    both = out.hit[0] & hit_ref
    assert both.sum() > 60
    # the masks differ at most on rays that nearly graze the level set
    assert (out.hit[0] != hit_ref).sum() <= 2
    err_t = (out.t[0] - t_ref.detach())[both].abs()
    assert err_t.max() < 2e-3, float(err_t.max())
    g_ref = reference_gradient(f, o + t_ref.detach()[:, None] * r).detach()
    n_ref = g_ref / g_ref.norm(dim=-1, keepdim=True)
    n = out.gradient[0] / out.gradient[0].norm(dim=-1, keepdim=True)
    angle = torch.rad2deg(torch.arccos((n * n_ref).sum(-1).clamp(-1, 1)))[both]
    assert angle.max() < 1.0, float(angle.max())
    rel = (out.gradient[0] - g_ref)[both].norm() / g_ref[both].norm()
    assert rel < 1e-2, float(rel)
    assert (out.t[0][~out.hit[0]] == 0).all() and (out.gradient[0][~out.hit[0]] == 0).all()


def _layer_and_reference_grads(kernel, S, p, w, o, r, level, seed, use_normals,
                               normal_backward="exact"):
    g = torch.Generator().manual_seed(seed)
    R = o.shape[0]
    a = torch.randn(R, generator=g, dtype=F64)
    b = torch.randn(R, 3, generator=g, dtype=F64)
    leaves = [x.clone().requires_grad_(True) for x in (p, w, o, r)]
    out = first_root(S, *leaves, level, normal_backward=normal_backward)
    hit = out.hit[0]
    loss = (a * out.t[0] * hit).sum()
    if use_normals:
        loss = loss + (b * out.gradient[0] * hit[:, None]).sum()
    got = torch.autograd.grad(loss, leaves)
    ref_leaves = [x.clone().requires_grad_(True) for x in (p, w, o, r)]
    f = field(kernel, ref_leaves[0][0], ref_leaves[1][0, 0])
    t_ref, hit_ref = reference_roots(f, ref_leaves[2], ref_leaves[3], level)
    mask = hit & hit_ref
    loss = (a * t_ref * mask).sum()
    if use_normals:
        q = ref_leaves[2] + t_ref[:, None] * ref_leaves[3]
        loss = loss + (b * reference_gradient(f, q) * mask[:, None]).sum()
    want = torch.autograd.grad(loss, ref_leaves)
    return got, want, (hit != hit_ref).sum()


@pytest.mark.parametrize("use_normals", [False, True])
def test_gradients_exact_for_a_polynomial_kernel(use_normals):
    """With a kernel of degree ≤ ρ the expansion is exact, so the implicit-function-theorem
    backward must equal autograd through the dense reference to round-off."""
    S = FC2T2(POLY, levels=2, order=4, separation=1)
    p, w = blob(3, n=12)
    o, r = camera_rays(24, 4, spread=0.2)
    f0 = field(POLY, p[0], w[0, 0])(torch.zeros(1, 3, dtype=F64))
    level = float(f0) * 1.6
    got, want, mismatch = _layer_and_reference_grads(POLY, S, p, w, o, r, level, 5, use_normals)
    assert mismatch == 0
    for name, a, b in zip("pwor", got, want):
        torch.testing.assert_close(a, b, atol=1e-8, rtol=1e-7, msg=f"gradient w.r.t. {name}")


@pytest.mark.parametrize("use_normals,mode", [(False, "exact"), (True, "exact"),
                                              (True, "dipole")])
def test_gradients_match_autograd_through_the_dense_reference(use_normals, mode):
    S = FC2T2(GAUSS, levels=4, order=4)
    p, w = blob(6, n=30)
    o, r = camera_rays(48, 7)
    got, want, mismatch = _layer_and_reference_grads(GAUSS, S, p, w, o, r, 0.5, 8, use_normals,
                                                     mode)
    assert mismatch <= 1
    tol = 0.03 if use_normals else 0.005
    for name, a, b in zip("pwor", got, want):
        rel = float((a - b).norm() / b.norm())
        assert rel < tol, (name, rel)


def test_gradcheck_on_a_tiny_polynomial_case():
    S = FC2T2(POLY, levels=1, order=4, separation=1)
    p, w = blob(9, n=3)
    o, r = camera_rays(3, 10, spread=0.1)
    level = float(field(POLY, p[0], w[0, 0])(torch.zeros(1, 3, dtype=F64))) * 1.5

    def fn(p, w, o, r):
        out = first_root(S, p, w, o, r, level, normal_backward="exact")
        assert out.hit.all()
        return out.t, out.gradient

    leaves = [x.clone().requires_grad_(True) for x in (p, w, o, r)]
    assert torch.autograd.gradcheck(fn, leaves, atol=1e-6, rtol=1e-5)


def test_miss_graze_and_start_inside():
    S = FC2T2(GAUSS, levels=3, order=4)
    p = torch.zeros(1, 1, 3, dtype=F64)
    w = torch.ones(1, 1, 1, dtype=F64, requires_grad=True)
    level = math.exp(-2.5)                          # the sphere |x| = 0.5
    ex = torch.tensor([1.0, 0.0, 0.0], dtype=F64)
    o = torch.tensor([[-1.5, 0.0, 0.0],            # hits at t = 1
                      [-1.5, 0.45, 0.0],           # hits near the rim
                      [-1.5, 0.55, 0.0],           # passes outside the sphere: miss
                      [-1.5, 0.5, 0.0],            # grazes the sphere
                      [0.1, 0.0, 0.0],             # starts inside: leaves at x = 0.5
                      [-3.0, 3.0, 0.0]],           # never enters the domain
                     dtype=F64)
    r = ex.expand(6, 3)
    out = first_root(S, p, w, o, r, level)
    hit, t = out.hit[0], out.t[0].detach()
    # tolerance: the level-3 expansion's value error (~1e-3) over the slope |∇f| ≈ 0.8
    assert hit.tolist()[:3] == [True, True, False] and hit[4] and not hit[5]
    assert abs(float(t[0]) - 1.0) < 5e-3
    assert abs(float(t[1]) - (1.5 - math.sqrt(0.25 - 0.45 ** 2))) < 2e-2
    assert abs(float(t[4]) - 0.4) < 5e-3
    assert float(out.gradient.detach()[0, 4, 0]) < 0         # f decreases as the ray leaves
    if hit[3]:                                       # a graze may or may not cross the
        assert abs(float(t[3]) - 1.5) < 0.05         # approximate surface; if it does, at the rim
    (out.t[0] * hit).sum().backward()
    assert torch.isfinite(w.grad).all()
    # near/far: a root before near is skipped, a far before the root is a miss
    t_near, hit_near = depth(S, p, w.detach(), o[:1], r[:1], level, near=1.2)
    assert hit_near[0, 0] and abs(float(t_near[0, 0]) - 2.0) < 5e-3   # exit at x = +0.5
    _, hit_far = depth(S, p, w.detach(), o[:1], r[:1], level, far=0.9)
    assert not hit_far[0, 0]
    # t is in units of |r|
    t_long, _ = depth(S, p, w.detach(), o, 2 * r, level)
    torch.testing.assert_close(2 * t_long[0][hit], t[hit], atol=1e-12, rtol=0)


def test_batches_two_dimensions_and_float32():
    S2 = FC2T2("exp(-10*(x**2+y**2))", levels=3, order=4, dim=2)
    p = torch.tensor([[[0.0, 0.0]], [[0.2, 0.1]]], dtype=F64)
    w = torch.ones(2, 1, 1, dtype=F64)
    ang = torch.linspace(0, 2 * math.pi, 9, dtype=F64)[:-1]
    o = torch.stack([ang.cos(), ang.sin()], -1) * 0.9
    r = -o / 0.9
    t, hit = depth(S2, p, w, o, r, level=math.exp(-2.5))
    assert hit.all()
    for b in range(2):
        f = field("exp(-10*(x**2+y**2))", p[b], w[b, 0])
        t_ref, _ = reference_roots(f, o, r, math.exp(-2.5))
        assert (t[b] - t_ref.detach()).abs().max() < 2e-3
    g, _ = surface_gradient(S2, p, w, o, r, level=math.exp(-2.5))
    assert g.shape == (2, 8, 2)
    t32, hit32 = depth(S2, p.float(), w.float(), o.float(), r.float(), level=math.exp(-2.5))
    assert t32.dtype == torch.float32 and torch.equal(hit32, hit)
    assert (t32.double() - t).abs().max() < 1e-4


def test_user_errors_name_the_input():
    S = FC2T2(GAUSS, levels=1, order=2)
    p, w = torch.zeros(1, 1, 3), torch.ones(1, 1, 1)
    o, r = torch.zeros(2, 3), torch.ones(2, 3)
    with pytest.raises(QuadfreeError, match="weights w"):
        depth(S, p, torch.ones(1, 2, 1), o, r)
    with pytest.raises(QuadfreeError, match="level"):
        depth(S, p, w, o, r, level=float("inf"))
    with pytest.raises(QuadfreeError, match="ray origins o"):
        depth(S, p, w, torch.zeros(3, 2, 2, 3), r)
    with pytest.raises(QuadfreeError, match="ray directions r"):
        depth(S, p, w, o, torch.zeros(2, 3))
    with pytest.raises(QuadfreeError, match="S:"):
        depth("gauss", p, w, o, r)
    with pytest.raises(QuadfreeError, match="channel"):
        find_first_root(S.expand(p, w), o, r, channel=1)


def test_cell_ranges_bound_the_cell_polynomials():
    from quadfree.taylor.roots import cell_ranges
    g = torch.Generator().manual_seed(11)
    S = FC2T2(GAUSS, levels=2, order=4)
    p, w = blob(12)
    E = S.expand(p, w)
    lo, hi = cell_ranges(E)
    x = torch.rand(20000, 3, generator=g, dtype=F64) * 2 - 1
    cell = ((x + 1) * E.n / 2).floor().long().clamp(0, E.n - 1)
    flat = (cell[:, 0] * E.n + cell[:, 1]) * E.n + cell[:, 2]
    f = E(x)[0, 0]
    assert (lo[0, flat] <= f + 1e-12).all() and (f <= hi[0, flat] + 1e-12).all()
    # and they are useful: most cells of this blob are excluded for level 0.5
    assert ((lo[0] > 0.5) | (hi[0] < 0.5)).float().mean() > 0.5


def test_dipole_backward_in_float32():
    """The dipole's two monopoles nearly cancel: check float32 keeps the gradient."""
    S = FC2T2(GAUSS, levels=4, order=4)
    p, w = blob(13, n=20)
    o, r = camera_rays(32, 14)
    g = torch.Generator().manual_seed(15)
    b = torch.randn(32, 3, generator=g, dtype=F64)
    grads = []
    for dtype in (F64, torch.float32):
        leaves = [x.detach().to(dtype).clone().requires_grad_(True) for x in (p, w)]
        out = first_root(S, *leaves, o.to(dtype), r.to(dtype), 0.5, normal_backward="dipole")
        (b.to(dtype) * out.gradient[0]).sum().backward()
        grads.append([x.grad.double() for x in leaves])
    for a, c in zip(*grads):
        assert float((a - c).norm() / a.norm()) < 1e-3
    with pytest.raises(QuadfreeError, match="normal_backward"):
        first_root(S, p, w, o, r, 0.5, normal_backward="fast")
