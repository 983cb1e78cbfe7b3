"""The 1-D integration job behind ``quadfree integrate``: fit AutoInt to a signal, integrate,
compare with the reference (exact or trapezoid), plot.

Example:
    >>> from quadfree.apps.signals import builtin_signal
    >>> from quadfree.autoint.fit1d import Fit1DConfig
    >>> model, report = integrate_signal(builtin_signal("poly"), [(0.0, 1.0)],
    ...                                  Fit1DConfig(hidden=16, depth=2, steps=50), progress=False)
    >>> [round(r.reference, 4) for r in report.rows]        # whole domain, then [0, 1]
    [1.0, 0.25]
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from quadfree.apps.signals import AnalyticSignal, SampledSignal, check_intervals
from quadfree.atomic import save_figure
from quadfree.autoint import AutoInt
from quadfree.autoint.fit1d import Fit1DConfig, fit_1d

Signal = AnalyticSignal | SampledSignal


@dataclass
class IntervalResult:
    """One integral: AutoInt's value, the reference value and the errors."""

    a: float
    b: float
    autoint: float
    reference: float
    abs_error: float
    rel_error: float


@dataclass
class IntegrationReport:
    """Everything ``quadfree integrate`` prints and saves (JSON-ready via :meth:`to_dict`)."""

    signal: str
    formula: str
    reference: str
    domain: tuple[float, float]
    rows: list[IntervalResult] = field(default_factory=list)
    fit_steps: int = 0
    fit_final_loss: float = float("nan")
    fit_seconds: float = 0.0
    integrate_seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        """The integrals as aligned text lines."""
        ref = self.reference
        lines = [f"{'interval':>24} {'autoint':>14} {ref:>14} {'abs error':>10} {'rel error':>10}"]
        for r in self.rows:
            span = f"[{r.a:.6g}, {r.b:.6g}]"
            lines.append(f"{span:>24} {r.autoint:>14.8f} {r.reference:>14.8f} "
                         f"{r.abs_error:>10.2e} {r.rel_error:>10.2e}")
        return "\n".join(lines)


def integrate_signal(signal: Signal, intervals: list[tuple[float, float]],
                     config: Fit1DConfig | None = None, *, seed: int = 0,
                     device: torch.device | str = "cpu", progress: bool = True
                     ) -> tuple[AutoInt, IntegrationReport]:
    """Fit AutoInt's grad network to ``signal`` and integrate over its domain and ``intervals``.

    Intervals are checked first (``lo ≤ a < b ≤ hi``), so a bad one fails before any work.
    Row 0 of the report is the whole domain.
    """
    config = config or Fit1DConfig()
    config.check()
    spans = check_intervals(intervals, signal.domain)
    spans = np.concatenate([np.asarray([signal.domain]), spans])
    x, y = signal.training_samples()
    model, history = fit_1d(torch.as_tensor(x), torch.as_tensor(y), signal.domain, config,
                            seed=seed, progress=progress, device=device)
    start = time.perf_counter()
    values = model.integrate(torch.as_tensor(spans[:, 0]), torch.as_tensor(spans[:, 1]))
    values = values[:, 0].double().cpu().numpy()
    seconds = time.perf_counter() - start
    reference = signal.reference_integral(spans[:, 0], spans[:, 1])
    report = IntegrationReport(signal.name, signal.formula, signal.reference_name,
                               signal.domain, fit_steps=history.steps,
                               fit_final_loss=history.final_loss, fit_seconds=history.seconds,
                               integrate_seconds=seconds)
    for (a, b), v, r in zip(spans, values, reference):
        err = abs(v - r)
        report.rows.append(IntervalResult(float(a), float(b), float(v), float(r), float(err),
                                          float(err / abs(r)) if r != 0 else float("inf")))
    return model, report


def plot_report(signal: Signal, model: AutoInt, report: IntegrationReport,
                path: str | os.PathLike, points: int = 1000) -> None:
    """Save a PNG (atomically): the signal with the grad-network fit, and the antiderivative
    Φ(x) − Φ(lo) against the reference ∫_lo^x f."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lo, hi = signal.domain
    xs = np.linspace(lo, hi, points)
    param = next(model.parameters())
    xt = torch.as_tensor(xs, dtype=param.dtype, device=param.device)[:, None]
    with torch.no_grad():
        grad = model.grad(xt)[:, 0].double().cpu().numpy()
    anti = model.integrate(torch.full_like(xt, lo), xt)[:, 0].double().cpu().numpy()
    ref_anti = signal.reference_integral(np.full_like(xs, lo), xs)

    fig, axes = plt.subplots(3, 1, figsize=(8, 9), sharex=True)
    if isinstance(signal, SampledSignal):
        axes[0].plot(signal.x, signal.y, ".", ms=3, color="0.4", label="samples")
    else:
        axes[0].plot(xs, signal.values(xs), color="0.4", lw=3, alpha=0.6,
                     label=f"f = {signal.formula}")
    axes[0].plot(xs, grad, color="C1", lw=1.2, label="grad network ∂Φ/∂x")
    axes[0].set_ylabel("signal")
    axes[0].legend(loc="best", fontsize=8)
    axes[1].plot(xs, grad - signal.values(xs), color="C3", lw=1)
    axes[1].set_ylabel("fit residual")
    axes[2].plot(xs, ref_anti, color="0.4", lw=3, alpha=0.6,
                 label=f"{report.reference} ∫ f from {lo:g}")
    axes[2].plot(xs, anti, color="C0", lw=1.2, label="integral network Φ(x) − Φ(lo)")
    for row in report.rows[1:]:
        axes[2].axvspan(row.a, row.b, color="C2", alpha=0.12)
    axes[2].set_ylabel("antiderivative")
    axes[2].set_xlabel("x")
    axes[2].legend(loc="best", fontsize=8)
    whole = report.rows[0]
    fig.suptitle(f"AutoInt on {signal.formula}: ∫ over [{lo:g}, {hi:g}] = {whole.autoint:.6f} "
                 f"({report.reference} {whole.reference:.6f}, rel. error {whole.rel_error:.1e})",
                 fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
