"""A small, reproducible training loop for grad networks (Adam, progress bar, early stop)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm


@dataclass
class FitHistory:
    """What :func:`fit` did: the loss at every step, how many steps, seconds, whether the
    target loss was reached."""

    losses: list[float] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    reached_target: bool = False

    @property
    def final_loss(self) -> float:
        return self.losses[-1] if self.losses else float("nan")


def fit(module: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *, steps: int = 2000,
        lr: float = 1e-4, batch_size: int | None = None, target_loss: float | None = None,
        seed: int = 0, progress: bool = True,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        desc: str = "fit", lr_final: float | None = None) -> FitHistory:
    """Fit ``module(inputs) ≈ targets`` with Adam (MSE unless ``loss_fn`` is given).

    Typically ``module`` is a :class:`~quadfree.autoint.GradNetwork`, so the step trains the
    integral network Φ it shares parameters with.

    Args:
        module: the network to train (its parameters are updated in place).
        inputs: ``(N, d)`` sample coordinates.
        targets: ``(N, c)`` signal values.
        steps: maximum number of Adam steps.
        lr: learning rate.
        batch_size: rows per step, drawn at random with a generator seeded by ``seed``;
            all rows when None.
        target_loss: stop as soon as the step's loss is at or below it.
        seed: seeds the batch sampling (initialise the network under your own seed).
        progress: show a tqdm bar with the loss.
        loss_fn: ``loss_fn(prediction, target)``; MSE by default, in which case the module's
            output must have exactly the targets' shape (no silent broadcasting).
        desc: label of the progress bar.
        lr_final: when given, the learning rate follows a cosine from ``lr`` down to
            ``lr_final`` over ``steps`` (precise fits need the decay).

    Example:
        >>> from quadfree.fields import siren
        >>> from quadfree.autoint import GradNetwork
        >>> phi = siren(1, 1, hidden=16, depth=2)
        >>> x = torch.linspace(-1, 1, 256)[:, None]
        >>> h = fit(GradNetwork(phi, axes=0), x, torch.cos(3 * x), steps=20, progress=False)
        >>> h.steps
        20
    """
    if inputs.shape[0] != targets.shape[0]:
        raise ValueError(f"inputs have {inputs.shape[0]} rows but targets {targets.shape[0]}")
    check_shapes = loss_fn is None
    loss_fn = loss_fn or nn.functional.mse_loss
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    scheduler = None
    if lr_final is not None:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1),
                                                               eta_min=lr_final)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    history = FitHistory()
    start = time.perf_counter()
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False)
    for step in bar:
        if batch_size is None or batch_size >= inputs.shape[0]:
            x, y = inputs, targets
        else:
            idx = torch.randint(inputs.shape[0], (batch_size,), generator=gen).to(inputs.device)
            x, y = inputs[idx], targets[idx]
        pred = module(x)
        if check_shapes and pred.shape != y.shape:
            raise ValueError(f"module output {tuple(pred.shape)} and targets {tuple(y.shape)} "
                             "differ in shape (MSE would broadcast them)")
        loss = loss_fn(pred, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        value = float(loss.detach())
        history.losses.append(value)
        history.steps = step + 1
        if step % 50 == 0:
            bar.set_postfix(loss=f"{value:.2e}")
        if target_loss is not None and value <= target_loss:
            history.reached_target = True
            break
    bar.close()
    history.seconds = time.perf_counter() - start
    return history
