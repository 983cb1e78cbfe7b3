"""The compiled P2M equals the torch scatter-add (float64 and float32, several batches and
channels, points on cell faces and the domain boundary), and expand() uses it only without
autograd."""

import pytest
import torch

from quadfree.taylor import FC2T2, scatter
from quadfree.taylor.passes import p2m_rows
from quadfree.taylor.scatter import p2m_rows_compiled, usable


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
@pytest.mark.parametrize("order", [0, 2, 4])
def test_compiled_p2m_equals_torch_scatter(dtype, tol, order):
    g = torch.Generator().manual_seed(5)
    p = torch.rand(2, 400, 3, generator=g, dtype=torch.float64) * 2 - 1
    p[0, :4] = torch.tensor([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0], [0.0, 0.5, -0.5],
                             [1.0, -1.0, 0.25]], dtype=torch.float64)
    w = torch.rand(2, 3, 400, generator=g, dtype=torch.float64) - 0.3
    p, w = p.to(dtype), w.to(dtype)
    ref = p2m_rows(p.double(), w.double(), 8, order)
    got = p2m_rows_compiled(p, w, 8, order)
    assert got.shape == ref.shape and got.dtype == dtype and got.is_contiguous()
    torch.testing.assert_close(got.double(), ref, rtol=tol, atol=tol * ref.abs().max())


def test_compiled_p2m_handles_no_sources():
    out = p2m_rows_compiled(torch.zeros(1, 0, 3), torch.zeros(1, 2, 0), 4, 2)
    assert out.shape == (10, 64, 2) and float(out.abs().sum()) == 0.0


def test_expand_uses_compiled_p2m_only_without_autograd():
    g = torch.Generator().manual_seed(6)
    p = torch.rand(1, 300, 3, generator=g, dtype=torch.float64) * 2 - 1
    w = torch.rand(1, 1, 300, generator=g, dtype=torch.float64)
    assert usable(p, w)
    assert not usable(p, w.clone().requires_grad_())
    assert not usable(p[..., :2], w)
    S = FC2T2("exp(-20*(x**2+y**2+z**2))", levels=2, order=3)
    fast = S.expand(p, w).coeffs
    wg = w.clone().requires_grad_()
    slow = S.expand(p, wg).coeffs          # torch P2M (autograd) on the same problem
    torch.testing.assert_close(fast, slow.detach(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("sort_bytes", [0, 1 << 40])             # points in cell order or not
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_compiled_l2p_equals_torch_evaluation(dtype, tol, sort_bytes, monkeypatch):
    monkeypatch.setattr(scatter, "SORT_BYTES", sort_bytes)
    g = torch.Generator().manual_seed(9)
    p = (torch.rand(2, 300, 3, generator=g, dtype=torch.float64) * 2 - 1).to(dtype)
    w = torch.rand(2, 3, 300, generator=g, dtype=torch.float64).to(dtype)
    q = (torch.rand(2, 200, 3, generator=g, dtype=torch.float64) * 2 - 1).to(dtype)
    q[0, :3] = torch.tensor([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0], [0.0, 0.5, -0.25]], dtype=dtype)
    E = FC2T2("exp(-20*(x**2+y**2+z**2))", levels=2, order=4).expand(p, w)
    assert scatter.l2p_usable(E.coeffs, q)            # the compiled path is really taken
    fast = E(q)                                       # compiled (no autograd)
    qg = q.clone().requires_grad_()
    slow = E(qg).detach()                             # torch path (autograd through q)
    assert fast.shape == (2, 3, 200) and fast.dtype == dtype
    torch.testing.assert_close(fast, slow, rtol=tol, atol=tol * float(slow.abs().max()))
    shared = E(q[0])                                  # (M, 3) targets shared by the batch
    torch.testing.assert_close(shared[0], fast[0])
