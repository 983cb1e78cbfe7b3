"""FC²T² and the neighbour sum on a CUDA device agree with the CPU / exact references.

Marked ``cuda``: conftest.py skips them where torch sees no CUDA device; ``make gpu-check``
runs them on a GPU.
"""

import pytest
import torch

from quadfree.taylor import FC2T2, exact_sum
from quadfree.taylor.auto import fastest_sum
from quadfree.taylor.neighbour import neighbour_sum

pytestmark = pytest.mark.cuda
KERNEL = "exp(-60*(x**2+y**2+z**2))"


def _problem(n=3000, m=500, dtype=torch.float64):
    g = torch.Generator().manual_seed(5)
    p = torch.rand(1, n, 3, generator=g, dtype=dtype) * 2 - 1
    w = torch.rand(1, 1, n, generator=g, dtype=dtype)
    q = torch.rand(m, 3, generator=g, dtype=dtype) * 2 - 1
    return p, w, q


def test_expansion_on_cuda_matches_cpu_float64():
    p, w, q = _problem()
    S = FC2T2(KERNEL, levels=3, order=4)
    cpu = S.expand(p, w)(q)
    gpu = S.expand(p.cuda(), w.cuda())(q.cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-9, atol=1e-10)


def test_float32_expansion_on_cuda_is_accurate():
    p, w, q = _problem(dtype=torch.float32)
    S = FC2T2(KERNEL, levels=3, order=4)
    ref = exact_sum(KERNEL, p.double(), w.double(), q.double())
    gpu = S.expand(p.cuda(), w.cuda())(q.cuda()).cpu().double()
    assert float((gpu - ref).norm() / ref.norm()) < 2e-3


def test_gradients_on_cuda_match_cpu():
    p, w, q = _problem(400, 50)
    S = FC2T2(KERNEL, levels=2, order=3)
    grads = []
    for dev in ("cpu", "cuda"):
        pp = p.to(dev).requires_grad_(True)
        ww = w.to(dev).requires_grad_(True)
        S.expand(pp, ww)(q.to(dev)).sum().backward()
        grads.append((pp.grad.cpu(), ww.grad.cpu()))
    torch.testing.assert_close(grads[1][0], grads[0][0], rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(grads[1][1], grads[0][1], rtol=1e-8, atol=1e-10)


def test_neighbour_sum_on_cuda_matches_exact():
    p, w, q = _problem()
    ref = exact_sum(KERNEL, p, w, q)
    got = neighbour_sum(KERNEL, p.cuda(), w.cuda(), q.cuda(), 1e-5).cpu()
    assert float((got - ref).norm() / ref.norm()) < 1.5e-5


def test_fastest_sum_on_cuda_within_tolerance():
    p, w, q = _problem(5000, 400)
    y = fastest_sum(p.cuda(), w.cuda(), q.cuda(), KERNEL, 1e-3).cpu()
    ref = exact_sum(KERNEL, p, w, q)
    assert float((y - ref).norm() / ref.norm()) < 1e-3
