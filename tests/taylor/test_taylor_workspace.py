"""Reused scratch buffers (quadfree.taylor.workspace): results equal fresh buffers, a result
is never overwritten by a later call, threads and copies get their own buffers (FC2T2
itself does not pickle: its kernel is a lambdified function)."""

import copy
import pickle
import threading

import pytest
import torch

from quadfree.errors import QuadfreeError
from quadfree.taylor import FC2T2
from quadfree.taylor.passes import p2m_rows
from quadfree.taylor.scatter import p2m_rows_compiled
from quadfree.taylor.workspace import Workspace

KERNEL = "exp(-30*(x**2+y**2+z**2))"


def _points(seed, n=400, B=1, C=2):
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(B, n, 3, generator=g, dtype=torch.float64) * 2 - 1
    return p, torch.rand(B, C, n, generator=g, dtype=torch.float64) - 0.3


def _fresh(S, p, w):
    ref = copy.deepcopy(S)
    ref.reuse_buffers = False
    return ref.expand(p, w).coeffs


def test_reused_buffers_give_the_fresh_result_and_keep_earlier_results():
    S = FC2T2(KERNEL, levels=3, order=4)
    (p1, w1), (p2, w2) = _points(1), _points(2, n=50)     # the second leaves cells empty
    E1 = S.expand(p1, w1)
    kept = E1.coeffs.clone()
    assert S.workspace.nbytes() > 0
    E2 = S.expand(p2, w2)
    assert torch.equal(E1.coeffs, kept)                   # not overwritten by the next call
    assert torch.equal(E2.coeffs, _fresh(S, p2, w2))
    assert torch.equal(E1.coeffs, _fresh(S, p1, w1))
    assert E2.coeffs.data_ptr() != E1.coeffs.data_ptr()


def test_copies_get_an_empty_workspace():
    S = FC2T2(KERNEL, levels=2, order=2)
    p, w = _points(3)
    S.expand(p, w)
    T = copy.deepcopy(S)
    assert T.workspace.nbytes() == 0 and T.workspace is not S.workspace
    assert torch.equal(T.expand(p, w).coeffs, S.expand(p, w).coeffs)
    assert pickle.loads(pickle.dumps(S.workspace)).nbytes() == 0


def test_threads_use_their_own_buffers():
    S = FC2T2(KERNEL, levels=3, order=3)
    data = [_points(10 + i, n=300 + 100 * i) for i in range(3)]
    refs = [_fresh(S, p, w) for p, w in data]
    got: dict = {}

    def run(i):
        for _ in range(3):
            got[i] = S.expand(*data[i]).coeffs

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(3):
        assert torch.equal(got[i], refs[i])


def test_compiled_p2m_overwrites_every_entry_of_out():
    p, w = _points(4, n=30, B=2)                         # most of the 512 cells are empty
    out = torch.full((20, 512, 4), float("nan"), dtype=torch.float64)
    got = p2m_rows_compiled(p, w, 8, 3, out=out)
    assert got.data_ptr() == out.data_ptr()
    torch.testing.assert_close(got, p2m_rows(p, w, 8, 3), rtol=1e-12, atol=1e-12)
    with pytest.raises(QuadfreeError, match="out"):
        p2m_rows_compiled(p, w, 8, 3, out=torch.empty(20, 512, 3, dtype=torch.float64))


def test_workspace_grows_and_keys_by_dtype():
    ws = Workspace()
    cpu = torch.device("cpu")
    a = ws.take("x", (4,), torch.float32, cpu)
    b = ws.take("x", (8, 2), torch.float32, cpu)           # grown: a new buffer
    c = ws.take("x", (4,), torch.float64, cpu)
    assert b.shape == (8, 2) and c.dtype == torch.float64 and a.data_ptr() != c.data_ptr()
    assert ws.nbytes() == 16 * 4 + 4 * 8



def test_a_first_call_under_inference_mode_does_not_break_later_calls():
    S = FC2T2("exp(-8*(x**2+y**2+z**2))", levels=2, order=2)
    p, w = torch.rand(1, 200, 3) * 2 - 1, torch.rand(1, 1, 200)
    with torch.inference_mode():
        a = S.expand(p, w).coeffs.clone()
    b = S.expand(p, w).coeffs                 # reuses the buffers made under inference mode
    assert torch.equal(a, b)
