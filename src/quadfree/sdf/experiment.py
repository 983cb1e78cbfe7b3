"""The pipeline behind ``quadfree sdf``: target → samples → fit → mesh, figure, metrics.

Writes into the output directory: ``checkpoint.pt`` (resumable), ``mesh.ply`` (marching cubes
of the fitted SDF), ``figure.png`` (ground truth vs fit) and ``metrics.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from quadfree.atomic import write_text
from quadfree.errors import QuadfreeError
from quadfree.sdf.extract import marching_cubes, sample_grid, shape_mesh
from quadfree.sdf.figure import sdf_figure
from quadfree.sdf.fit import FitConfig, Fitter, mae
from quadfree.sdf.mesh import TriMesh, load_mesh, write_ply
from quadfree.sdf.models import MLPSDF, TaylorSDF, build_model
from quadfree.sdf.quality import surface_metrics
from quadfree.sdf.samples import Samples, make_samples
from quadfree.sdf.shapes import get_shape

CHECKPOINT = "checkpoint.pt"


@dataclass
class Target:
    """What to fit: a name, an SDF ``(M, 3)`` → ``(M,)`` and its surface mesh."""

    name: str
    sdf: object
    surface: TriMesh


def load_target(shape: str | None = None, mesh: str | Path | None = None,
                resolution: int = 128) -> Target:
    """A built-in shape (exact SDF; its surface by marching cubes at ``resolution``) or a
    user mesh (signed distances to the mesh).

    Example:
        >>> load_target("sphere", resolution=16).name
        'sphere'
    """
    if (shape is None) == (mesh is None):
        raise QuadfreeError("target: give exactly one of shape and mesh")
    if mesh is not None:
        m = load_mesh(mesh)
        return Target(Path(mesh).stem, m.signed_distance, m)
    sh = get_shape(shape)
    return Target(sh.name, sh.sdf, shape_mesh(sh, resolution))


@dataclass
class SdfConfig:
    """Model and sampling settings of one fit (the fit settings are in ``fit``)."""

    model: str = "taylor"
    level: int = 4
    alpha_h2: float = 0.5
    sources_per_cell: int = 1
    learn_sources: bool = True
    mlp_depth: int = 8
    mlp_width: int = 128
    samples: int = 250_000
    test_samples: int = 50_000
    resolution: int = 128
    seed: int = 0
    fit: FitConfig = field(default_factory=FitConfig)

    def model_config(self) -> dict:
        if self.model == "taylor":
            return {"model": "taylor", "level": self.level, "alpha_h2": self.alpha_h2,
                    "sources_per_cell": self.sources_per_cell,
                    "learn_sources": self.learn_sources, "order": 4}
        if self.model == "mlp":
            return {"model": "mlp", "depth": self.mlp_depth, "width": self.mlp_width}
        raise QuadfreeError(f"model {self.model!r}: choose taylor or mlp", param="model")


# the learning rate of each model when none is given
DEFAULT_LR = {"taylor": 3e-2, "mlp": 1e-3}


def build_config(model: str = "taylor", *, level: int = SdfConfig.level,
                 alpha_h2: float = SdfConfig.alpha_h2,
                 sources_per_cell: int = SdfConfig.sources_per_cell,
                 learn_sources: bool = SdfConfig.learn_sources,
                 mlp_depth: int = SdfConfig.mlp_depth, mlp_width: int = SdfConfig.mlp_width,
                 samples: int = SdfConfig.samples, test_samples: int = SdfConfig.test_samples,
                 resolution: int = SdfConfig.resolution, seed: int = SdfConfig.seed,
                 epochs: int = FitConfig.epochs, seconds: float = FitConfig.seconds,
                 lr: float | None = None, lr_sources: float = FitConfig.lr_sources,
                 batch: int = FitConfig.batch) -> SdfConfig:
    """A checked :class:`SdfConfig` (used by ``quadfree sdf`` and ``bench sdf``); ``lr`` None
    takes the model's default (:data:`DEFAULT_LR`). Errors name the parameter.

    Example:
        >>> build_config("mlp", samples=1000).fit.lr
        0.001
        >>> build_config("taylor", resolution=0)
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: resolution 0: must be at least 1
    """
    if model not in DEFAULT_LR:
        raise QuadfreeError(f"model {model!r}: choose taylor or mlp", param="model")
    sizes = {"samples": samples, "test_samples": test_samples, "resolution": resolution,
             "sources_per_cell": sources_per_cell, "mlp_depth": mlp_depth,
             "mlp_width": mlp_width}
    for name, value in sizes.items():
        if value < 1:
            raise QuadfreeError(f"{name} {value}: must be at least 1", param=name)
    fit = FitConfig(epochs=epochs, seconds=seconds, lr=lr or DEFAULT_LR[model],
                    lr_sources=lr_sources, batch=batch)
    return SdfConfig(model=model, level=level, alpha_h2=alpha_h2,
                     sources_per_cell=sources_per_cell, learn_sources=learn_sources,
                     mlp_depth=mlp_depth, mlp_width=mlp_width, samples=samples,
                     test_samples=test_samples, resolution=resolution, seed=seed,
                     fit=fit.check())


def split_samples(target: Target, cfg: SdfConfig) -> tuple[Samples, Samples]:
    """Training and held-out samples (different seeds, same recipe)."""
    if cfg.samples < 1 or cfg.test_samples < 1:
        raise QuadfreeError(f"samples={cfg.samples}, test_samples={cfg.test_samples}: "
                            "must be >= 1")
    train = make_samples(target.sdf, target.surface, cfg.samples, seed=cfg.seed)
    test = make_samples(target.sdf, target.surface, cfg.test_samples, seed=cfg.seed + 10_007)
    for s, name in ((train, "training"), (test, "held-out")):
        if not torch.isfinite(s.d).all():
            raise QuadfreeError(f"{target.name}: non-finite signed distances in the {name} "
                                "samples")
    return train, test


def evaluate(model: TaylorSDF | MLPSDF, target: Target, test: Samples, resolution: int
             ) -> tuple[dict, np.ndarray, TriMesh | None]:
    """Held-out MAE (all, near the surface, uniform), surface metrics; grid and mesh."""
    out = {"mae": mae(model, test), "mae_near_surface": mae(model, test.subset(test.near)),
           "mae_uniform": mae(model, test.subset(~test.near))}
    grid = sample_grid(model.field, resolution)
    try:
        mesh = marching_cubes(grid)
    except QuadfreeError:
        mesh = None
    if mesh is None:
        out.update(chamfer=float("nan"), normal_consistency=float("nan"))
    else:
        out.update(surface_metrics(mesh, target.surface))
    return out, grid, mesh


def run_sdf(target: Target, cfg: SdfConfig, out_dir: str | Path, resume: bool = False,
            quiet: bool = False, device: torch.device | str = "cpu") -> dict:
    """Fit, then write checkpoint, ``mesh.ply``, ``figure.png`` and ``metrics.json``;
    return the metrics.

    With ``resume`` the fit continues from ``out_dir/checkpoint.pt`` (same model settings
    required; the samples are regenerated from the seed).
    """
    out = Path(out_dir)
    ckpt = out / CHECKPOINT
    want = cfg.model_config()
    if resume:
        fitter = Fitter.resume(ckpt, cfg.fit)
        if fitter.model.config() != want:
            raise QuadfreeError(f"checkpoint {ckpt}: was made with {fitter.model.config()}, "
                                f"not {want}")
    else:
        torch.manual_seed(cfg.seed)
        fitter = Fitter(build_model(want), cfg.fit)
    fitter.model.to(device)
    fitter.optimizer.load_state_dict(fitter.optimizer.state_dict())   # state onto device
    train, test = split_samples(target, cfg)
    fitter.run(train, checkpoint=ckpt, quiet=quiet)
    model = fitter.model
    metrics, grid, mesh = evaluate(model, target, test, cfg.resolution)
    if mesh is not None:
        write_ply(out / "mesh.ply", mesh.vertices, mesh.faces)
    truth_grid = sample_grid(target.sdf, cfg.resolution)
    sdf_figure([("ground truth", truth_grid, target.surface), (model.kind, grid, mesh)],
               out / "figure.png", title=target.name)
    metrics.update({
        "target": target.name, "model": model.kind, "config": asdict(cfg),
        "epochs": fitter.epoch, "train_seconds": fitter.elapsed,
        "seconds_per_epoch": fitter.elapsed / max(fitter.epoch, 1),
        "train_mae_last_epoch": fitter.history[-1]["loss"] if fitter.history else None,
        "flops_per_epoch": model.flops_per_epoch(len(train)),
        "mesh": "mesh.ply" if mesh is not None else None,
    })
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics
