"""A second copy of a model that a viewer renders while the first one trains.

The training loop calls :meth:`WeightSnapshot.offer` after every step (a hook); every
``every_steps`` steps or ``every_seconds`` seconds it copies the training model's weights into
a staging buffer under a lock (a plain tensor copy: training never waits for a render). The
render thread calls :meth:`WeightSnapshot.current`, which loads the newest staged weights into
the snapshot's own model under the same lock and returns it. The renderer therefore never
touches the training model: not its parameters, not its train/eval mode, not its autograd
state. Making the copy (``copy.deepcopy``) draws no random numbers, so training with a
snapshot is bit-identical to training without one.
"""

from __future__ import annotations

import copy
import threading
import time

import torch

from quadfree.errors import QuadfreeError


class WeightSnapshot:
    """The viewer's own copy of ``model`` (eval mode, no gradients), refreshed by :meth:`offer`.

    Args:
        model: the training model (copied once here; never modified).
        step: the training step ``model``'s weights belong to.
        every_steps: copy every that many steps (0: no step rule).
        every_seconds: copy when that many seconds passed since the last copy (0: no time rule).
        total: the run's last step, if known (for display).

    Attributes:
        step: the training step of the newest copied weights; latest: the newest step offered;
        version: number of copies so far (a renderer re-renders when it changes).

    Example:
        >>> net = torch.nn.Linear(2, 1)
        >>> snap = WeightSnapshot(net, step=0, every_steps=2, every_seconds=0)
        >>> with torch.no_grad():
        ...     _ = net.weight.add_(1.0)
        >>> snap.offer(net, 1), snap.offer(net, 2)      # copies on step 2 only
        (False, True)
        >>> model, step = snap.current()
        >>> step, torch.equal(model.weight, net.weight), model.training
        (2, True, False)
    """

    def __init__(self, model: torch.nn.Module, *, step: int = 0, every_steps: int = 0,
                 every_seconds: float = 1.0, total: int | None = None) -> None:
        if every_steps < 0 or not every_seconds >= 0 or (every_steps == 0 and every_seconds == 0):
            raise QuadfreeError(f"every_steps {every_steps}, every_seconds {every_seconds}: "
                                "need one of them > 0 and neither negative",
                                param="every_seconds")
        self.every_steps, self.every_seconds, self.total = every_steps, every_seconds, total
        with torch.no_grad():
            self.model = copy.deepcopy(model)
        for p in self.model.parameters():
            p.requires_grad_(False)
            p.grad = None
        self.model.eval()
        self._staged = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self._lock = threading.Lock()
        self.step = self.latest = step
        self.version = 1
        self._loaded = 1
        self._copied_at = time.monotonic()

    def due(self, step: int) -> bool:
        """Whether :meth:`offer` at ``step`` copies (step rule or time rule)."""
        by_step = self.every_steps > 0 and step % self.every_steps == 0
        by_time = (self.every_seconds > 0
                   and time.monotonic() - self._copied_at >= self.every_seconds)
        return by_step or by_time

    def offer(self, model: torch.nn.Module, step: int, *, force: bool = False) -> bool:
        """Called by the training loop after ``step``: copy ``model``'s weights if due (or
        ``force``); returns whether it copied. Only tensor copies happen under the lock."""
        self.latest = step
        if not (force or self.due(step)):
            return False
        with torch.no_grad(), self._lock:
            for key, value in model.state_dict().items():
                self._staged[key].copy_(value)
            self.step = step
            self.version += 1
        self._copied_at = time.monotonic()
        return True

    def staged(self) -> dict[str, torch.Tensor]:
        """A copy of the newest staged weights (``state_dict`` layout; for tests and saving).

        Example:
            >>> sorted(WeightSnapshot(torch.nn.Linear(2, 1)).staged())
            ['bias', 'weight']
        """
        with self._lock:
            return {k: v.clone() for k, v in self._staged.items()}

    def current(self) -> tuple[torch.nn.Module, int]:
        """The snapshot model holding the newest copied weights and their step (for the one
        render thread: the model is updated in place here)."""
        with torch.no_grad(), self._lock:
            if self._loaded != self.version:
                self.model.load_state_dict(self._staged)
                self._loaded = self.version
            return self.model, self.step
