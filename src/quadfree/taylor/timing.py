"""Where an FC²T² expansion spends its time: seconds and achieved GFLOP/s per pass.

:func:`profile_expand` runs :meth:`FC2T2.expand` with a :class:`PassTimer` and returns one
record per pass (P2M, M2M per level, M2L per level, L2L per level, the final layout change,
and L2P for the evaluation at given targets), with the FLOPs the pass executes (GEMM FLOPs
for the per-axis operators, band zeros included; arithmetic estimates for P2M and L2P) and
the share of the total. :func:`matmul_peak` measures the reference: a large square matmul
in the same dtype on the same device.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager

import torch

from quadfree.taylor.multiindex import num_coefficients


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PassTimer:
    """Collects ``(name, seconds, flops)`` per pass; synchronises CUDA around each pass.

    Example:
        >>> t = PassTimer(torch.device("cpu"))
        >>> with t.section("P2M", 10):
        ...     pass
        >>> [r[0] for r in t.records], t.records[0][2]
        (['P2M'], 10)
    """

    def __init__(self, device: torch.device) -> None:
        self.device = torch.device(device)
        self.records: list[tuple[str, float, int]] = []

    @contextmanager
    def section(self, name: str, flops: int):
        _sync(self.device)
        start = time.perf_counter()
        yield
        _sync(self.device)
        self.records.append((name, time.perf_counter() - start, int(flops)))


def matmul_peak(device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                size: int = 2048, repeats: int = 3) -> float:
    """GFLOP/s of a ``size × size`` matmul (median of ``repeats`` after one warm-up).

    Example:
        >>> matmul_peak(size=64, repeats=1) > 0
        True
    """
    device = torch.device(device)
    a = torch.rand(size, size, device=device, dtype=dtype)
    b = torch.rand(size, size, device=device, dtype=dtype)
    times = []
    for i in range(repeats + 1):
        _sync(device)
        start = time.perf_counter()
        a @ b
        _sync(device)
        if i:
            times.append(time.perf_counter() - start)
    return 2.0 * size**3 / statistics.median(times) / 1e9


def profile_expand(S, p: torch.Tensor, w: torch.Tensor, q: torch.Tensor | None = None,
                   repeats: int = 3, peak_gflops: float | None = None) -> list[dict]:
    """Per-pass medians over ``repeats`` runs of ``S.expand(p, w)`` (and ``E(q)`` as L2P).

    Returns records ``{"pass", "seconds", "flops", "gflops", "share", "peak_fraction"}``
    (``peak_fraction`` only with ``peak_gflops``). p ``(B, N, d)``, w ``(B, C, N)``,
    q ``(M, d)`` or ``(B, M, d)``.

    Example:
        >>> from quadfree.taylor import FC2T2
        >>> S = FC2T2("exp(-8*(x**2+y**2))", levels=2, order=2, dim=2)
        >>> r = profile_expand(S, torch.rand(1, 50, 2) - 0.5, torch.ones(1, 1, 50),
        ...                    torch.zeros(7, 2), repeats=1)
        >>> [x["pass"] for x in r][:2], r[-1]["pass"]
        (['P2M', 'M2M 2->1'], 'L2P')
    """
    runs: list[list[tuple[str, float, int]]] = []
    w = w.to(device=p.device, dtype=p.dtype)
    for _ in range(repeats):
        timer = PassTimer(p.device)
        E = S._expand(p, w, timer)
        if q is not None:
            M = q.shape[-2] * (q.shape[0] if q.dim() == 3 else p.shape[0])
            P, C, d = num_coefficients(S.dim, S.order), w.shape[1], S.dim
            with timer.section("L2P", M * (5 * d * S.order + 2 * P + 2 * C * P)):
                E(q)
        runs.append(timer.records)
    total = statistics.median(sum(r[1] for r in run) for run in runs)
    out = []
    for i, (name, _, flops) in enumerate(runs[0]):
        sec = statistics.median(run[i][1] for run in runs)
        rec = {"pass": name, "seconds": sec, "flops": flops,
               "gflops": flops / sec / 1e9 if sec > 0 else None,
               "share": sec / total if total > 0 else None}
        if peak_gflops:
            rec["peak_fraction"] = rec["gflops"] / peak_gflops if rec["gflops"] else None
        out.append(rec)
    return out
