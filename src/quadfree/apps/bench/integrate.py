"""``quadfree bench integrate``: AutoInt integrals against quadrature and against what a user
would use instead (spline antiderivatives, summed-volume tables, RBF interpolants).

1-D: fits the grad network of a SIREN integral network to cos(20x) + 0.5x² on [−1, 1], then
integrates random intervals of length ≥ 0.1, timed side by side in one process:

(a) AutoInt: Φ(b) − Φ(a), two evaluations of the integral network per interval;
(b) Gauss–Legendre quadrature of the same trained grad network with the smallest node count
    whose error is within 10 % of (a)'s (searched on a subset, confirmed on all intervals);
(c) the antiderivative of a cubic spline through the same samples (and through a coarse
    subset of them): what a user holding samples of a 1-D signal would do.

2-D and 3-D: box integrals from scattered noisy samples, AutoInt ``integrate_box`` against an
RBF interpolant + summed-volume table, a table on gridded samples, and Monte Carlo /
Gauss–Legendre of the same learned field (:mod:`quadfree.apps.bench.integrate_boxes`).

Errors are relative to the exact integral: ``‖I − I_exact‖₂ / ‖I_exact‖₂`` over all intervals
(boxes). Every row of ``table`` carries build seconds (what a method needs before its first
answer), answer seconds and error, and their ratios to AutoInt's.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from quadfree.apps.bench.integrate_boxes import BoxSettings, run_boxes
from quadfree.apps.bench.integrate_peers import spline_antiderivative
from quadfree.apps.signals import builtin_signal
from quadfree.autoint import AutoInt
from quadfree.autoint.fit1d import Fit1DConfig, fit_1d
from quadfree.errors import QuadfreeError
from quadfree.machine import machine_info
from quadfree.quadrature.rules import gauss_legendre
from quadfree.seeding import seed_everything

ERROR_DEFINITION = "||I_pred - I_exact||_2 / ||I_exact||_2 over all intervals (float64)"
TOLERANCE = 1.10        # quadrature error may exceed AutoInt's by at most 10 %
NODE_LADDER = (2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 512,
               768, 1024)


@dataclass
class IntegrateBenchOptions:
    """What ``quadfree bench integrate`` runs (typed; the flags live in
    ``quadfree.cli.bench_integrate``).

    Attributes:
        intervals: random 1-D intervals; min_length: shortest interval (and box side).
        repeats: timing repeats (median).
        scan_intervals: intervals used to search the quadrature node count.
        max_nodes: give up above this node count.
        steps, hidden, depth, w0, lr: the 1-D SIREN and its training.
        spline_coarse: samples of the coarse spline row (evenly spaced).
        box_dims: box-integral dimensions to run (2, 3; empty: none).
        boxes … mc_samples: the box benchmark (see :class:`BoxSettings`).
        plot: write the figure here (None: no figure).
        seed, device, progress: as everywhere.
    """

    intervals: int = 1_000_000
    min_length: float = 0.1
    repeats: int = 3
    scan_intervals: int = 20_000
    max_nodes: int = 1024
    steps: int = 1500
    hidden: int = 16
    depth: int = 2
    w0: float = Fit1DConfig.w0
    lr: float = Fit1DConfig.lr
    spline_coarse: int = 512
    box_dims: tuple[int, ...] = (2, 3)
    boxes: int = BoxSettings.boxes
    box_samples: int = BoxSettings.samples
    box_noise: float = BoxSettings.noise
    box_steps: int = BoxSettings.steps
    box_hidden: int = BoxSettings.hidden
    rbf_grid: int = BoxSettings.rbf_grid
    rbf_smoothing: float = BoxSettings.rbf_smoothing
    peer_boxes: int = BoxSettings.peer_boxes
    mc_samples: int = BoxSettings.mc_samples
    plot: Path | None = None
    seed: int = 0
    device: torch.device | str = "cpu"
    progress: bool = True

    def check(self) -> None:
        """Raise :class:`QuadfreeError` naming the first option out of range (``param``).

        Example:
            >>> IntegrateBenchOptions(box_samples=0).check()
            Traceback (most recent call last):
            ...
            quadfree.errors.QuadfreeError: box_samples 0: must be >= 1
        """
        for name in ("intervals", "repeats", "scan_intervals", "max_nodes", "steps", "hidden",
                     "depth", "spline_coarse"):
            if getattr(self, name) < 1:
                raise QuadfreeError(f"{name} {getattr(self, name)}: must be >= 1", param=name)
        if not 0 < self.min_length <= 2:             # the signal's and the boxes' domain width
            raise QuadfreeError(f"min_length {self.min_length}: must be in (0, 2]",
                                param="min_length")
        if any(d not in (2, 3) for d in self.box_dims):
            raise QuadfreeError(f"box_dims {self.box_dims}: box dimensions must be 2 or 3",
                                param="box_dims")
        if not self.box_dims:
            return
        for name in ("boxes", "box_samples", "box_steps", "box_hidden", "peer_boxes",
                     "mc_samples"):
            if getattr(self, name) < 1:
                raise QuadfreeError(f"{name} {getattr(self, name)}: must be >= 1", param=name)
        for name in ("box_noise", "rbf_smoothing", "rbf_grid"):
            if getattr(self, name) < 0:
                raise QuadfreeError(f"{name} {getattr(self, name)}: must be >= 0", param=name)

    def box_settings(self) -> BoxSettings:
        """The box benchmark's settings."""
        return BoxSettings(
            boxes=self.boxes, samples=self.box_samples, noise=self.box_noise,
            min_length=self.min_length, steps=self.box_steps, hidden=self.box_hidden,
            rbf_grid=self.rbf_grid, rbf_smoothing=self.rbf_smoothing,
            peer_boxes=self.peer_boxes, mc_samples=self.mc_samples, repeats=self.repeats)


