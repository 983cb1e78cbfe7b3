"""The trainer's side concerns, each a small context manager: a progress bar, TensorBoard
logging and Ctrl-C handling. :meth:`quadfree.train.Trainer.fit` composes them."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import TracebackType

from tqdm.auto import tqdm

log = logging.getLogger(__name__)


class ProgressBar:
    """A tqdm bar over training steps showing loss, PSNR and rays/s (a no-op when disabled).

    Example:
        >>> with ProgressBar(3, 0, "train", enabled=False) as bar:
        ...     bar.step(0.1, 20.0, 512.0)
    """

    def __init__(self, total: int, initial: int, desc: str, enabled: bool) -> None:
        self.bar = tqdm(total=total, initial=initial, disable=not enabled, desc=desc,
                        dynamic_ncols=True)
        self.enabled = enabled

    def step(self, loss: float, psnr: float, rays_per_s: float) -> None:
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{loss:.4f}", psnr=f"{psnr:.2f}", rays_s=f"{rays_per_s:.0f}")

    def note(self, text: str) -> None:
        """A line printed above the bar (only when the bar is shown)."""
        if self.enabled:
            self.bar.write(text)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()


class TensorBoard:
    """TensorBoard scalars if enabled and the ``tensorboard`` package is importable; otherwise
    a no-op (a missing package is a logged warning, not an error).

    Example:
        >>> with TensorBoard(False, Path("unused")) as tb:
        ...     tb.scalar("train/loss", 0.5, 1)
    """

    def __init__(self, enabled: bool, logdir: Path) -> None:
        self.writer = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            log.warning("TensorBoard logging requested but the `tensorboard` package is not "
                        "installed (pip install tensorboard); continuing without it")
            return
        self.writer = SummaryWriter(str(logdir))

    def scalar(self, tag: str, value: float, step: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(tag, value, step)

    def __enter__(self) -> TensorBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()


class StopOnSigint:
    """While active, the first Ctrl-C (SIGINT) only sets :attr:`requested` (the trainer
    finishes its step, saves and stops); a second one interrupts at once. Outside the main
    thread signals cannot be handled and nothing changes.

    Example:
        >>> with StopOnSigint() as stop:
        ...     stop.requested
        False
    """

    def __init__(self) -> None:
        self.requested = False
        self._old = None

    def _handler(self, signum, frame) -> None:  # noqa: ARG002
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> StopOnSigint:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        self.requested = False
