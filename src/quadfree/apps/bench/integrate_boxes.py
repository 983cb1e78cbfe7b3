"""Box integrals in 2-D and 3-D for ``bench integrate``: AutoInt against what a user would use.

The data: a field with exact box integrals (:class:`BoxTestField`), observed at scattered random
points with Gaussian noise — no grid exists. Every method answers the same random boxes and is
scored against the *exact* integral of the noise-free field:

- AutoInt: fit the mixed partial ∂^dΦ/∂x_1…∂x_d of a SIREN Φ to the samples, then
  ``integrate_box`` (2^d evaluations of Φ per box);
- RBF + summed-volume table: a thin-plate-spline RBF interpolant of the same samples
  (smoothing for the noise) resampled onto a grid, then a summed-volume table;
- grid + summed-volume table: what a user has when the data *are* gridded: the same number of
  noisy samples, taken at the cell centres of a grid instead of at scattered points;
- Monte Carlo and tensor Gauss–Legendre of the *same learned* grad network (on a subset of the
  boxes: they are slow; their seconds for all boxes are projected linearly and marked so).

Build time is what a method needs before its first answer (fit, interpolation + table);
answer time is the median over repeats for all boxes.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from quadfree.apps.bench.integrate_peers import (
    SummedVolumeTable,
    cell_centres,
    gauss_legendre_box,
    monte_carlo_box,
    rbf_to_grid,
)
from quadfree.autoint import AutoInt, fit
from quadfree.errors import QuadfreeError
from quadfree.fields import siren

TOLERANCE = 1.10
GL_LADDER = (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
_K = (3.0, 2.0, 1.5)              # cosine product frequencies per axis
_MU = (0.3, -0.2, 0.1)            # Gaussian bump centre
_SIGMA, _AMP = 0.25, 0.8


@dataclass(frozen=True)
class BoxTestField:
    """f(x) = Π_i cos(k_i x_i) + 0.8·exp(−|x − μ|²/(2·0.25²)) on [−1, 1]^d, d = 2 or 3,
    with k = (3, 2, 1.5), μ = (0.3, −0.2, 0.1): a product of waves plus a bump, both
    separable, so every box integral is exact in closed form.

    Shapes: ``values``: ``(N, d) -> (N,)``; ``box_integral``: ``(N, d), (N, d) -> (N,)``.

    Example:
        >>> f = BoxTestField(2)
        >>> lo, hi = -torch.ones(1, 2), torch.ones(1, 2)
        >>> exact = float(f.box_integral(lo, hi)[0])
        >>> mid = cell_centres((400, 400), (-1, -1), (1, 1))
        >>> abs(float(f.values(mid).mean()) * 4 - exact) < 1e-4
        True
    """

    dim: int

    def __post_init__(self) -> None:
        if self.dim not in (2, 3):
            raise QuadfreeError(f"box dimension: must be 2 or 3, got {self.dim}")

    @property
    def formula(self) -> str:
        waves = "·".join(f"cos({k:g}{v})" for k, v in zip(_K, "xyz"[:self.dim]))
        return (f"{waves} + {_AMP:g}·exp(−|x − {_MU[:self.dim]}|²/(2·{_SIGMA:g}²)) on "
                f"[−1, 1]^{self.dim}")

    def values(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.float64)
        k, mu = torch.tensor(_K[:self.dim]), torch.tensor(_MU[:self.dim])
        bump = torch.exp(-((x - mu) ** 2).sum(-1) / (2 * _SIGMA ** 2))
        return torch.cos(k * x).prod(-1) + _AMP * bump

    def box_integral(self, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
        lo, hi = lo.to(torch.float64), hi.to(torch.float64)
        k, mu = torch.tensor(_K[:self.dim]), torch.tensor(_MU[:self.dim])
        waves = ((torch.sin(k * hi) - torch.sin(k * lo)) / k).prod(-1)
        s = _SIGMA * math.sqrt(2)
        bump = (_SIGMA * math.sqrt(math.pi / 2)
                * (torch.erf((hi - mu) / s) - torch.erf((lo - mu) / s))).prod(-1)
        return waves + _AMP * bump


def random_boxes(n: int, dim: int, min_length: float, generator: torch.Generator
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` boxes in [−1, 1]^dim: per axis, side uniform in [min_length, 2], start uniform.

    Shapes: ``(n, dim)``, ``(n, dim)`` float64.

    Example:
        >>> lo, hi = random_boxes(4, 3, 0.1, torch.Generator().manual_seed(0))
        >>> bool(((hi - lo) >= 0.1).all() and (lo >= -1).all() and (hi <= 1).all())
        True
    """
    if not 0 < min_length <= 2:
        raise QuadfreeError(f"min_length: must be in (0, 2], got {min_length}")
    side = min_length + (2 - min_length) * torch.rand(n, dim, generator=generator,
                                                      dtype=torch.float64)
    lo = -1 + (2 - side) * torch.rand(n, dim, generator=generator, dtype=torch.float64)
    return lo, (lo + side).clamp(max=1.0)


