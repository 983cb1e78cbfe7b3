"""``quadfree bench sdf``: the explicit Taylor layer vs a DeepSDF-style MLP on SDF fitting, and
the layer's forward/backward cost against autograd through a cutoff and a dense sum.

Fits (``rows``): for every built-in shape, the Taylor model at each level and the MLP train on
the same DeepSDF-style samples with the same loss (MAE) for the same training-time budget
(``seconds``). Reported per row: seconds per epoch, epochs done, held-out MAE (all, near
the surface, uniform), Chamfer distance and normal consistency of the marching-cubes mesh
against the ground-truth surface, and FLOPs per epoch (estimates, see ``flops_per_epoch`` of
the models). ``summary`` gives, per shape and level, the per-epoch speedup over the MLP and
whether the held-out MAE is lower at equal time.

Epochs A/B (``epochs``): for every shape and level, one epoch of the Taylor model with the
training samples prepared once (:class:`~quadfree.taylor.targets.FixedTargets`, what
``quadfree sdf`` does), one epoch of the same model evaluated at the plain sample tensor
(cells and basis recomputed every epoch, as before), and one MLP epoch, interleaved in one
process, medians of ``epoch_repeats``; ``epoch_parts`` splits the prepared Taylor epoch of the
first shape into its parts (expansion of the sources, read-out at the samples, insertion of ȳ
at the samples, passes of ȳ, read-out at the sources) next to the uncached parts.

Layer (``layer``): ``kernel_sum`` forward and backward at N = M (Gaussian, α = α·h²/h²)
against autograd through (a) a cutoff neighbour sum (cell lists, sources within the radius
where φ < ``cutoff_eps``, per-chunk gradient checkpointing so memory stays bounded) and (b)
the dense sum (``exact_sum``, checkpointed per chunk). The baselines are timed on a subset of
targets and scaled linearly in M when marked ``extrapolated`` (their cost is linear in M at
fixed N).
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch.utils.checkpoint import checkpoint
from tqdm import tqdm

from quadfree.errors import QuadfreeError
from quadfree.machine import machine_info
from quadfree.sdf.experiment import SdfConfig, build_config, evaluate, load_target, split_samples
from quadfree.sdf.figure import sdf_figure
from quadfree.sdf.fit import FitConfig, Fitter
from quadfree.sdf.models import build_model
from quadfree.sdf.shapes import SHAPE_NAMES
from quadfree.seeding import seed_everything
from quadfree.taylor import FC2T2, exact_sum
from quadfree.taylor.operators import cells_per_axis
from quadfree.taylor.ops import kernel_sum
from quadfree.taylor.targets import value_and_gradient

# what --quick (``quick=True``) runs instead
QUICK = {"shapes": ("sphere",), "levels": (3,), "seconds": 6.0, "samples": 20_000,
         "test_samples": 5_000, "resolution": 40, "layer_sizes": (10_000,), "layer_level": 3,
         "mlp_width": 64, "baseline_targets": 500, "epoch_repeats": 2}


@dataclass
class SdfBenchOptions:
    """What ``quadfree bench sdf`` runs (typed; the flags live in ``quadfree.cli.bench_sdf``).

    Attributes:
        shapes: built-in shapes; levels: Taylor levels fitted against the MLP.
        seconds: training-time budget per model and shape.
        layer_sizes, layer_level: N = M and level of the layer timings.
        cutoff_eps: the cutoff sum drops pairs with φ below this.
        baseline_targets: targets on which the cutoff sum is timed (dense: 1/20 of it).
        repeats: layer timing repeats (median).
        epoch_repeats: interleaved epochs per model in the A/B (median; 0: no A/B).
        alpha_h2 … resolution: model and sampling settings (see :func:`build_config`).
        quick: a ≈1 min smoke run (:data:`QUICK` replaces those settings).
        plot: write the figure here (None: no figure).
        seed, device, progress: as everywhere.
    """

    shapes: tuple[str, ...] = SHAPE_NAMES
    levels: tuple[int, ...] = (4, 5)
    seconds: float = 30.0
    layer_sizes: tuple[int, ...] = (10**5, 10**6)
    layer_level: int = 5
    cutoff_eps: float = 1e-4
    baseline_targets: int = 20_000
    repeats: int = 1
    epoch_repeats: int = 3
    alpha_h2: float = SdfConfig.alpha_h2
    sources_per_cell: int = SdfConfig.sources_per_cell
    mlp_depth: int = SdfConfig.mlp_depth
    mlp_width: int = SdfConfig.mlp_width
    samples: int = 200_000
    test_samples: int = 20_000
    resolution: int = 96
    quick: bool = False
    plot: Path | None = None
    seed: int = 0
    device: torch.device | str = "cpu"
    progress: bool = True

    def config(self, model: str, level: int | None = None) -> SdfConfig:
        """The checked :class:`SdfConfig` of one fit (errors name the parameter)."""
        return build_config(model, level=4 if level is None else level,
                            alpha_h2=self.alpha_h2, sources_per_cell=self.sources_per_cell,
                            mlp_depth=self.mlp_depth, mlp_width=self.mlp_width,
                            samples=self.samples, test_samples=self.test_samples,
                            resolution=self.resolution, seed=self.seed)


def _timed(fn, device: torch.device) -> tuple[float, object]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start, out


def fit_rows(args: SdfBenchOptions, device: torch.device) -> tuple[list, list, dict]:
    """The fits: one row per (shape, model, level); summary rows; figure grids."""
    rows, summary, figure = [], [], {}
    models = [("taylor", lev) for lev in args.levels] + [("mlp", None)]
    steps = [(s, m, lev) for s in args.shapes for m, lev in models]
    bar = tqdm(steps, desc="bench sdf fits", disable=not args.progress)
    targets: dict = {}
    for shape, kind, lev in bar:
        if shape not in targets:
            targets.clear()
            target = load_target(shape=shape)
            cfg0 = args.config("mlp")
            targets[shape] = (target, *split_samples(target, cfg0))
        target, train, test = targets[shape]
        cfg = args.config(kind, level=lev)
        cfg.fit = FitConfig(epochs=10**6, seconds=args.seconds, lr=cfg.fit.lr,
                            checkpoint_every=0, lr_final=1.0)
        torch.manual_seed(args.seed)
        model = build_model(cfg.model_config()).to(device)
        fitter = Fitter(model, cfg.fit).run(train, quiet=True)
        metrics, grid, mesh = evaluate(model, target, test, args.resolution)
        row = {"shape": shape, "model": kind, "level": lev,
               "seconds_per_epoch": fitter.elapsed / fitter.epoch, "epochs": fitter.epoch,
               "train_seconds": fitter.elapsed, "mae": metrics["mae"],
               "mae_near_surface": metrics["mae_near_surface"],
               "mae_uniform": metrics["mae_uniform"], "chamfer": metrics["chamfer"],
               "normal_consistency": metrics["normal_consistency"],
               "flops_per_epoch": model.flops_per_epoch(len(train)),
               "samples": len(train)}
        rows.append(row)
        bar.set_postfix(shape=shape, model=f"{kind}{lev or ''}", mae=f"{row['mae']:.2e}")
        if shape == args.shapes[-1]:
            figure.setdefault("truth", ("ground truth", None, target.surface, target.sdf))
            figure[f"{kind}{lev or ''}"] = (f"{kind}" + (f" level {lev}" if lev else "")
                                            + f", {fitter.epoch} epochs", grid, mesh, None)
    for shape in args.shapes:
        mlp = next(r for r in rows if r["shape"] == shape and r["model"] == "mlp")
        for r in rows:
            if r["shape"] == shape and r["model"] == "taylor":
                summary.append({
                    "shape": shape, "level": r["level"],
                    "epoch_speedup_vs_mlp": mlp["seconds_per_epoch"] / r["seconds_per_epoch"],
                    "flops_ratio_mlp_over_taylor": mlp["flops_per_epoch"] / r["flops_per_epoch"],
                    "mae_taylor": r["mae"], "mae_mlp": mlp["mae"],
                    "taylor_mae_lower": r["mae"] < mlp["mae"],
                    "mae_near_taylor": r["mae_near_surface"],
                    "mae_near_mlp": mlp["mae_near_surface"]})
    return rows, summary, figure


def _taylor_fitter(args: SdfBenchOptions, level: int, train, device) -> Fitter:
    cfg = args.config("taylor", level=level)
    torch.manual_seed(args.seed)
    model = build_model(cfg.model_config()).to(device)
    model.init_from_samples(train.q, train.d)
    return Fitter(model, FitConfig(epochs=10**6, lr=cfg.fit.lr, checkpoint_every=0,
                                   lr_final=1.0))


def epoch_ab(args: SdfBenchOptions, shape: str, train, device: torch.device) -> list[dict]:
    """Per-epoch seconds of the Taylor model (prepared targets and uncached) and the MLP on
    the same samples, interleaved in one process (first round is a warm-up), medians."""
    train = train.to(device)
    mlp_cfg = args.config("mlp")
    torch.manual_seed(args.seed)
    mlp = Fitter(build_model(mlp_cfg.model_config()).to(device),
                 FitConfig(epochs=10**6, lr=mlp_cfg.fit.lr, checkpoint_every=0))
    gen = torch.Generator()
    rows = []
    for lev in args.levels:
        fast, plain = (_taylor_fitter(args, lev, train, device) for _ in range(2))
        prep, targets = _timed(lambda m=fast.model: m.prepare(train.q), device)
        runs = {"taylor": lambda f=fast, t=targets: f._epoch(train, gen, t),
                "taylor_uncached": lambda f=plain: f._epoch(train, gen),
                "mlp": lambda: mlp._epoch(train, gen)}
        times: dict = {k: [] for k in runs}
        for r in range(args.epoch_repeats + 1):
            for k, fn in runs.items():
                t, _ = _timed(fn, device)
                if r:
                    times[k].append(t)
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append({"shape": shape, "level": lev, "taylor_s": med["taylor"],
                     "taylor_uncached_s": med["taylor_uncached"], "mlp_s": med["mlp"],
                     "prepare_s": prep, "epoch_speedup_vs_mlp": med["mlp"] / med["taylor"],
                     "uncached_speedup_vs_mlp": med["mlp"] / med["taylor_uncached"],
                     "prepared_over_uncached": med["taylor_uncached"] / med["taylor"],
                     "repeats": args.epoch_repeats, "samples": len(train)})
    return rows


def _parts(fit: Fitter, q: torch.Tensor, repeats: int, device: torch.device) -> dict:
    """{(path, part): [seconds…]} of one model's epoch parts, prepared and uncached."""
    model, layer = fit.model, fit.model.layer
    S, p, w = layer.transform, layer.p, layer.w
    T = model.prepare(q)
    gy = torch.sign(torch.randn(1, 1, len(q), generator=torch.Generator().manual_seed(0))
                    ).to(device) / len(q)
    parts: dict = {}

    def timed(path: str, part: str, fn):
        t, out = _timed(fn, device)
        parts.setdefault((path, part), []).append(t)
        return out

    for _ in range(max(repeats, 1)):
        with torch.no_grad():
            E = timed("prepared", "expand sources", lambda: S.expand(p, w))
            timed("prepared", "read at samples", lambda E=E: T.evaluate(E))
            rows = timed("prepared", "insert ybar at samples", lambda: T.moments(gy))
            back = timed("prepared", "passes of ybar", lambda r=rows: S.expand_moments(r, 1, 1))
            timed("prepared", "read at sources", lambda b=back: value_and_gradient(b, p))
            E = timed("uncached", "expand sources", lambda: S.expand(p, w))
            timed("uncached", "read at samples", lambda E=E: E.evaluate(q))
            back = timed("uncached", "expand ybar at samples", lambda: S.expand(q[None], gy))
            timed("uncached", "read at sources", lambda b=back: (b.evaluate(p), b.gradient(p)))
        fit.optimizer.zero_grad(set_to_none=True)
        model(T).abs().mean().backward()
        timed("prepared", "optimizer", lambda: (fit.optimizer.step(), model.after_step()))
    return parts


