"""Ray traversal and line2poly: every crossed cell in order, exact univariate polynomials."""

import math

import numpy as np
import pytest
import torch

from quadfree.errors import QuadfreeError
from quadfree.taylor import FC2T2
from quadfree.taylor.line2poly import bernstein, line2poly
from quadfree.taylor.rays import clip_to_domain, traverse
from quadfree.taylor.roots import crossings

F64 = torch.float64


def random_rays(k, d, seed):
    g = torch.Generator().manual_seed(seed)
    o = torch.rand(k, d, generator=g, dtype=F64) * 4 - 2
    r = torch.randn(k, d, generator=g, dtype=F64)
    # special rays: axis-parallel, on a grid plane, through a corner, missing, starting inside
    o[0], r[0] = torch.full((d,), -1.5, dtype=F64), torch.ones(d, dtype=F64)      # diagonal
    o[1], r[1] = torch.zeros(d, dtype=F64), torch.eye(d, dtype=F64)[0]              # on planes
    o[2], r[2] = torch.full((d,), 3.0, dtype=F64), torch.ones(d, dtype=F64)        # misses
    o[3] = torch.tensor([0.1, -0.3, 0.05][:d], dtype=F64)                           # inside
    o[4], r[4] = torch.tensor([-2.0, 0.3, 0.1][:d], dtype=F64), torch.eye(d, dtype=F64)[0]
    return o, r


def dense_cells(o, r, n, t0, t1, samples=20001):
    """Cells visited by dense sampling of each ray (the brute-force reference)."""
    out = []
    for k in range(o.shape[0]):
        if t1[k] <= t0[k]:
            out.append([])
            continue
        t = torch.linspace(float(t0[k]), float(t1[k]), samples, dtype=F64)[1:-1]
        x = o[k] + t[:, None] * r[k]
        c = ((x + 1) * n / 2).floor().clamp(0, n - 1).long()
        keep = torch.ones(len(c), dtype=torch.bool)
        keep[1:] = (c[1:] != c[:-1]).any(-1)
        out.append([tuple(v) for v in c[keep].tolist()])
    return out


@pytest.mark.parametrize("d", [2, 3])
def test_traversal_matches_dense_sampling(d):
    o, r = random_rays(40, d, seed=d)
    n = 8
    near, far = 0.0, 10.0
    seg = traverse(o, r, n, near, far)
    t0, t1 = clip_to_domain(o, r, near, far)
    ref = dense_cells(o, r, n, t0, t1)
    for k in range(o.shape[0]):
        v = seg.valid[k]
        cells = [tuple(c) for c in seg.cell[k][v].tolist()]
        # dense sampling can step over a segment shorter than its spacing (a corner cut);
        # every sampled cell must appear, in the same order
        long_enough = (seg.length[k][v] > 2 * (t1[k] - t0[k]) / 20000).tolist()
        assert [c for c, keep in zip(cells, long_enough) if keep] == ref[k], k
        if v.any():
            # contiguous, covering [t0, t1], valid entries first
            assert torch.allclose(seg.t_in[k][v][1:], seg.t_out[k][v][:-1])
            assert float(seg.t_in[k][v][0]) == pytest.approx(float(t0[k]))
            assert float(seg.t_out[k][v][-1]) == pytest.approx(float(t1[k]))
            assert not seg.valid[k][int(v.sum()):].any()
            mid = 0.5 * (seg.t_in[k][v] + seg.t_out[k][v])
            x = o[k] + mid[:, None] * r[k]
            h = 2.0 / n
            assert ((x - seg.centres[k][v]).abs() <= h / 2 + 1e-12).all()
    assert not seg.valid[2].any()                    # the missing ray
    assert seg.valid.sum(-1).max() <= d * n


def test_traversal_near_far_and_batch_shape():
    o = torch.tensor([[-3.0, 0.1, 0.2]], dtype=F64).expand(2, 5, 3)
    r = torch.tensor([1.0, 0.0, 0.0], dtype=F64)
    seg = traverse(o, r, 4, near=2.5, far=torch.full((2, 5), 3.25, dtype=F64))
    assert seg.valid.shape == (2, 5, 2)                 # x from −0.5 to 0.25: cells 1, 2
    assert seg.cell[0, 0, :, 0].tolist() == [1, 2]
    assert seg.t_in[0, 0].tolist() == [2.5, 3.0] and seg.t_out[0, 0].tolist() == [3.0, 3.25]