@dataclass
class BoxSettings:
    """Sizes of the box benchmark for one dimension (see ``bench integrate --help``)."""

    boxes: int = 1_000_000
    samples: int = 1 << 14
    noise: float = 0.02
    min_length: float = 0.1
    steps: int = 1000
    hidden: int = 32
    depth: int = 2
    lr: float = 4e-3
    rbf_grid: int = 0               # cells per axis; 0: 128 in 2-D, 32 in 3-D
    rbf_neighbors: int = 32
    rbf_smoothing: float = 1e-3
    peer_boxes: int = 500           # boxes for Monte Carlo / Gauss–Legendre of the network
    mc_samples: int = 512
    max_box_nodes: int = 4096       # Gauss–Legendre evaluations per box at most
    repeats: int = 3

    def check(self) -> None:
        """Raise :class:`QuadfreeError` naming the first setting out of range."""
        for name in ("boxes", "samples", "steps", "hidden", "depth", "rbf_neighbors",
                     "peer_boxes", "mc_samples", "max_box_nodes", "repeats"):
            if getattr(self, name) < 1:
                raise QuadfreeError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.noise < 0 or self.rbf_smoothing < 0 or self.rbf_grid < 0:
            raise QuadfreeError("noise, rbf_smoothing and rbf_grid must be >= 0")


def _median_time(fn: Callable[[], torch.Tensor], repeats: int, device: torch.device
                 ) -> tuple[float, list[float], torch.Tensor]:
    times, out = [], None
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, out


def _rel(pred: torch.Tensor, exact: torch.Tensor) -> float:
    pred = pred.double().reshape(-1).cpu()
    return float((pred - exact).norm() / exact.norm())


def _row(method: str, build: float, answer: float, err: float, boxes: int, **extra) -> dict:
    return {"method": method, "build_seconds": build, "answer_seconds": answer,
            "boxes": boxes, "rel_error": err, **extra}


def run_boxes(dim: int, s: BoxSettings, generator: torch.Generator, device: torch.device,
              seed: int = 0, progress: bool = True) -> dict:
    """All rows of the box benchmark in ``dim`` dimensions (2 or 3); JSON-ready."""
    s.check()
    field = BoxTestField(dim)
    domain_lo, domain_hi = (-1.0,) * dim, (1.0,) * dim
    x = torch.rand(s.samples, dim, generator=generator, dtype=torch.float64) * 2 - 1
    noise = torch.randn(s.samples, generator=generator, dtype=torch.float64) * s.noise
    y = field.values(x) + noise
    lo, hi = random_boxes(s.boxes, dim, s.min_length, generator)
    exact = field.box_integral(lo, hi)

    # AutoInt: fit the mixed partial to the scattered samples, integrate every box.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        phi = siren(dim, 1, hidden=s.hidden, depth=s.depth, w0=30.0, first_w0=3.0)
    model = AutoInt(phi.to(device), axes=tuple(range(dim)))
    dtype = next(model.parameters()).dtype
    history = fit(model.grad, x.to(device, dtype), y[:, None].to(device, dtype), steps=s.steps,
                  lr=s.lr, lr_final=s.lr * 1e-2, batch_size=2048, seed=seed, progress=progress,
                  desc=f"fit {dim}-D grad network")
    lo_d, hi_d = lo.to(device, dtype), hi.to(device, dtype)
    model.integrate_box(lo_d[:1000], hi_d[:1000])                       # warm-up
    auto_s, auto_times, pred = _median_time(lambda: model.integrate_box(lo_d, hi_d),
                                            s.repeats, device)
    auto_err = _rel(pred, exact)
    rows = [_row("AutoInt integrate_box (fit on the scattered samples)", history.seconds, auto_s,
                 auto_err, s.boxes, answer_times=auto_times,
                 evaluations_per_box=2 ** dim)]

    # RBF interpolant of the same scattered samples, resampled to a grid, summed-volume table.
    n_rbf = s.rbf_grid or (128 if dim == 2 else 32)
    rbf_to_grid(x[:8].numpy(), y[:8].numpy(), (2,) * dim, domain_lo, domain_hi)   # warm-up
    start = time.perf_counter()
    cells = rbf_to_grid(x.numpy(), y.numpy(), (n_rbf,) * dim, domain_lo, domain_hi,
                        neighbors=s.rbf_neighbors, smoothing=s.rbf_smoothing)
    svt = SummedVolumeTable(cells, domain_lo, domain_hi)
    build = time.perf_counter() - start
    t, times, got = _median_time(lambda: svt.integrate(lo, hi), s.repeats, torch.device("cpu"))
    rows.append(_row(f"RBF (thin-plate, {s.rbf_neighbors} neighbours, smoothing "
                     f"{s.rbf_smoothing:g}) → {n_rbf}^{dim} grid → summed-volume table",
                     build, t, _rel(got, exact), s.boxes, answer_times=times,
                     grid_cells=n_rbf ** dim))

    # If the data were gridded: the same number of noisy samples at cell centres.
    n_grid = max(2, round(s.samples ** (1 / dim)))
    centres = cell_centres((n_grid,) * dim, domain_lo, domain_hi)
    grid_noise = torch.randn(len(centres), generator=generator, dtype=torch.float64) * s.noise
    grid_values = (field.values(centres) + grid_noise).reshape((n_grid,) * dim)
    start = time.perf_counter()
    svt_grid = SummedVolumeTable(grid_values, domain_lo, domain_hi)
    build = time.perf_counter() - start
    t, times, got = _median_time(lambda: svt_grid.integrate(lo, hi), s.repeats,
                                 torch.device("cpu"))
    rows.append(_row(f"gridded samples ({n_grid}^{dim}, same noise) → summed-volume table",
                     build, t, _rel(got, exact), s.boxes, answer_times=times,
                     grid_cells=n_grid ** dim))

    rows += _learned_field_rows(model, lo_d, hi_d, exact, s, history.seconds, generator, device)
    for row in rows:
        row["answer_seconds_vs_autoint"] = row["answer_seconds"] / auto_s
        row["build_seconds_vs_autoint"] = row["build_seconds"] / history.seconds
        row["rel_error_vs_autoint"] = row["rel_error"] / auto_err
    return {
        "dim": dim,
        "field": field.formula,
        "samples": s.samples,
        "sample_noise_std": s.noise,
        "boxes": s.boxes,
        "box_sides": f"uniform in [{s.min_length:g}, 2] per axis, start uniform",
        "network": f"SIREN {dim}->{s.hidden}x{s.depth}->1, w0=30, first_w0=3, {dtype}; "
                   f"grad network = mixed partial over all {dim} axes",
        "fit": {"steps": history.steps, "seconds": history.seconds, "lr": s.lr,
                "lr_final": s.lr * 1e-2, "batch_size": 2048,
                "final_mse": history.final_loss},
        "rows": rows,
    }