def epoch_parts(args: SdfBenchOptions, shape: str, train, device: torch.device) -> list[dict]:
    """Seconds of the parts of one full-batch Taylor epoch (medians of ``epoch_repeats``),
    prepared targets and uncached; ``optimizer`` is the Adam step and source clamp."""
    train = train.to(device)
    rows = []
    for lev in args.levels:
        fit = _taylor_fitter(args, lev, train, device)
        for (path, part), ts in _parts(fit, train.q, args.epoch_repeats, device).items():
            rows.append({"shape": shape, "level": lev, "path": path, "part": part,
                         "seconds": statistics.median(ts)})
    return rows


def cutoff_sum(p: torch.Tensor, w: torch.Tensor, q: torch.Tensor, alpha: float,
               radius: float, chunk: int = 2048) -> torch.Tensor:
    """Σ over sources within ``radius`` of exp(−α|q − p|²) w by cell lists; autograd-able in
    p, w, q with per-chunk checkpointing. p ``(N, 3)``, w ``(N,)``, q ``(M, 3)`` → ``(M,)``.

    Example:
        >>> p = torch.rand(50, 3) - 0.5; w = torch.rand(50); q = torch.rand(7, 3) - 0.5
        >>> ref = exact_sum("exp(-30*(x**2+y**2+z**2))", p[None], w[None, None], q)[0, 0]
        >>> bool((cutoff_sum(p, w, q, 30.0, 2.0) - ref).abs().max() < 1e-5)
        True
    """
    n = max(1, math.ceil(2.0 / radius))
    cell = 2.0 / n
    with torch.no_grad():
        ip = ((p.detach() + 1) / cell).floor().clamp_(0, n - 1).long()
        key = (ip[:, 0] * n + ip[:, 1]) * n + ip[:, 2]
        order = torch.argsort(key)
        counts = torch.bincount(key, minlength=n**3)
        starts = torch.cumsum(counts, 0) - counts
        ks = key[order]
        rank = torch.arange(len(ks), device=p.device) - starts[ks]
        table = torch.full((n**3, int(counts.max()) if len(ks) else 1), -1, dtype=torch.long,
                           device=p.device)
        table[ks, rank] = order
        offs = torch.stack(torch.meshgrid(*[torch.arange(-1, 2, device=p.device)] * 3,
                                          indexing="ij"), -1).reshape(-1, 3)

    def block(qc, p, w):
        with torch.no_grad():
            iq = ((qc.detach() + 1) / cell).floor().clamp_(0, n - 1).long()
            nb = iq[:, None, :] + offs[None]
            ok = ((nb >= 0) & (nb < n)).all(-1)
            nid = ((nb[..., 0] * n + nb[..., 1]) * n + nb[..., 2]).clamp_(0, n**3 - 1)
            cand = torch.where(ok[..., None], table[nid], -1).reshape(len(qc), -1)
            valid = cand >= 0
            cand = cand.clamp(min=0)
        r2 = (qc[:, None, :] - p[cand]).square().sum(-1)
        keep = valid & (r2.detach() < radius * radius)
        return (torch.exp(-alpha * r2) * w[cand] * keep).sum(1)

    outs = [checkpoint(block, qc, p, w, use_reentrant=False) for qc in q.split(chunk)]
    return torch.cat(outs)