def test_traversal_rejects_bad_rays():
    with pytest.raises(QuadfreeError, match="zero vector"):
        traverse(torch.zeros(2, 3), torch.zeros(2, 3), 4)
    with pytest.raises(QuadfreeError, match="ray directions r"):
        traverse(torch.zeros(2, 3), torch.tensor([[1.0, float("nan"), 0.0]] * 2), 4)
    with pytest.raises(QuadfreeError, match="must end in"):
        traverse(torch.zeros(2, 3), torch.ones(2, 2), 4)
    with pytest.raises(QuadfreeError, match="near"):
        traverse(torch.zeros(2, 3), torch.ones(2, 3), 4, near=float("nan"))


@pytest.mark.parametrize("d,kernel", [(3, "exp(-6*(x**2+y**2+z**2))"), (2, "exp(-5*(x**2+y**2))")])
def test_line2poly_reproduces_the_expansion_along_the_ray(d, kernel):
    g = torch.Generator().manual_seed(1)
    S = FC2T2(kernel, levels=2, order=4, dim=d)
    p = torch.rand(2, 30, d, generator=g, dtype=F64) * 2 - 1
    w = torch.randn(2, 3, 30, generator=g, dtype=F64)
    E = S.expand(p, w)
    o, r = random_rays(12, d, seed=5)
    o, r = o.expand(2, -1, -1), r.expand(2, -1, -1)
    seg = traverse(o, r, E.n)
    poly = line2poly(E, seg, o, r)                                  # (B, C, R, S, ρ+1)
    tau = torch.rand(seg.valid.shape, generator=g, dtype=F64) * 2 - 1
    t = 0.5 * (seg.t_in + seg.t_out) + tau * 0.5 * seg.length
    x = (o[:, :, None, :] + t[..., None] * r[:, :, None, :]).clamp(-1, 1)
    # evaluate the expansion in the segment's own cell (not by locating the point again)
    vals = (poly * tau[:, None, ..., None] ** torch.arange(5, dtype=F64)).sum(-1)
    ref = E(x.reshape(2, -1, d)).reshape(vals.shape)
    v = seg.valid[:, None].expand_as(ref)
    inner = v & (tau.abs() < 0.999)[:, None]                       # away from cell faces
    assert inner.sum() > 100
    torch.testing.assert_close(vals[inner], ref[inner], atol=1e-12, rtol=1e-10)


def test_bernstein_coefficients_represent_the_polynomial():
    g = torch.Generator().manual_seed(2)
    c = torch.randn(50, 5, generator=g, dtype=F64)
    b = bernstein(c)
    tau = torch.linspace(-1, 1, 7, dtype=F64)
    x = (tau + 1) / 2
    basis = torch.stack([math.comb(4, i) * x ** i * (1 - x) ** (4 - i) for i in range(5)], -1)
    mono = tau[:, None] ** torch.arange(5, dtype=F64)
    torch.testing.assert_close(b @ basis.T, c @ mono.T, atol=1e-12, rtol=1e-12)


def test_crossings_find_every_sign_change():
    g = np.random.default_rng(3)
    for _ in range(20):
        roots = np.sort(g.uniform(-1.3, 1.3, 4))
        c = np.polynomial.polynomial.polyfromroots(roots) * g.uniform(0.1, 3)
        got = crossings(torch.tensor(c[None], dtype=F64))[0]
        want = roots[(roots >= -1) & (roots <= 1)]
        assert torch.isinf(got[len(want):]).all()
        np.testing.assert_allclose(got[: len(want)].numpy(), want, atol=1e-12)
    # a double root touches without crossing: (τ − 0.2)²(τ + 0.5)
    c = np.polynomial.polynomial.polyfromroots([0.2, 0.2, -0.5])
    got = crossings(torch.tensor(c[None], dtype=F64))[0]
    assert got[0].item() == pytest.approx(-0.5, abs=1e-12) and torch.isinf(got[1:]).all()
