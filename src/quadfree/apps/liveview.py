"""The web viewer on a run while it trains (``quadfree train ... --viewer``).

:class:`LiveViewer` is a training hook (the trainer's ``on_step``). At the first step it makes
the viewer's own copy of the model (:class:`quadfree.train.snapshot.WeightSnapshot`) and starts
the :class:`quadfree.apps.viewer.Viewer` on it, with the training cameras as frustums; after
every step it offers the weights to the snapshot, which copies them every ``every_steps`` steps
or ``every_seconds`` seconds (and at the last step). The viewer renders only from that copy, in
its own thread, and shows the render time and the training step. Under DDP only rank 0 serves
a viewer. ``close()`` (or leaving the ``with`` block) stops the server: at the end of training,
on an error and on Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from quadfree.apps.viewer import LoadedRun, Viewer
from quadfree.errors import QuadfreeError
from quadfree.train.snapshot import WeightSnapshot
from quadfree.train.trainer import Trainer


class LiveViewer:
    """A training hook serving a live viewer of the model being trained.

    Args:
        host, port: where the server listens (port 0: any free one).
        resolution, preview, rest_s, chunk: as for :class:`~quadfree.apps.viewer.Viewer`.
        every_steps, every_seconds: how often the weights are copied (see
            :class:`~quadfree.train.snapshot.WeightSnapshot`).
        on_ready: called with the viewer's URL once it serves (the CLI prints it).

    Attributes:
        viewer: the running :class:`Viewer` (None before the first step and after ``close``);
        snapshot: the :class:`WeightSnapshot` it renders.

    Example (``train_run(..., on_step=live)``; nothing starts before the first step):
        >>> with LiveViewer(port=0) as live:
        ...     live.viewer is None
        True
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 8080, resolution: int = 128,
                 preview: int = 64, rest_s: float = 0.3, chunk: int = 16384,
                 every_steps: int = 0, every_seconds: float = 1.0,
                 on_ready: Callable[[str], None] | None = None) -> None:
        if not 0 <= port < 65536:
            raise QuadfreeError(f"port {port}: must be in [0, 65535]", param="port")
        if resolution < 8 or preview < 8:
            raise QuadfreeError(f"resolution {resolution}, preview {preview}: both must be "
                                ">= 8", param="resolution")
        if every_steps < 0 or not every_seconds >= 0 or (every_steps == 0 and every_seconds == 0):
            raise QuadfreeError(f"every_seconds {every_seconds}, every_steps {every_steps}: "
                                "need one of them > 0 and neither negative",
                                param="every_seconds")
        self.options = {"host": host, "port": port, "resolution": resolution,
                        "preview": preview, "rest_s": rest_s, "chunk": chunk}
        self.every_steps, self.every_seconds = every_steps, every_seconds
        self.on_ready = on_ready
        self.viewer: Viewer | None = None
        self.snapshot: WeightSnapshot | None = None
        self._closed = False

    def __call__(self, trainer: Trainer, step: int) -> None:
        """The ``on_step`` hook: start at the first call, then offer the weights."""
        if not trainer.dist.is_main or self._closed:
            return
        if self.viewer is None:
            self._start(trainer, step)
            return
        self.snapshot.offer(trainer.method, step, force=step >= trainer.config.iters)

    def _start(self, trainer: Trainer, step: int) -> None:
        self.snapshot = WeightSnapshot(trainer.method, step=step, every_steps=self.every_steps,
                                       every_seconds=self.every_seconds,
                                       total=trainer.config.iters)
        where = trainer.publish_to or trainer.out_dir        # (a new run trains in staging)
        name = f"{where.name} ({trainer.method_name}, training)"
        run = LoadedRun(name, self.snapshot.model, {"method": trainer.method_name},
                        trainer.train_data, self.snapshot)
        self.viewer = Viewer([run], device=trainer.device, **self.options)
        if self.on_ready is not None:
            self.on_ready(self.viewer.url)

    @property
    def url(self) -> str | None:
        """The viewer's URL while it serves."""
        return None if self.viewer is None else self.viewer.url

    def close(self) -> None:
        """Stop the render thread and the server (idempotent); no copies happen afterwards."""
        self._closed = True
        if self.viewer is not None:
            self.viewer.close()
            self.viewer = None

    def __enter__(self) -> LiveViewer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

