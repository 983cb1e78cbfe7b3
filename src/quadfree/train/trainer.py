"""The trainer shared by every :class:`RadianceMethod`.

Random ray batches across all training images, Adam with exponential learning-rate decay, a
progress bar (loss, PSNR, rays/s), periodic validation, atomic checkpoints holding model,
optimizer and every RNG state, exact resume, and Ctrl-C that saves before exiting. The
progress bar, TensorBoard and Ctrl-C handling live in :mod:`quadfree.train.hooks`.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from quadfree.atomic import write_text
from quadfree.config import apply_overrides, to_dict
from quadfree.data.formats import detect_format, has_split, load_views
from quadfree.data.views import ViewSet
from quadfree.errors import QuadfreeError
from quadfree.machine import machine_info
from quadfree.metrics import psnr as psnr_metric
from quadfree.outputs import (
    output_lock,
    prepare_output_dir,
    publish_dir,
    remove_stale_staging,
    staging_dir,
)
from quadfree.radiance.base import RadianceMethod, RayBundle
from quadfree.radiance.registry import build_method
from quadfree.render.image import render_image
from quadfree.seeding import seed_everything
from quadfree.train.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from quadfree.train.config import TrainConfig
from quadfree.train.distributed import DistContext, any_rank, barrier, reduce_step
from quadfree.train.hooks import ProgressBar, StopOnSigint, TensorBoard


def _mse_to_psnr(mse: float) -> float:
    return math.inf if mse <= 0 else -10.0 * math.log10(mse)


def _rng_state(gen: torch.Generator) -> dict[str, Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    # NumPy's state as a tensor and plain numbers: checkpoints hold no pickled NumPy objects
    numpy_state = [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss]
    state = {"gen": gen.get_state(), "torch": torch.get_rng_state(),
             "numpy": numpy_state, "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(gen: torch.Generator, state: dict[str, Any]) -> None:
    gen.set_state(state["gen"])
    torch.set_rng_state(state["torch"])
    kind, keys, *rest = state["numpy"]
    keys = keys.numpy() if isinstance(keys, torch.Tensor) else np.asarray(keys)
    np.random.set_state((kind, keys.astype(np.uint32), *rest))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class _RaysModule(torch.nn.Module):
    """The method's training path as a ``forward`` over plain tensors, for
    :class:`~torch.nn.parallel.DistributedDataParallel` (which hooks ``forward``)."""

    def __init__(self, method: RadianceMethod) -> None:
        super().__init__()
        self.method = method

    def forward(self, origins: torch.Tensor, directions: torch.Tensor, near: torch.Tensor,
                far: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.method.render_rays(RayBundle(origins, directions, near, far), training=True)


class Trainer:
    """Train one radiance method on one training split (any dataset format).

    Args:
        method: the model (any :class:`RadianceMethod`).
        method_name, method_config: registry name and config dataclass (saved in checkpoints).
        train_data: training split; val_data: validation split or None.
        config: :class:`TrainConfig`.
        out_dir: run directory (``checkpoint.pt``, ``config.json``, ``history.json``).
        data_info: dataset description saved with the run (path, format, downscale, near,
            far, ndc).
        device: torch device; seed: seeds every RNG at the start of a fresh run.
        progress: show a tqdm bar.
        on_step: optional callback ``(trainer, step)`` after each finished step (tests, hooks).
        dist: the process group context (:mod:`quadfree.train.distributed`); with more than
            one rank the method is wrapped in DistributedDataParallel, rays are sharded by
            rank and only rank 0 validates and writes files.

    Example (a 2-step run on a 3-image toy dataset; ``fit`` returns a summary):
        >>> import tempfile
        >>> from quadfree.radiance.registry import build_method
        >>> data = ViewSet(torch.rand(3, 4, 4, 3), torch.eye(4).repeat(3, 1, 1),
        ...                     4, 4, 4.0, 2.0, 6.0, 0.9)
        >>> m, cfg = build_method("nerf", {"width": 8, "depth": 1, "skips": "", "n_fine": 0})
        >>> t = Trainer(m, "nerf", cfg, data, None, TrainConfig(iters=2, batch_rays=8),
        ...             tempfile.mkdtemp(), {}, progress=False)
        >>> t.fit()["step"]
        2
    """

    def __init__(self, method: RadianceMethod, method_name: str, method_config: Any,
                 train_data: ViewSet, val_data: ViewSet | None, config: TrainConfig,
                 out_dir: str | Path, data_info: dict[str, Any], *,
                 device: torch.device | str = "cpu", seed: int = 0, progress: bool = True,
                 on_step: Callable[[Trainer, int], None] | None = None,
                 dist: DistContext | None = None) -> None:
        if config.iters < 0 or config.batch_rays < 1:
            raise QuadfreeError(f"iters {config.iters} / batch_rays {config.batch_rays}: "
                                "need iters >= 0 and batch_rays >= 1")
        if not (config.lr > 0 and config.lr_final > 0 and config.chunk >= 1
                and 0 < config.precrop_frac <= 1):
            raise QuadfreeError(f"training config: need lr > 0 (got {config.lr}), lr_final > 0 "
                                f"(got {config.lr_final}), chunk >= 1 (got {config.chunk}) and "
                                f"0 < precrop_frac <= 1 (got {config.precrop_frac})")
        self.device = torch.device(device)
        self.method = method.to(self.device)
        self.method_name, self.method_config = method_name, method_config
        self.train_data, self.val_data = train_data, val_data
        self.config, self.out_dir, self.data_info = config, Path(out_dir), data_info
        self.progress, self.on_step, self.seed = progress, on_step, seed
        self.dist = dist or DistContext()
        if not config.lr_decay_steps:
            self.config = apply_overrides(config, {"lr_decay_steps": max(config.iters, 1)})
        self.gen = seed_everything(seed)
        self.optimizer = torch.optim.Adam(self.method.parameters(), lr=config.lr)
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.train_seconds = 0.0
        rays, rgb = train_data.all_rays()
        rank, world = self.dist.rank, self.dist.world_size
        if len(rays) < world:
            raise QuadfreeError(f"train_data: {len(rays)} rays cannot be shared by {world} "
                                "processes")
        # this rank's shard: every world-th ray, starting at its rank
        self.rays, self.target = rays[rank::world].to(self.device), rgb[rank::world].to(self.device)
        self.rank_batch = -(-config.batch_rays // world)
        self.precrop_index = self._precrop_index()
        self.ddp = None
        if self.dist.active:
            from torch.nn.parallel import DistributedDataParallel

            self.ddp = DistributedDataParallel(
                _RaysModule(self.method), find_unused_parameters=True,
                device_ids=[self.device] if self.device.type == "cuda" else None)
        self._last: dict[str, float] = {}
        self.publish_to: Path | None = None     # see save()

    def _precrop_index(self) -> torch.Tensor | None:
        cfg, d = self.config, self.train_data
        if cfg.precrop_iters <= 0:
            return None
        dh, dw = int(d.height * cfg.precrop_frac / 2), int(d.width * cfg.precrop_frac / 2)
        rows = torch.arange(d.height // 2 - dh, d.height // 2 + max(dh, 1))
        cols = torch.arange(d.width // 2 - dw, d.width // 2 + max(dw, 1))
        pix = (rows[:, None] * d.width + cols[None, :]).reshape(-1)
        per = d.height * d.width
        index = (torch.arange(len(d))[:, None] * per + pix[None, :]).reshape(-1)
        rank, world = self.dist.rank, self.dist.world_size
        return index[index % world == rank] // world     # positions in this rank's shard

    # -- checkpoints -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly (see :mod:`quadfree.train.checkpoint`)."""
        return {"method": self.method_name, "method_config": to_dict(self.method_config),
                "train_config": asdict(self.config), "data": self.data_info,
                "step": self.step, "seed": self.seed, "model": self.method.state_dict(),
                "optimizer": self.optimizer.state_dict(), "rng": _rng_state(self.gen),
                "history": self.history, "train_seconds": self.train_seconds,
                "machine": machine_info(self.device),
                "saved_at": datetime.now(UTC).isoformat(timespec="seconds")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore model, optimizer, RNG states, step and history from a checkpoint dict."""
        self.method.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        _set_rng_state(self.gen, state["rng"])
        self.step = int(state["step"])
        self.history = list(state.get("history", []))
        self.train_seconds = float(state.get("train_seconds", 0.0))

    def save(self) -> None:
        """Write ``checkpoint.pt`` and ``history.json`` atomically (rank 0 only); a run built
        in a staging folder (``publish_to`` set) moves to its place with its first complete
        checkpoint."""
        if not self.dist.is_main:
            return
        save_checkpoint(self.out_dir / CHECKPOINT_NAME, self.state_dict())
        write_text(self.out_dir / "history.json", json.dumps(self.history, indent=1) + "\n")
        if self.publish_to is not None:
            self.out_dir, self.publish_to = publish_dir(self.out_dir, self.publish_to), None

    # -- one step --------------------------------------------------------------------------
    def _batch(self) -> tuple[RayBundle, torch.Tensor]:
        if self.precrop_index is not None and self.step < self.config.precrop_iters:
            pick = torch.randint(0, len(self.precrop_index), (self.rank_batch,),
                                 generator=self.gen)
            idx = self.precrop_index[pick]
        else:
            idx = torch.randint(0, len(self.rays), (self.rank_batch,), generator=self.gen)
        idx = idx.to(self.device)
        return self.rays[idx], self.target[idx]

    def train_step(self) -> tuple[float, float]:
        """One optimisation step; returns ``(loss, psnr of the main rgb output)`` (this
        rank's; :meth:`fit` averages them over the ranks)."""
        loss, mse = self._step()
        return loss, _mse_to_psnr(mse)

    def _step(self) -> tuple[float, float]:
        """One optimisation step; ``(loss, mse of the main rgb output)``."""
        lr = self.config.lr_at(self.step, self.train_seconds)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        rays, target = self._batch()
        self.method.train()
        if self.ddp is not None:
            out = self.ddp(rays.origins, rays.directions, rays.near, rays.far)
        else:
            out = self.method.render_rays(rays, training=True)
        loss = self.method.loss(out, target)
        if not torch.isfinite(loss):
            raise QuadfreeError(f"training diverged at step {self.step}: loss is {loss.item()} "
                                "(try a smaller lr)")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.method.parameters(), self.config.grad_clip)
        self.optimizer.step()
        mse = float(((out["rgb"].detach() - target) ** 2).mean())
        return float(loss.detach()), mse

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Render the first ``val_views`` validation images; mean PSNR and seconds/frame."""
        if self.val_data is None or self.config.val_views <= 0 or not self.dist.is_main:
            return {}
        values, seconds = [], []
        for i in range(min(self.config.val_views, len(self.val_data))):
            out = render_image(self.method, self.val_data.camera(i), near=self.val_data.near,
                               far=self.val_data.far, chunk=self.config.chunk, device=self.device)
            values.append(psnr_metric(out["rgb"].clamp(0, 1), self.val_data.images[i]))
            seconds.append(out["seconds"])
        return {"val_psnr": float(np.mean(values)), "val_s_per_frame": float(np.mean(seconds))}

    # -- the loop --------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        """Train until ``config.iters`` (or the time budget); returns a summary dict.

        Ctrl-C (SIGINT) finishes the current step, writes a checkpoint and raises
        :class:`KeyboardInterrupt`; a second Ctrl-C interrupts at once. The loop itself is
        small: the progress bar, TensorBoard and Ctrl-C are hooks (:mod:`quadfree.train.hooks`),
        validation and history are :meth:`_log_step`, checkpoints :meth:`_maybe_save`.
        """
        self._write_config()
        cfg = self.config
        self._last = {}
        show = self.progress and self.dist.is_main
        board = cfg.tensorboard and self.dist.is_main       # rank 0 alone writes files
        with ProgressBar(cfg.iters, self.step, f"train {self.method_name}", show) as bar, \
                TensorBoard(board, self.out_dir / "tensorboard") as tb, \
                StopOnSigint() as stop:
            while self.step < cfg.iters:
                if cfg.max_seconds and self.train_seconds >= cfg.max_seconds:
                    self._stop_on_budget()
                    break
                start = time.perf_counter()
                loss, mse = self._step()
                elapsed = time.perf_counter() - start
                loss, mse, elapsed = reduce_step(self.dist, loss, mse, elapsed, self.device)
                train_psnr = _mse_to_psnr(mse)
                self.train_seconds += elapsed
                self.step += 1
                bar.step(loss, train_psnr, cfg.batch_rays / max(elapsed, 1e-9))
                self._log_step(loss, train_psnr, tb, bar)
                if self.on_step is not None:
                    self.on_step(self, self.step)
                if any_rank(self.dist, stop.requested, self.device):
                    self.save()
                    raise KeyboardInterrupt(f"checkpoint saved at step {self.step} in "
                                            f"{self.out_dir}; resume to continue")
                self._maybe_save()
        if cfg.iters == 0 or self.step == 0:
            self.save()
        barrier(self.dist)           # rank 0's files are complete when any rank returns
        return {**self._last, "step": self.step, "train_seconds": self.train_seconds}

    def _write_config(self) -> None:
        if not self.dist.is_main:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        write_text(self.out_dir / "config.json", json.dumps(
            {"method": self.method_name, "method_config": to_dict(self.method_config),
             "train_config": asdict(self.config), "data": self.data_info, "seed": self.seed},
            indent=2) + "\n")

    def _stop_on_budget(self) -> None:
        """The time budget ran out: validate where it did (once) and save."""
        if self._last.get("step") != self.step:
            self._last = {**self.validate(), "step": self.step}
            if self.history and self.history[-1]["step"] == self.step:
                self.history[-1].update(self._last)
            else:
                self.history.append({"train_seconds": self.train_seconds, **self._last})
        self.save()

    def _log_step(self, loss: float, train_psnr: float, tb: TensorBoard, bar: ProgressBar
                  ) -> None:
        """TensorBoard scalars, validation every ``val_every`` steps and at the end, and the
        history (every validation, step 1 and every 50th step)."""
        cfg = self.config
        tb.scalar("train/loss", loss, self.step)
        tb.scalar("train/psnr", train_psnr, self.step)
        record = {"step": self.step, "loss": loss, "psnr": train_psnr,
                  "lr": self.optimizer.param_groups[0]["lr"],
                  "train_seconds": self.train_seconds}
        if cfg.val_every and self.step % cfg.val_every == 0 or self.step == cfg.iters:
            self._last = {**self.validate(), "step": self.step}
            record.update(self._last)
            for k, v in self._last.items():
                if k != "step":
                    tb.scalar(f"val/{k}", v, self.step)
            if "val_psnr" in self._last:
                bar.note(f"step {self.step}: val PSNR {self._last['val_psnr']:.2f} dB")
            self.history.append(record)
            if self.dist.is_main:
                write_text(self.out_dir / "history.json",
                           json.dumps(self.history, indent=1) + "\n")
        elif self.step % 50 == 0 or self.step == 1:
            self.history.append(record)

    def _maybe_save(self) -> None:
        cfg = self.config
        if (cfg.ckpt_every and self.step % cfg.ckpt_every == 0) or self.step == cfg.iters:
            self.save()


def train_run(method_name: str, data_dir: str | Path, out_dir: str | Path, *,
              method_overrides: dict[str, Any] | None = None,
              train_overrides: dict[str, Any] | None = None, downscale: int = 1,
              near: float | None = None, far: float | None = None, ndc: bool = True,
              resume: bool = False, seed: int = 0,
              device: torch.device | str = "cpu", progress: bool = True,
              on_step: Callable[[Trainer, int], None] | None = None,
              overwrite: bool = False, dist: DistContext | None = None) -> dict[str, Any]:
    """Load data, build (or restore) the method and train it: the library behind
    ``quadfree train`` (also under ``torchrun``: pass the :class:`DistContext` of
    :func:`quadfree.train.distributed.init_distributed`).

    With ``resume`` the run directory's checkpoint supplies method, configs, data options,
    weights, optimizer and RNG states; only training options (``train_overrides``, e.g.
    ``iters``) may change, not the method's config. Returns the trainer's summary plus ``"out"``.

    A new run is refused if ``out_dir`` exists and is not empty (unless ``overwrite``); it is
    built in a hidden folder beside ``out_dir`` and appears there only with its first complete
    checkpoint (an existing folder is replaced then). A lock beside ``out_dir`` refuses a second
    process training into the same place. Under DDP only rank 0 checks, locks, stages and
    publishes ``out_dir`` (the other ranks never write).

    The dataset format is detected (:func:`quadfree.data.formats.detect_format`); near/far
    None take the format's defaults; ``ndc`` applies to LLFF data.

    Example:
        >>> train_run("nerf", "/no/such/dir", "/tmp/x", progress=False)
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: /no/such/dir: dataset directory not found
    """
    out_dir = Path(out_dir)
    state = None
    if resume:
        state = load_checkpoint(out_dir / CHECKPOINT_NAME)
        if method_name and method_name != state["method"]:
            raise QuadfreeError(f"method {method_name}: the run in {out_dir} was trained with "
                                f"{state['method']!r}", param="method")
        method_name = state["method"]
        if method_overrides:
            raise QuadfreeError(f"method_overrides {', '.join(method_overrides)}: the method's "
                                "config cannot change when resuming (the weights depend on it)")
        method_overrides = dict(state["method_config"])
        train_overrides = {**state["train_config"], **(train_overrides or {})}
        info = state["data"]
        data_dir, downscale, near, far = info["path"], info["downscale"], info["near"], info["far"]
        ndc = bool(info.get("ndc", True))
        seed = int(state.get("seed", seed))
    elif (out_dir / CHECKPOINT_NAME).exists() and not overwrite:
        raise QuadfreeError(f"out {out_dir}: already holds a run; resume it, overwrite it or "
                            "choose another directory", param=("out", "resume", "overwrite"))
    is_main = dist is None or dist.is_main
    if not resume and is_main:
        prepare_output_dir(out_dir, "out", overwrite=overwrite,
                           hint="overwrite (or resume to continue a run)",
                           hint_params=("overwrite", "resume"))
    # Everything the run needs is checked before the data is loaded or the lock taken.
    build_method(method_name, method_overrides)             # validates the method's config
    config = apply_overrides(TrainConfig(), train_overrides)
    check_train_config(config)
    fmt = detect_format(data_dir)
    options = {"format": fmt, "downscale": downscale, "near": near, "far": far, "ndc": ndc}
    train_data = load_views(data_dir, "train", **options)
    val_data = load_views(data_dir, "val", **options) if has_split(data_dir, "val", fmt) \
        else None
    # rank 0 alone owns the output folder: lock, staging folder, publishing
    with output_lock(out_dir, "out") if is_main else contextlib.nullcontext():
        staging = None
        if not resume and is_main:
            remove_stale_staging(out_dir)
            staging = staging_dir(out_dir)
        try:
            seed_everything(seed)  # same initial weights for the same seed
            method, method_config = build_method(method_name, method_overrides)
            data_info = {"path": str(Path(data_dir).resolve()), **options}
            trainer = Trainer(method, method_name, method_config, train_data, val_data, config,
                              staging or out_dir, data_info, device=device, seed=seed,
                              progress=progress, on_step=on_step, dist=dist)
            if staging is not None:
                trainer.publish_to = out_dir
            if state is not None:
                trainer.load_state_dict(state)
            summary = trainer.fit()
        finally:
            if staging is not None and staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return {**summary, "out": str(out_dir), "method": method_name}


def check_train_config(config: TrainConfig) -> None:
    """Reject nonsense training values before any work: ``iters >= 1``, ``max_seconds >= 0``
    (finite), ``batch_rays >= 1``, positive learning rates, ``chunk >= 1``, a crop fraction in
    (0, 1] and non-negative step intervals.

    Example:
        >>> check_train_config(TrainConfig(iters=0))
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: iters 0: must be at least 1
    """
    c = config
    checks = [
        ("iters", c.iters, c.iters >= 1, "must be at least 1"),
        ("max_seconds", c.max_seconds, math.isfinite(c.max_seconds) and c.max_seconds >= 0,
         "must be >= 0 (0: no limit)"),
        ("batch_rays", c.batch_rays, c.batch_rays >= 1, "must be at least 1"),
        ("lr", c.lr, c.lr > 0 and math.isfinite(c.lr), "must be positive"),
        ("lr_final", c.lr_final, c.lr_final > 0 and math.isfinite(c.lr_final),
         "must be positive"),
        ("chunk", c.chunk, c.chunk >= 1, "must be at least 1"),
        ("precrop_frac", c.precrop_frac, 0 < c.precrop_frac <= 1, "must be in (0, 1]"),
        ("grad_clip", c.grad_clip, c.grad_clip >= 0, "must be >= 0 (0: off)"),
    ]
    checks += [(k, getattr(c, k), getattr(c, k) >= 0, "must be >= 0")
               for k in ("lr_decay_steps", "precrop_iters", "val_every", "val_views",
                         "ckpt_every")]
    for key, value, ok, rule in checks:
        if not ok:
            raise QuadfreeError(f"{key} {value}: {rule}", param=key)


def route_overrides(method_name: str | None, overrides: dict[str, Any],
                    resume_run: str | Path | None = None
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``KEY=VALUE`` overrides between the method's ``Config`` and :class:`TrainConfig`.

    With ``resume_run`` and no method name, the method is read from that run's checkpoint.
    A key that belongs to neither is a :class:`QuadfreeError`.

    Example:
        >>> route_overrides("nerf", {"width": "64", "lr": "1e-3"})
        ({'width': '64'}, {'lr': '1e-3'})
    """
    import dataclasses

    from quadfree.radiance.registry import default_config

    if method_name is None and resume_run is not None:
        method_name = load_checkpoint(Path(resume_run) / CHECKPOINT_NAME)["method"]
    method_keys = {f.name for f in dataclasses.fields(default_config(method_name or "nerf"))}
    train_keys = {f.name for f in dataclasses.fields(TrainConfig)}
    method_over, train_over = {}, {}
    for key, value in overrides.items():
        if key in method_keys:
            method_over[key] = value
        elif key in train_keys:
            train_over[key] = value
        else:
            raise QuadfreeError(f"{key}={value}: unknown key; method keys "
                                f"{sorted(method_keys)}, training keys {sorted(train_keys)}")
    return method_over, train_over
