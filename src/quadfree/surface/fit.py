"""Training a depth field on rays with ground-truth depth (mean absolute error of depth).

Per step a random batch of rays: rays with a surface that the model hits pull the root
towards the measured depth; background rays that the model hits push the root towards the
ray's exit of the domain (the surface recedes until the ray misses); surface rays that the
model misses raise ``F`` at the measured point (explicit term, only when there are such rays).
Plus ``l1 · mean|w|`` (the paper's L1 weight penalty; 0 for the MLP). Training stops after
``steps`` or ``seconds`` of training time; checkpoints are atomic and read back with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from quadfree.atomic import atomic_path
from quadfree.errors import QuadfreeError
from quadfree.safeio import load_checkpoint
from quadfree.surface.data import DepthViews, Frame
from quadfree.surface.models import MLPDepth, TaylorDepth, build_model, domain_interval

MISS_DEPTH = 0.03      # domain units behind the measured surface where a missed ray pulls F up
MISS_MARGIN = 0.05     # ... until F − level exceeds this


@dataclass
class FitConfig:
    """Optimisation settings.

    Attributes:
        steps: most steps. seconds: training-time budget (0: none).
        batch: rays per step.
        lr: Adam rate of w (Taylor) or of the MLP. lr_sources: rate of the source positions.
        l1: weight of the L1 penalty on w. miss_weight: weight of the missed-surface term.
        rgb_weight: weight of the colour term (RGB-D fusion; models with a colour layer).
        lr_final: the rate decays geometrically to ``lr · lr_final`` at the last step.
        checkpoint_every: steps between checkpoints (0: only at the end).
    """

    steps: int = 300
    seconds: float = 0.0
    batch: int = 8192
    lr: float = 2e-2
    lr_sources: float = 1e-3
    l1: float = 1e-3
    miss_weight: float = 1.0
    rgb_weight: float = 1.0
    lr_final: float = 0.1
    checkpoint_every: int = 25

    def check(self) -> FitConfig:
        for name in ("steps", "batch"):
            if getattr(self, name) < 1:
                raise QuadfreeError(f"{name}={getattr(self, name)}: must be >= 1", param=name)
        for name in ("lr", "lr_final"):
            if not getattr(self, name) > 0:
                raise QuadfreeError(f"{name}={getattr(self, name)}: must be > 0", param=name)
        for name in ("lr_sources", "l1", "miss_weight", "rgb_weight", "seconds"):
            if not getattr(self, name) >= 0:
                raise QuadfreeError(f"{name}={getattr(self, name)}: must be >= 0", param=name)
        return self


@dataclass
class RaySet:
    """Flattened training rays in domain coordinates: o, r ``(R, 3)``, depth ``(R,)``
    (0 = no surface), domain exit ``(R,)``, colour ``(R, 3)`` or None, shading ``(R,)`` or
    None (inverse rendering; NaN where the pixel has no target)."""

    o: torch.Tensor
    r: torch.Tensor
    depth: torch.Tensor
    exit: torch.Tensor
    rgb: torch.Tensor | None = None
    shading: torch.Tensor | None = None

    def __getitem__(self, idx: torch.Tensor) -> RaySet:
        return RaySet(self.o[idx], self.r[idx], self.depth[idx], self.exit[idx],
                      None if self.rgb is None else self.rgb[idx],
                      None if self.shading is None else self.shading[idx])

    @staticmethod
    def from_views(views: DepthViews, frame: Frame) -> RaySet:
        """Example:
            >>> v = DepthViews(torch.zeros(1, 1, 1, 3), torch.tensor([[[[0., 0., 1.]]]]),
            ...                torch.ones(1, 1, 1))
            >>> RaySet.from_views(v, Frame((0.0, 0.0, 0.0), 2.0)).exit.tolist()
            [2.0]
        """
        o, r = frame.rays(views.origins.reshape(-1, 3), views.directions.reshape(-1, 3))
        _, hi = domain_interval(o, r)
        rgb = None if views.rgb is None else views.rgb.reshape(-1, 3)
        return RaySet(o, r, views.depth.reshape(-1), hi, rgb)

    def __len__(self) -> int:
        return self.depth.shape[0]


def depth_loss(model: TaylorDepth | MLPDepth, rays: RaySet, cfg: FitConfig
               ) -> tuple[torch.Tensor, dict]:
    """The training loss on a batch of rays and its parts (floats) for the progress bar.

    Example:
        >>> from quadfree.surface.models import MLPDepth
        >>> rays = RaySet(torch.tensor([[0.0, 0.0, -3.0]]), torch.tensor([[0.0, 0.0, 1.0]]),
        ...               torch.tensor([2.5]), torch.tensor([4.0]))
        >>> loss, parts = depth_loss(MLPDepth(depth=1, width=4), rays, FitConfig())
        >>> round(parts["mae"], 3)                   # the initial ball is hit at 2.15
        0.35
    """
    h = model.hits(rays.o, rays.r)
    fg = rays.depth > 0
    hit_fg, hit_bg, miss_fg = h.hit & fg, h.hit & ~fg, ~h.hit & fg
    target = torch.where(fg, rays.depth, rays.exit).to(h.t.dtype)
    err = torch.where(h.hit, (h.t - target).abs(), torch.zeros_like(h.t))
    loss = err.sum() / len(rays) + cfg.l1 * model.penalty()
    if cfg.miss_weight > 0 and bool(miss_fg.any()):
        r = rays.r[miss_fg]
        t = rays.depth[miss_fg] + MISS_DEPTH / r.norm(dim=-1)      # just behind the surface
        q = (rays.o[miss_fg] + t[:, None] * r).clamp(-1.0, 1.0)
        loss = loss + cfg.miss_weight * torch.relu(MISS_MARGIN - model.value(q)).sum() / len(rays)
    n_fg = max(int(fg.sum()), 1)
    parts = {}
    if getattr(model, "colour", False) and rays.rgb is not None and bool(hit_fg.any()):
        q = rays.o[hit_fg] + h.t[hit_fg, None] * rays.r[hit_fg]     # roots, IFT gradient in t
        rgb_err = (model.colour_at(q) - rays.rgb[hit_fg].to(q.dtype)).abs().mean(-1)
        loss = loss + cfg.rgb_weight * rgb_err.sum() / len(rays)
        parts["rgb"] = float(rgb_err.detach().mean())
    parts |= {"mae": float(err.detach()[hit_fg].sum()) / max(int(hit_fg.sum()), 1),
             "miss": int(miss_fg.sum()) / n_fg, "false": int(hit_bg.sum()) / len(rays)}
    return loss, parts


LossFn = Callable[[TaylorDepth | MLPDepth, RaySet, FitConfig], tuple[torch.Tensor, dict]]


def save_state(path: str | Path, state: dict) -> None:
    """Write a checkpoint atomically."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