def random_intervals(n: int, domain: tuple[float, float], min_length: float,
                     generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` intervals inside ``domain``: length uniform in [min_length, width], start uniform.

    Shapes: ``(n,)``, ``(n,)`` float64.

    Example:
        >>> a, b = random_intervals(5, (-1.0, 1.0), 0.1, torch.Generator().manual_seed(0))
        >>> bool(((b - a) >= 0.1).all() and (a >= -1).all() and (b <= 1).all())
        True
    """
    lo, hi = domain
    width = hi - lo
    if not 0 < min_length <= width:
        raise QuadfreeError(f"min_length {min_length}: must be in (0, {width:g}]",
                            param="min_length")
    length = min_length + (width - min_length) * torch.rand(n, generator=generator,
                                                            dtype=torch.float64)
    a = lo + (width - length) * torch.rand(n, generator=generator, dtype=torch.float64)
    return a, (a + length).clamp(max=hi)


def rel_error(pred: torch.Tensor, exact: torch.Tensor) -> float:
    """``‖pred − exact‖₂ / ‖exact‖₂`` in float64.

    Example:
        >>> rel_error(torch.tensor([1.1, 2.0]), torch.tensor([1.0, 2.0])) < 0.05
        True
    """
    pred, exact = pred.double().reshape(-1).cpu(), exact.double().reshape(-1).cpu()
    return float((pred - exact).norm() / exact.norm())


def _timed(fn: Callable[[], torch.Tensor], device: torch.device) -> tuple[float, torch.Tensor]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start, out


def measure_costs(model: AutoInt, points: int, repeats: int, batch_size: int,
                  device: torch.device) -> dict:
    """Median seconds of Φ forward, grad-network forward (same points, no autograd) and of
    one training step (grad forward + backward + Adam) on a batch; their ratio."""
    param = next(model.parameters())
    x = torch.rand(points, 1, dtype=param.dtype, device=device) * 2 - 1
    phi_t, grad_t = [], []
    with torch.no_grad():
        model.phi(x), model.grad(x)                                   # warm-up
        for _ in range(max(repeats, 5)):
            phi_t.append(_timed(lambda: model.phi(x), device)[0])
            grad_t.append(_timed(lambda: model.grad(x), device)[0])
    xb, yb = x[:batch_size], torch.zeros(min(batch_size, points), 1, dtype=param.dtype,
                                         device=device)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.Adam(model.parameters(), lr=1e-12)

    def step() -> torch.Tensor:
        loss = torch.nn.functional.mse_loss(model.grad(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    step()
    train_t = [_timed(step, device)[0] for _ in range(max(repeats, 5))]
    model.load_state_dict(state)                                      # leave the fit as it was
    phi_s, grad_s = statistics.median(phi_t), statistics.median(grad_t)
    return {"cost_points": points, "phi_forward_seconds": phi_s,
            "grad_forward_seconds": grad_s, "grad_cost_ratio": grad_s / phi_s,
            "train_step_batch": int(len(xb)), "train_step_seconds": statistics.median(train_t)}


def find_nodes(model: AutoInt, a: torch.Tensor, b: torch.Tensor, exact: torch.Tensor,
               target: float, max_nodes: int) -> tuple[int, list[tuple[int, float]]]:
    """Smallest node count whose quadrature error is ≤ ``target`` on these intervals: climb
    :data:`NODE_LADDER`, then bisect between the last failing and first passing rung."""
    scan: list[tuple[int, float]] = []

    def err(n: int) -> float:
        e = rel_error(model.integrate_quadrature(a, b, n), exact)
        scan.append((n, e))
        return e

    low = 0
    for n in NODE_LADDER:
        if n > max_nodes:
            break
        if err(n) <= target:
            high = n
            break
        low = n
    else:
        raise QuadfreeError(f"max_nodes {max_nodes}: quadrature never came within 10 % of "
                            "AutoInt's error", param="max_nodes")
    while high - low > 1:
        mid = (low + high) // 2
        if err(mid) <= target:
            high = mid
        else:
            low = mid
    return high, sorted(scan)


def exact_signal_nodes(f: Callable[[np.ndarray], np.ndarray], a: np.ndarray, b: np.ndarray,
                       exact: np.ndarray, target: float, max_nodes: int = 256) -> int | None:
    """For context: the node count Gauss–Legendre needs on the *exact* signal for ``target``."""
    for n in range(1, max_nodes + 1):
        t, w = (v.numpy() for v in gauss_legendre(n))
        half = (b - a) / 2
        pts = (a + b)[:, None] / 2 + half[:, None] * t[None]
        q = half * (f(pts) @ w)
        if np.linalg.norm(q - exact) / np.linalg.norm(exact) <= target:
            return n
    return None


def run_benchmark(opts: IntegrateBenchOptions) -> dict:
    """Run the benchmark; returns the JSON-ready result (and writes ``opts.plot``).

    Example:
        >>> run_benchmark(IntegrateBenchOptions(box_dims=(4,)))
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: box_dims (4,): box dimensions must be 2 or 3
    """
    args = opts
    opts.check()                                       # bad settings fail before any work
    box_dims = list(opts.box_dims)
    box_settings = opts.box_settings()
    if box_dims:
        box_settings.check()
    device = torch.device(opts.device)
    gen = seed_everything(args.seed)
    signal = builtin_signal("cosmix")
    config = Fit1DConfig(hidden=args.hidden, depth=args.depth, w0=args.w0, steps=args.steps,
                         lr=args.lr, lr_final=args.lr * 1e-3)
    x, y = signal.training_samples(1 << 15)
    model, history = fit_1d(torch.as_tensor(x), torch.as_tensor(y), signal.domain, config,
                            seed=args.seed, progress=args.progress, device=device)
    costs = measure_costs(model, points=1 << 16, repeats=args.repeats,
                          batch_size=config.batch_size, device=device)

    a, b = random_intervals(args.intervals, signal.domain, args.min_length, gen)
    exact = torch.as_tensor(signal.reference_integral(a.numpy(), b.numpy()))
    dtype = next(model.parameters()).dtype
    a_dev, b_dev = a.to(device=device, dtype=dtype), b.to(device=device, dtype=dtype)

    def autoint() -> torch.Tensor:
        return model.integrate(a_dev, b_dev)

    _, pred = _timed(autoint, device)                                   # warm-up
    auto_err = rel_error(pred, exact)
    m = min(args.scan_intervals, args.intervals)
    sub_err = rel_error(pred[:m], exact[:m])
    nodes, scan = find_nodes(model, a_dev[:m], b_dev[:m], exact[:m], TOLERANCE * sub_err,
                             args.max_nodes)

    auto_times, quad_times = [], []
    while True:                     # confirm the node count on all intervals while timing it
        auto_times.clear()
        quad_times.clear()
        quad_err = None
        for _ in range(args.repeats):
            t, pred = _timed(autoint, device)
            auto_times.append(t)
            t, quad = _timed(lambda n=nodes: model.integrate_quadrature(a_dev, b_dev, n), device)
            quad_times.append(t)
            if quad_err is None:
                quad_err = rel_error(quad, exact)
                if quad_err > TOLERANCE * auto_err:
                    break
        if quad_err <= TOLERANCE * auto_err:
            break
        if nodes >= args.max_nodes:
            raise QuadfreeError(f"max_nodes {args.max_nodes}: quadrature error {quad_err:.2e} "
                                f"stays above 1.1 × AutoInt's {auto_err:.2e}",
                                param="max_nodes")
        nodes = min(args.max_nodes, max(nodes + 1, int(nodes * 1.15)))

    auto_s, quad_s = statistics.median(auto_times), statistics.median(quad_times)
    f_np = signal.f
    result = {
        "intervals": args.intervals,
        "autoint_seconds": auto_s,
        "quadrature_seconds": quad_s,
        "quadrature_nodes": nodes,
        "speedup": quad_s / auto_s,
        "autoint_rel_error": auto_err,
        "quadrature_rel_error": quad_err,
        "grad_cost_ratio": costs["grad_cost_ratio"],
        "machine": machine_info(device),
        "rel_error_definition": ERROR_DEFINITION,
        "signal": f"{signal.formula} on [{signal.domain[0]:g}, {signal.domain[1]:g}]",
        "interval_lengths": f"uniform in [{args.min_length:g}, 2], start uniform",
        "network": f"SIREN 1->{args.hidden}x{args.depth}->1, w0={args.w0:g}, {dtype}",
        "fit": {"steps": history.steps, "seconds": history.seconds,
                "final_mse_standardized": history.final_loss, "lr": args.lr,
                "lr_final": config.lr_final, "batch_size": config.batch_size,
                "train_samples": len(x)},
        "repeats": args.repeats,
        "autoint_times": auto_times,
        "quadrature_times": quad_times,
        **{k: v for k, v in costs.items() if k != "grad_cost_ratio"},
        "node_scan": {"intervals": m, "target": TOLERANCE * sub_err,
                      "autoint_rel_error": sub_err,
                      "errors": [[n, e] for n, e in scan]},
        "quadrature_nodes_exact_signal": exact_signal_nodes(
            f_np, a[:m].numpy(), b[:m].numpy(), exact[:m].numpy(), TOLERANCE * sub_err),
    }
    one_d = [
        {"method": "AutoInt Φ(b) − Φ(a)", "build_seconds": history.seconds,
         "answer_seconds": auto_s, "intervals": args.intervals, "rel_error": auto_err},
        {"method": f"Gauss–Legendre {nodes} nodes of the same grad network",
         "build_seconds": history.seconds, "answer_seconds": quad_s,
         "intervals": args.intervals, "rel_error": quad_err},
        *spline_rows(x, y, a.numpy(), b.numpy(), exact, args.spline_coarse, args.repeats),
    ]
    result["spline"] = one_d[2:]
    result["table"] = [{"case": "1-D samples, 10^6 intervals" if args.intervals == 10 ** 6
                        else f"1-D samples, {args.intervals} intervals", **row}
                       for row in _with_ratios(one_d)]
    result["boxes"] = {}
    for dim in box_dims:
        boxes = run_boxes(dim, box_settings, gen, device, seed=args.seed,
                          progress=args.progress)
        result["boxes"][f"{dim}d"] = boxes
        result["table"] += [{"case": f"{dim}-D scattered noisy samples, {args.boxes} boxes",
                             **row} for row in boxes["rows"]]
    if args.plot is not None:
        _plot(result, args.plot)
    return result


def spline_rows(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray,
                exact: torch.Tensor, coarse: int, repeats: int) -> list[dict]:
    """The cubic-spline antiderivative peer on all samples ``(x, y)`` and on ``coarse`` evenly
    spaced ones: median seconds to build it and to answer all intervals ``[a, b]``, error.

    Shapes: x, y ``(N,)``; a, b, exact ``(M,)``.

    Example:
        >>> x = np.linspace(-1, 1, 64); a, b = np.array([-0.5]), np.array([0.5])
        >>> exact = torch.tensor([1 / 12], dtype=torch.float64)        # ∫ x² over [-0.5, 0.5]
        >>> rows = spline_rows(x, x ** 2, a, b, exact, coarse=8, repeats=1)
        >>> [r["samples"] for r in rows], rows[1]["rel_error"] < 1e-12
        ([64, 8], True)
    """
    if not 2 <= coarse <= len(x):
        raise QuadfreeError(f"spline_coarse {coarse}: must be in [2, {len(x)}]",
                            param="spline_coarse")
    spline_antiderivative(x[:4], y[:4])                  # warm-up: scipy's import not timed
    rows = []
    for n in (len(x), coarse):
        idx = np.linspace(0, len(x) - 1, n).round().astype(int)
        xs, ys = x[idx], y[idx]
        build_t, answer_t = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            antiderivative = spline_antiderivative(xs, ys)
            build_t.append(time.perf_counter() - start)
            start = time.perf_counter()
            pred = antiderivative(b) - antiderivative(a)
            answer_t.append(time.perf_counter() - start)
        rows.append({"method": f"cubic spline antiderivative, {n} samples",
                     "build_seconds": statistics.median(build_t),
                     "answer_seconds": statistics.median(answer_t), "intervals": len(a),
                     "rel_error": rel_error(torch.as_tensor(pred), exact), "samples": n,
                     "build_times": build_t, "answer_times": answer_t})
    return rows


def _with_ratios(rows: list[dict]) -> list[dict]:
    auto = rows[0]
    return [{**row, "answer_seconds_vs_autoint": row["answer_seconds"] / auto["answer_seconds"],
             "build_seconds_vs_autoint": row["build_seconds"] / auto["build_seconds"],
             "rel_error_vs_autoint": row["rel_error"] / auto["rel_error"]} for row in rows]


def _plot(result: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from quadfree.atomic import save_figure

    scan = np.asarray(result["node_scan"]["errors"])
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
    ax0.loglog(scan[:, 0], scan[:, 1], "o-", label="Gauss–Legendre on the grad network")
    ax0.axhline(result["node_scan"]["autoint_rel_error"], color="C1",
                label="AutoInt Φ(b) − Φ(a)")
    ax0.axvline(result["quadrature_nodes"], color="0.5", ls=":")
    ax0.set_xlabel("quadrature nodes per interval")
    ax0.set_ylabel("relative L2 error vs exact")
    ax0.legend(fontsize=8)
    ax1.bar(["AutoInt", f"GL ({result['quadrature_nodes']} nodes)"],
            [result["autoint_seconds"], result["quadrature_seconds"]], color=["C1", "C0"])
    ax1.set_ylabel(f"seconds for {result['intervals']:,} intervals")
    ax1.set_title(f"speedup {result['speedup']:.0f}×", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
