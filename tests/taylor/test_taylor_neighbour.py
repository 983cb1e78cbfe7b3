"""The truncated neighbour sum against the dense exact sum (float64 reference)."""

import math

import pytest
import torch

from quadfree.errors import QuadfreeError
from quadfree.taylor import exact_sum
from quadfree.taylor.neighbour import backend_available, cutoff_radius, neighbour_sum, tail_fraction


def _problem(n, m, d, channels=1, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = (torch.rand(2, n, d, generator=g, dtype=dtype) * 2 - 1)
    w = torch.rand(2, channels, n, generator=g, dtype=dtype)
    q = (torch.rand(2, m, d, generator=g, dtype=dtype) * 2 - 1)
    return p, w, q


def _kernel(alpha, d):
    return f"exp(-{alpha}*({'+'.join(f'{s}**2' for s in 'xyz'[:d])}))"


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("d,channels", [(3, 1), (3, 2), (2, 1)])
@pytest.mark.parametrize("tol", [1e-3, 1e-6])
def test_error_follows_tolerance(backend, d, channels, tol):
    if backend == "numba" and backend_available() != "numba":
        backend = "torch"       # the torch backend answers either way
    p, w, q = _problem(1500, 400, d, channels)
    k = _kernel(150.0, d)
    ref = exact_sum(k, p, w, q)
    got = neighbour_sum(k, p, w, q, tol, backend=backend)
    rel = float((got - ref).norm() / ref.norm())
    # the tail share is the relative error for uniform densities (edge effects lower it)
    assert 0.1 * tol < rel < 1.5 * tol


def test_float32_single_channel_fast_path_matches_float64():
    p, w, q = _problem(2000, 300, 3, 1, dtype=torch.float32)
    k = _kernel(300.0, 3)
    ref = exact_sum(k, p.double(), w.double(), q.double())
    got = neighbour_sum(k, p, w, q, 1e-5)
    assert got.dtype == torch.float32
    assert float((got.double() - ref).norm() / ref.norm()) < 2e-5


def test_large_radius_equals_dense_sum():
    p, w, q = _problem(300, 100, 3)
    k = _kernel(2.0, 3)
    got = neighbour_sum(k, p, w, q, radius=4.0)
    torch.testing.assert_close(got, exact_sum(k, p, w, q), rtol=1e-6, atol=1e-9)


def test_cutoff_radius_solves_the_tail_share():
    for tol in (1e-2, 1e-5, 1e-8):
        for d in (2, 3):
            r = cutoff_radius(64.0, tol, d)
            assert math.isclose(tail_fraction(8.0 * r, d), tol, rel_tol=1e-6)


def test_user_errors_name_the_parameter():
    p, w, q = _problem(10, 5, 3)
    with pytest.raises(QuadfreeError, match="Gaussian"):
        neighbour_sum("1/(1+x**2+y**2+z**2)", p, w, q)
    with pytest.raises(QuadfreeError, match="tol"):
        neighbour_sum(_kernel(5.0, 3), p, w, q, tol=2.0)
    with pytest.raises(QuadfreeError, match="backend"):
        neighbour_sum(_kernel(5.0, 3), p, w, q, backend="gpu")


@pytest.mark.parametrize("torch_threads", [1, 2])
def test_numba_path_leaves_torch_thread_count_alone(torch_threads):
    # numba's OpenMP layer and torch share OpenMP's thread count: launching the layer (the
    # first numba sum in a process) used to switch torch to every core for the whole process.
    # A fresh interpreter, because the layer launches once per process.
    import subprocess
    import sys

    code = (f"import torch; torch.set_num_threads({torch_threads}); "
            "from quadfree.taylor.neighbour import neighbour_sum; "
            "p = torch.rand(1, 20000, 3) * 2 - 1; "
            "neighbour_sum('exp(-40*(x**2+y**2+z**2))', p, torch.ones(1, 1, 20000), p[0], "
            "backend='numba'); print(torch.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert int(out.stdout.split()[-1]) == torch_threads