def _learned_field_rows(model: AutoInt, lo: torch.Tensor, hi: torch.Tensor,
                        exact: torch.Tensor, s: BoxSettings, fit_seconds: float,
                        generator: torch.Generator, device: torch.device) -> list[dict]:
    """Monte Carlo and Gauss–Legendre of the same grad network, on ``s.peer_boxes`` boxes."""
    m = min(s.peer_boxes, len(lo))
    dim = lo.shape[1]
    sub_lo, sub_hi, sub_exact = lo[:m], hi[:m], exact[:m]
    with torch.no_grad():
        auto_sub = _rel(model.integrate_box(sub_lo, sub_hi), sub_exact)
        scale = len(lo) / m
        note = f"timed on {m} boxes; answer_seconds projected to {len(lo)} boxes"

        t, times, got = _median_time(
            lambda: monte_carlo_box(model.grad, sub_lo, sub_hi, s.mc_samples, generator),
            s.repeats, device)
        mc_err = _rel(got, sub_exact)
        mc_needed = s.mc_samples * (mc_err / (TOLERANCE * auto_sub)) ** 2
        rows = [_row(f"Monte Carlo of the same grad network ({s.mc_samples} points per box)",
                     fit_seconds, t * scale, mc_err, m, measured_seconds=t,
                     answer_times=times, autoint_rel_error_same_boxes=auto_sub, note=note,
                     points_for_autoint_error_estimated=mc_needed,
                     evaluations_per_box=s.mc_samples)]

        scan, nodes = [], None
        for n in GL_LADDER:
            if n ** dim > s.max_box_nodes:
                break
            err = _rel(gauss_legendre_box(model.grad, sub_lo, sub_hi, n), sub_exact)
            scan.append([n, err])
            nodes = n
            if err <= TOLERANCE * auto_sub:
                break
        if nodes is None:
            raise QuadfreeError(f"max_box_nodes {s.max_box_nodes}: below 2^{dim}, the smallest "
                                "Gauss–Legendre rule")
        t, times, got = _median_time(
            lambda: gauss_legendre_box(model.grad, sub_lo, sub_hi, nodes), s.repeats, device)
        gl_err = _rel(got, sub_exact)
        rows.append(_row(f"Gauss–Legendre {nodes}^{dim} of the same grad network", fit_seconds,
                         t * scale, gl_err, m, measured_seconds=t, answer_times=times,
                         autoint_rel_error_same_boxes=auto_sub, note=note,
                         matched=bool(gl_err <= TOLERANCE * auto_sub),
                         node_scan=scan, evaluations_per_box=nodes ** dim))
    return rows