def _dense(p, w, q, kernel, chunk: int = 128):
    outs = [checkpoint(lambda qc, p, w: exact_sum(kernel, p[None], w[None, None], qc)[0, 0],
                       qc, p, w, use_reentrant=False) for qc in q.split(chunk)]
    return torch.cat(outs)


def layer_rows(args: SdfBenchOptions, device: torch.device, gen: torch.Generator) -> list:
    """Forward and backward seconds of the layer and of the two autograd baselines."""
    rows = []
    lev = args.layer_level
    h = 2.0 / cells_per_axis(lev)
    alpha = args.alpha_h2 / h**2
    S = FC2T2(f"exp(-{alpha!r}*(x**2 + y**2 + z**2))", levels=lev, order=4)
    radius = math.sqrt(math.log(1.0 / args.cutoff_eps) / alpha)
    for size in tqdm(args.layer_sizes, desc="bench sdf layer", disable=not args.progress):
        p0 = (torch.rand(1, size, 3, generator=gen) * 2 - 1).to(device)
        w0 = torch.randn(1, 1, size, generator=gen).to(device)
        q0 = (torch.rand(size, 3, generator=gen) * 2 - 1).to(device)
        gy = torch.randn(1, 1, size, generator=gen).to(device)
        S._ops(p0.device, p0.dtype)
        fw, bw, bw_all = [], [], []
        for _ in range(max(args.repeats, 1)):
            p, w = p0.clone().requires_grad_(), w0.clone().requires_grad_()
            t, y = _timed(lambda p=p, w=w, q=q0: kernel_sum(p, w, q, S), device)
            fw.append(t)
            bw.append(_timed(lambda y=y, g=gy: y.backward(g), device)[0])
            q = q0.clone().requires_grad_()
            y = kernel_sum(p, w, q, S)
            bw_all.append(_timed(lambda y=y, g=gy: y.backward(g), device)[0])
        row = {"n": size, "m": size, "level": lev, "alpha": alpha,
               "taylor_forward_s": statistics.median(fw),
               "taylor_backward_s": statistics.median(bw),
               "taylor_backward_with_q_s": statistics.median(bw_all)}
        row["backward_over_forward"] = row["taylor_backward_s"] / row["taylor_forward_s"]
        for name, fn, sub in (
                ("cutoff", lambda p, w, q: cutoff_sum(p, w, q, alpha, radius),
                 args.baseline_targets),
                ("dense", lambda p, w, q: _dense(p, w, q, S.kernel),
                 max(args.baseline_targets // 20, 128))):
            m = min(size, sub)
            p, w = p0[0].clone().requires_grad_(), w0[0, 0].clone().requires_grad_()
            t_f, y = _timed(lambda fn=fn, p=p, w=w, q=q0[:m]: fn(p, w, q), device)
            t_b, _ = _timed(lambda y=y, g=gy[0, 0, :m]: y.backward(g), device)
            row[f"{name}_forward_s"] = t_f * size / m
            row[f"{name}_backward_s"] = t_b * size / m
            row[f"{name}_timed_targets"] = m
            row[f"{name}_extrapolated"] = m < size
        row["cutoff_radius"] = radius
        rows.append(row)
    return rows


def run_benchmark(opts: SdfBenchOptions) -> dict:
    """Run the benchmark; returns the JSON-ready result (and writes ``opts.plot``).

    Example:
        >>> run_benchmark(SdfBenchOptions(shapes=()))
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: shapes: empty list
    """
    args = replace(opts, **QUICK) if opts.quick else opts
    for name in ("shapes", "levels"):          # layer_sizes may be empty: no layer timing
        if not getattr(args, name):
            raise QuadfreeError(f"{name}: empty list", param=name)
    for shape in args.shapes:
        if shape not in SHAPE_NAMES:
            raise QuadfreeError(f"shapes: unknown shape {shape!r}; choose from "
                                f"{', '.join(SHAPE_NAMES)}", param="shapes")
    for name in ("layer_sizes", "baseline_targets", "repeats"):
        values = getattr(args, name)
        if min(values if isinstance(values, tuple) else (values,), default=1) < 1:
            raise QuadfreeError(f"{name} {values}: must be at least 1", param=name)
    if args.epoch_repeats < 0:
        raise QuadfreeError(f"epoch_repeats {args.epoch_repeats}: must be at least 0",
                            param="epoch_repeats")
    args.config("mlp")                                  # checks the model settings first
    device = torch.device(args.device)
    gen = seed_everything(args.seed)
    rows, summary, figure = fit_rows(args, device)
    epochs, parts = [], []
    if args.epoch_repeats:
        cfg0 = args.config("mlp")
        for i, shape in enumerate(tqdm(args.shapes, desc="bench sdf epochs A/B",
                                       disable=not args.progress)):
            train, _ = split_samples(load_target(shape=shape), cfg0)
            epochs += epoch_ab(args, shape, train, device)
            if i == 0:
                parts = epoch_parts(args, shape, train, device)
    layer = layer_rows(args, device, gen)
    result = {
        "benchmark": "sdf",
        "settings": {k: _plain(getattr(args, k)) for k in (
            "shapes", "levels", "seconds", "samples", "test_samples", "resolution",
            "alpha_h2", "sources_per_cell", "mlp_depth", "mlp_width", "layer_sizes",
            "layer_level", "cutoff_eps", "baseline_targets", "epoch_repeats", "quick")},
        "rows": rows, "summary": summary, "epochs": epochs, "epoch_parts": parts,
        "layer": layer,
        "notes": ("rows: equal training-time budget per model (seconds); Taylor full batch "
                  "(samples prepared once, FixedTargets; that time counts as training time), "
                  "MLP mini-batch 16384; epochs: per-epoch seconds interleaved in one process "
                  "(Taylor prepared, Taylor uncached, MLP), medians; MAE on held-out samples "
                  "(80 % near the surface, 20 % "
                  "uniform); chamfer / normal_consistency on 30k surface points each way. "
                  "flops_per_epoch: analytic estimates. layer: float32, B = C = 1; "
                  "taylor_backward_s: gradients for p and w (one expansion of the incoming "
                  "gradient); *_with_q_s adds q. Baselines scaled linearly from "
                  "*_timed_targets targets when *_extrapolated."),
        "machine": machine_info(device),
    }
    if args.plot is not None and figure:
        truth = figure.pop("truth")
        from quadfree.sdf.extract import sample_grid
        panels = [(truth[0], sample_grid(truth[3], args.resolution), truth[2])]
        panels += [v[:3] for v in figure.values()]
        sdf_figure(panels, args.plot,
                   title=f"{args.shapes[-1]}: equal training time {args.seconds:g} s")
    return result


def _plain(value):
    return list(value) if isinstance(value, tuple) else value