CHECKPOINT_KEYS = ("model_config", "model", "optimizer", "step", "elapsed", "history", "fit",
                   "frame")


def load_state(path: str | Path) -> dict:
    """Read a checkpoint with ``weights_only=True``; a bad file is a :class:`QuadfreeError`.

    Example:
        >>> load_state("/nonexistent/ckpt.pt")
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: checkpoint /nonexistent/ckpt.pt: not found
    """
    return load_checkpoint(path, CHECKPOINT_KEYS, "a surface", param="checkpoint")


def make_optimizer(model: TaylorDepth | MLPDepth, cfg: FitConfig) -> torch.optim.Optimizer:
    """Adam; the Taylor model's source positions get their own rate (its colour weights and
    light direction share the rate of w)."""
    if isinstance(model, TaylorDepth):
        extra = ([model.c] if model.colour else []) + ([model.light_raw] if model.light else [])
        groups = [{"params": [model.w] + extra, "lr": cfg.lr}]
        if cfg.lr_sources > 0:
            groups.append({"params": [model.p], "lr": cfg.lr_sources})
        return torch.optim.Adam(groups)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr)


class Fitter:
    """Runs the fit; holds the model, optimizer, step, elapsed time, history and frame.

    Example:
        >>> from quadfree.surface.models import MLPDepth
        >>> rays = RaySet(torch.tensor([[0.0, 0.0, -3.0]]), torch.tensor([[0.0, 0.0, 1.0]]),
        ...               torch.tensor([2.5]), torch.tensor([4.0]))
        >>> f = Fitter(MLPDepth(depth=1, width=4), FitConfig(steps=2, lr=1e-3),
        ...            Frame((0.0, 0.0, 0.0), 1.0))
        >>> len(f.run(rays, quiet=True).history)
        2
    """

    def __init__(self, model: TaylorDepth | MLPDepth, cfg: FitConfig, frame: Frame) -> None:
        self.model, self.cfg, self.frame = model, cfg.check(), frame
        self.optimizer = make_optimizer(model, cfg)
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.step, self.elapsed, self.history = 0, 0.0, []

    @staticmethod
    def resume(path: str | Path, cfg: FitConfig | None = None) -> Fitter:
        """Rebuild a fitter from a checkpoint; ``cfg`` (if given) replaces the saved
        settings (e.g. more steps)."""
        state = load_state(path)
        model = build_model(state["model_config"])
        try:
            model.load_state_dict(state["model"])
            frame = Frame(tuple(state["frame"]["centre"]), float(state["frame"]["scale"]))
            fitter = Fitter(model, cfg or FitConfig(**state["fit"]), frame)
            fitter.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise QuadfreeError(f"checkpoint {path}: does not fit ({type(exc).__name__})",
                                param="checkpoint") from None
        for g, lr in zip(fitter.optimizer.param_groups, fitter.base_lrs):
            g["lr"] = lr
        fitter.step, fitter.elapsed = int(state["step"]), float(state["elapsed"])
        fitter.history = list(state["history"])
        return fitter

    def state(self) -> dict:
        return {"model_config": self.model.config(), "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "step": self.step,
                "elapsed": self.elapsed, "history": self.history, "fit": asdict(self.cfg),
                "frame": self.frame.as_dict()}

    def done(self) -> bool:
        cfg = self.cfg
        return self.step >= cfg.steps or (cfg.seconds > 0 and self.elapsed >= cfg.seconds)

    def _set_lr(self) -> None:
        cfg = self.cfg
        frac = self.step / max(cfg.steps - 1, 1)
        if cfg.seconds > 0:
            frac = max(frac, self.elapsed / cfg.seconds)
        for g, lr in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = lr * cfg.lr_final ** min(frac, 1.0)

    def run(self, rays: RaySet, checkpoint: str | Path | None = None,
            quiet: bool = False, loss_fn: LossFn | None = None) -> Fitter:
        """Train until done; returns self. ``loss_fn`` (default :func:`depth_loss`) maps
        (model, batch, cfg) to the loss and its parts (with ``mae``, ``miss``). History rows:
        step, loss, the parts, seconds, elapsed."""
        loss_fn = depth_loss if loss_fn is None else loss_fn
        gen = torch.Generator()
        bar = tqdm(total=self.cfg.steps, initial=self.step, disable=quiet,
                   desc=f"fit {self.model.kind}", unit="step")
        while not self.done():
            self._set_lr()
            gen.manual_seed(self.step)           # the batch depends on the step alone
            idx = torch.randint(len(rays), (min(self.cfg.batch, len(rays)),), generator=gen)
            batch = rays[idx]
            start = time.perf_counter()
            self.optimizer.zero_grad(set_to_none=True)
            loss, parts = loss_fn(self.model, batch, self.cfg)
            loss.backward()
            self.optimizer.step()
            self.model.after_step()
            spent = time.perf_counter() - start
            self.elapsed += spent
            self.step += 1
            self.history.append({"step": self.step, "loss": float(loss.detach()), **parts,
                                 "seconds": spent, "elapsed": self.elapsed})
            bar.update(1)
            bar.set_postfix(mae=f"{parts['mae']:.3g}", miss=f"{parts['miss']:.2f}",
                            refresh=False)
            every = self.cfg.checkpoint_every
            if checkpoint is not None and every and self.step % every == 0:
                save_state(checkpoint, self.state())
        bar.close()
        if checkpoint is not None:
            save_state(checkpoint, self.state())
        return self
