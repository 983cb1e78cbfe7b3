"""Fitting an SDF model to samples with the mean absolute error (paper §4.3.3).

The Taylor model trains full batch (one expansion of the sources and one of the residual
signs per epoch); the MLP in mini-batches as DeepSDF does (an epoch is one pass over all
samples). Both stop after ``epochs`` or when ``seconds`` of training time are spent, whichever
comes first; checkpoints are written atomically and read back with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from quadfree.atomic import atomic_path
from quadfree.errors import QuadfreeError
from quadfree.safeio import load_checkpoint
from quadfree.sdf.models import MLPSDF, TaylorSDF, build_model
from quadfree.sdf.samples import Samples


@dataclass
class FitConfig:
    """Optimisation settings.

    Attributes:
        epochs: most epochs. seconds: training-time budget (0: none).
        lr: Adam learning rate (of w for the Taylor model, in distance units).
        lr_sources: Adam learning rate of the source positions (Taylor only).
        batch: mini-batch of the MLP (the Taylor model always uses the full batch).
        lr_final: the rate decays geometrically to ``lr · lr_final`` at the last epoch.
        checkpoint_every: epochs between checkpoints (0: only at the end).
    """

    epochs: int = 200
    seconds: float = 0.0
    lr: float = 1e-2
    lr_sources: float = 1e-3
    batch: int = 16384
    lr_final: float = 0.1
    checkpoint_every: int = 50

    def check(self) -> FitConfig:
        if self.epochs < 1:
            raise QuadfreeError(f"epochs={self.epochs}: must be >= 1", param="epochs")
        if self.lr <= 0:
            raise QuadfreeError(f"lr={self.lr}: must be > 0", param="lr")
        if self.lr_sources < 0:
            raise QuadfreeError(f"lr_sources={self.lr_sources}: must be >= 0",
                                param="lr_sources")
        if self.batch < 1:
            raise QuadfreeError(f"batch={self.batch}: must be >= 1", param="batch")
        if self.seconds < 0:
            raise QuadfreeError(f"seconds={self.seconds}: must be >= 0", param="seconds")
        return self


def make_optimizer(model: TaylorSDF | MLPSDF, cfg: FitConfig) -> torch.optim.Optimizer:
    """Adam; the Taylor model's source positions get their own rate.

    Example:
        >>> from quadfree.sdf.models import MLPSDF
        >>> type(make_optimizer(MLPSDF(2, 4), FitConfig())).__name__
        'Adam'
    """
    if isinstance(model, TaylorSDF):
        groups = [{"params": [model.layer.w], "lr": cfg.lr}]
        if model.learn_sources:
            groups.append({"params": [model.layer.p], "lr": cfg.lr_sources})
        return torch.optim.Adam(groups)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr)


def mae(model, samples: Samples, chunk: int = 1 << 18) -> float:
    """Mean absolute error of ``model.field`` on ``samples``.

    Example:
        >>> from quadfree.sdf.models import MLPSDF
        >>> s = Samples(torch.zeros(3, 3), torch.zeros(3), torch.ones(3).bool())
        >>> mae(MLPSDF(2, 4), s) >= 0
        True
    """
    if len(samples) == 0:
        return float("nan")
    with torch.no_grad():
        err = sum(float((model.field(q) - d.to(q.device)).abs().sum())
                  for q, d in zip(samples.q.split(chunk), samples.d.split(chunk)))
    return err / len(samples)


def save_state(path: str | Path, state: dict) -> None:
    """Write a checkpoint atomically."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_state(path: str | Path) -> dict:
    """Read a checkpoint with ``weights_only=True``; a bad file is a :class:`QuadfreeError`.

    Example:
        >>> load_state("/nonexistent/ckpt.pt")
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: checkpoint /nonexistent/ckpt.pt: not found
    """
    return load_checkpoint(path, ("model_config", "model", "optimizer", "epoch", "elapsed",
                                  "history", "fit"), "an sdf")


