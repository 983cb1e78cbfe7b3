"""One depth-field experiment: data → frame → model → fit → held-out maps, figure, mesh,
``metrics.json`` (all written atomically into the output directory)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from quadfree.atomic import write_text
from quadfree.errors import QuadfreeError
from quadfree.images import save_png
from quadfree.surface.data import DepthViews, Frame, fit_frame
from quadfree.surface.evaluate import depth_normals, render_views, score
from quadfree.surface.export import field_grid, surface_mesh, write_ply
from quadfree.surface.figure import depth_figure, shading_figure
from quadfree.surface.fit import FitConfig, Fitter, RaySet
from quadfree.surface.models import MLPDepth, TaylorDepth, build_model
from quadfree.surface.shading import gt_shading, shading_loss, shading_rays, shading_scores, unit


@dataclass
class SurfaceConfig:
    """Model and output settings of one run.

    Attributes:
        model: ``taylor`` or ``mlp``. level, alpha_h2, sources_per_cell, order, bias: the
            Taylor model; colour: add its colour layer (RGB-D fusion). mlp_depth, mlp_width:
            the MLP. radius: the MLP's initial ball.
        resolution: marching-cubes grid per axis (0: no mesh).
        shading: inverse rendering (paper §5.3.4, Taylor only): learn the surface and a
            light direction from shading images rendered with ``light`` (world direction,
            normalised) instead of fitting depth (see :mod:`quadfree.surface.shading`).
        fit: optimisation settings.
    """

    model: str = "taylor"
    level: int = 4
    alpha_h2: float = 0.5
    sources_per_cell: int = 1
    order: int = 4
    bias: float = 0.5
    colour: bool = False
    mlp_depth: int = 4
    mlp_width: int = 64
    radius: float = 0.85
    resolution: int = 96
    shading: bool = False
    light: tuple[float, float, float] = (0.3, -0.5, 0.8)
    fit: FitConfig = field(default_factory=FitConfig)

    def model_config(self) -> dict:
        if self.shading:
            if self.colour:
                raise QuadfreeError("colour: inverse rendering learns no colour layer",
                                    param="colour")
            light = torch.tensor(self.light, dtype=torch.float64)
            if light.shape != (3,) or not torch.isfinite(light).all() or light.norm() == 0:
                raise QuadfreeError(f"light={self.light}: need 3 finite numbers, not all 0",
                                    param="light")
        if self.model == "taylor":
            return {"model": "taylor", "level": self.level, "alpha_h2": self.alpha_h2,
                    "sources_per_cell": self.sources_per_cell, "order": self.order,
                    "bias": self.bias, "colour": self.colour, "light": self.shading}
        if self.model == "mlp":
            if self.shading:
                raise QuadfreeError("shading: inverse rendering needs the taylor model",
                                    param="shading")
            if self.colour:
                raise QuadfreeError("colour: RGB-D fusion needs the taylor model",
                                    param="colour")
            return {"model": "mlp", "depth": self.mlp_depth, "width": self.mlp_width,
                    "radius": self.radius}
        raise QuadfreeError(f"model {self.model!r}: choose taylor or mlp", param="model")


def new_fitter(cfg: SurfaceConfig, train: DepthViews) -> tuple[Fitter, RaySet]:
    """A fresh fitter and the training rays; the Taylor model starts from the carved
    occupancy of the rays (its time counts as training time).

    Example:
        >>> v = DepthViews(torch.tensor([[[[0.0, 0.0, -3.0]]]]),
        ...                torch.tensor([[[[0.0, 0.0, 1.0]]]]), torch.ones(1, 1, 1))
        >>> fitter, rays = new_fitter(SurfaceConfig(model="mlp", mlp_depth=1, mlp_width=4), v)
        >>> len(rays), fitter.model.kind
        (1, 'mlp')
    """
    frame = fit_frame(train)
    rays = _training_rays(cfg, train, frame)
    start = time.perf_counter()
    model = build_model(cfg.model_config())
    if isinstance(model, TaylorDepth) and not cfg.shading:    # shading: the initial ball
        model.init_from_rays(rays.o, rays.r, rays.depth)
    fitter = Fitter(model, cfg.fit, frame)
    fitter.elapsed = time.perf_counter() - start
    return fitter, rays


def _training_rays(cfg: SurfaceConfig, train: DepthViews, frame: Frame) -> RaySet:
    if cfg.shading:
        return shading_rays(train, frame, torch.tensor(cfg.light))
    return RaySet.from_views(train, frame)


def evaluate_model(model: TaylorDepth | MLPDepth, fitter: Fitter, test: DepthViews) -> dict:
    """Held-out scores (see :func:`quadfree.surface.evaluate.score`) and render time."""
    start = time.perf_counter()
    rendered = render_views(model, test, fitter.frame)
    seconds = time.perf_counter() - start
    out = score(rendered, test)
    out["render_seconds"] = seconds
    out["rendered"] = rendered
    return out


def run_surface(train: DepthViews, test: DepthViews, cfg: SurfaceConfig,
                out_dir: str | Path, resume: bool = False, quiet: bool = False) -> dict:
    """Fit, evaluate on ``test``, write ``checkpoint.pt``, ``figure.png``, ``mesh.ply``
    (unless ``cfg.resolution`` is 0) and ``metrics.json`` into ``out_dir``; return the
    metrics. ``resume`` continues from ``out_dir/checkpoint.pt`` (same frame and model).

    Example:
        >>> import tempfile
        >>> v = DepthViews(torch.tensor([0.0, 0.0, -3.0]).expand(1, 4, 4, 3),
        ...                torch.nn.functional.normalize(torch.randn(1, 4, 4, 3) * 0.1
        ...                                              + torch.tensor([0.0, 0.0, 1.0]), dim=-1),
        ...                torch.full((1, 4, 4), 2.5))
        >>> cfg = SurfaceConfig(model="mlp", mlp_depth=1, mlp_width=4, resolution=0,
        ...                     fit=FitConfig(steps=1, lr=1e-3))
        >>> sorted(run_surface(v, v, cfg, tempfile.mkdtemp(), quiet=True))[:3]
        ['config', 'coverage', 'depth_mae']
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.pt"
    if resume:
        fitter = Fitter.resume(ckpt, cfg.fit)
        if bool(getattr(fitter.model, "light", False)) != cfg.shading:
            raise QuadfreeError(f"checkpoint {ckpt}: was trained "
                                f"{'with' if not cfg.shading else 'without'} shading; "
                                "resume it in the same mode", param="checkpoint")
        rays = _training_rays(cfg, train, fitter.frame)
    else:
        fitter, rays = new_fitter(cfg, train)
    fitter.run(rays, checkpoint=ckpt, quiet=quiet,
               loss_fn=shading_loss if cfg.shading else None)
    model = fitter.model
    result = evaluate_model(model, fitter, test)
    rendered = result.pop("rendered")
    gt_n, ok = depth_normals(test)
    gt_n = torch.where(ok[..., None], gt_n, torch.zeros_like(gt_n))
    if cfg.shading:
        light = torch.tensor(cfg.light)
        target = gt_shading(test, light)
        pred, scores = shading_scores(model, rendered.normals, target, light)
        result |= scores | {"light_true": [round(float(x), 6) for x in unit(light.double())]}
        shading_figure(out / "figure.png", target[0], pred[0], gt_n[0], rendered.normals[0],
                       title=f"{test.name}, view 0")
    else:
        depth_figure(out / "figure.png", test.depth[0], gt_n[0],
                     [(model.kind, rendered.depth[0], rendered.normals[0])],
                     title=f"{test.name}, view 0")
    if rendered.rgb is not None and test.rgb is not None:
        save_png(out / "rgb.png", torch.cat([test.rgb[0], rendered.rgb[0]], 1))
    if cfg.resolution:
        verts, faces = surface_mesh(field_grid(model.field, cfg.resolution), fitter.frame)
        write_ply(out / "mesh.ply", verts, faces)
        result["mesh_vertices"] = int(len(verts))
    last = fitter.history[-1] if fitter.history else {}
    metrics = {**result, "model": model.kind, "steps": fitter.step,
               "train_seconds": fitter.elapsed, "train_mae": last.get("mae"),
               "frame": fitter.frame.as_dict(),
               "config": {**asdict(cfg), "fit": asdict(fitter.cfg)}}
    write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics
