"""Training configuration (a dataclass; command-line ``--set key=value`` overrides it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainConfig:
    """Hyper-parameters of :class:`quadfree.train.Trainer` (defaults: small CPU runs).

    Attributes:
        iters: total optimisation steps.
        batch_rays: rays per step, drawn uniformly from all training pixels.
        lr: initial Adam learning rate.
        lr_final: learning rate reached (exponentially) after ``lr_decay_steps`` steps.
        lr_decay_steps: steps of the exponential decay; 0 means ``iters`` of the first run
            (fixed at the start so a resumed, extended run keeps the same schedule).
        precrop_iters: for the first steps draw rays only from the central crop of each image
            (NeRF's trick against an all-white start on Blender scenes); 0 disables.
        precrop_frac: side fraction of that central crop.
        val_every: validate every this many steps (0: only at the end).
        val_views: how many validation images to render each time.
        ckpt_every: write a checkpoint every this many steps (always at the end and on Ctrl-C).
        chunk: rays per forward pass when rendering full images.
        grad_clip: clip the global gradient norm (0: off).
        tensorboard: also log to TensorBoard (needs the ``tensorboard`` package).
        max_seconds: stop once this much training time (excluding validation) has been spent
            (0: no limit); benchmarks train for a fixed time budget this way.
        lr_follows_time: with ``max_seconds``, decay the learning rate over whichever runs out
            first, steps or time (see :meth:`lr_at`), so a run stopped by its budget still
            ends at ``lr_final``. Off by default: the schedule then depends only on the step,
            and runs (and ``--resume``) are bit-for-bit reproducible. The demo and
            ``bench autoint`` turn it on (equal time budgets for methods of very different
            step costs); resuming such a run with a larger ``max_seconds`` moves it back up
            the schedule.
    """

    iters: int = 2000
    batch_rays: int = 512
    lr: float = 5e-3
    lr_final: float = 2.5e-4
    lr_decay_steps: int = 0
    precrop_iters: int = 0
    precrop_frac: float = 0.5
    val_every: int = 500
    val_views: int = 2
    ckpt_every: int = 500
    chunk: int = 4096
    grad_clip: float = 0.0
    tensorboard: bool = False
    max_seconds: float = 0.0
    lr_follows_time: bool = False

    def lr_at(self, step: int, seconds: float = 0.0) -> float:
        """Learning rate for ``step`` (0-based) after ``seconds`` of training:
        ``lr·(lr_final/lr)^p`` with progress ``p = step/decay_steps``, or, with
        ``lr_follows_time`` and ``max_seconds``, the larger of that and
        ``seconds/max_seconds`` (so a run stopped by its time budget still ends at
        ``lr_final``; step counts calibrated on a calmer machine would otherwise leave the
        schedule half done).

        Example:
            >>> TrainConfig(lr=1e-2, lr_final=1e-3, lr_decay_steps=100).lr_at(100)
            0.001
            >>> TrainConfig(lr=1e-2, lr_final=1e-3, lr_decay_steps=100, max_seconds=60.0,
            ...             lr_follows_time=True).lr_at(10, seconds=60.0)
            0.001
        """
        steps = self.lr_decay_steps or self.iters
        progress = min(step, steps) / max(steps, 1)
        if self.lr_follows_time and self.max_seconds > 0:
            progress = max(progress, seconds / self.max_seconds)
        if progress >= 1.0:
            return self.lr_final
        return self.lr * (self.lr_final / self.lr) ** progress