class Fitter:
    """Runs the fit; holds the model, optimizer, epoch count, elapsed time and history.

    Example:
        >>> from quadfree.sdf.models import MLPSDF
        >>> s = Samples(torch.rand(64, 3) - 0.5, torch.rand(64), torch.ones(64).bool())
        >>> f = Fitter(MLPSDF(2, 8), FitConfig(epochs=2, batch=32))
        >>> len(f.run(s, quiet=True).history)
        2
    """

    def __init__(self, model: TaylorSDF | MLPSDF, cfg: FitConfig) -> None:
        self.model, self.cfg = model, cfg.check()
        self.optimizer = make_optimizer(model, cfg)
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.epoch, self.elapsed, self.history = 0, 0.0, []

    @staticmethod
    def resume(path: str | Path, cfg: FitConfig | None = None) -> Fitter:
        """Rebuild a fitter from a checkpoint; ``cfg`` (if given) replaces the saved
        settings (e.g. more epochs)."""
        state = load_state(path)
        model = build_model(state["model_config"])
        model.load_state_dict(state["model"])
        fitter = Fitter(model, cfg or FitConfig(**state["fit"]))
        try:
            fitter.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as exc:
            raise QuadfreeError(f"checkpoint {path}: optimizer state does not fit ({exc})"
                                ) from None
        for g, lr in zip(fitter.optimizer.param_groups, fitter.base_lrs):
            g["lr"] = lr
        fitter.epoch, fitter.elapsed = int(state["epoch"]), float(state["elapsed"])
        fitter.history = list(state["history"])
        return fitter

    def state(self) -> dict:
        return {"model_config": self.model.config(), "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "epoch": self.epoch,
                "elapsed": self.elapsed, "history": self.history, "fit": asdict(self.cfg)}

    def _set_lr(self) -> None:
        frac = self.epoch / max(self.cfg.epochs - 1, 1)
        for g, lr in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = lr * self.cfg.lr_final ** min(frac, 1.0)

    def _epoch(self, samples: Samples, gen: torch.Generator, targets=None) -> float:
        """One epoch; ``targets``: ``samples.q`` prepared by ``TaylorSDF.prepare`` (the
        Taylor model's full batch, cells and basis reused every epoch) or None."""
        model, opt = self.model, self.optimizer
        if isinstance(model, TaylorSDF):
            opt.zero_grad(set_to_none=True)
            q = samples.q if targets is None else targets
            loss = (model(q) - samples.d).abs().mean()
            loss.backward()
            opt.step()
            model.after_step()
            return float(loss.detach())
        total = 0.0
        perm = torch.randperm(len(samples), generator=gen).to(samples.q.device)
        for idx in perm.split(self.cfg.batch):
            opt.zero_grad(set_to_none=True)
            loss = (model(samples.q[idx]) - samples.d[idx]).abs().mean()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        return total / len(samples)

    def done(self) -> bool:
        cfg = self.cfg
        return self.epoch >= cfg.epochs or (cfg.seconds > 0 and self.elapsed >= cfg.seconds)

    def run(self, samples: Samples, checkpoint: str | Path | None = None,
            quiet: bool = False) -> Fitter:
        """Train until done; returns self. History rows: epoch, loss, seconds, elapsed."""
        gen = torch.Generator()
        device = next(self.model.parameters()).device
        samples = samples.to(device)
        if self.epoch == 0 and hasattr(self.model, "init_from_samples"):
            self.model.init_from_samples(samples.q, samples.d)
        # full batch: the samples' cells and basis are computed once, not every epoch; the
        # time it takes counts as training time
        start = time.perf_counter()
        targets = self.model.prepare(samples.q) if isinstance(self.model, TaylorSDF) else None
        self.elapsed += time.perf_counter() - start
        bar = tqdm(total=self.cfg.epochs, initial=self.epoch, disable=quiet,
                   desc=f"fit {self.model.kind}", unit="epoch")
        while not self.done():
            self._set_lr()
            gen.manual_seed(self.epoch)        # batch order depends on the epoch alone
            start = time.perf_counter()
            loss = self._epoch(samples, gen, targets)
            spent = time.perf_counter() - start
            self.elapsed += spent
            self.epoch += 1
            self.history.append({"epoch": self.epoch, "loss": loss, "seconds": spent,
                                 "elapsed": self.elapsed})
            bar.update(1)
            bar.set_postfix(mae=f"{loss:.2e}", refresh=False)
            every = self.cfg.checkpoint_every
            if checkpoint is not None and every and self.epoch % every == 0:
                save_state(checkpoint, self.state())
        bar.close()
        if checkpoint is not None:
            save_state(checkpoint, self.state())
        return self
