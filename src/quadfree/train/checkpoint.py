"""Checkpoints: one atomic ``torch.save`` of everything needed to resume or rebuild a run.

A checkpoint holds ``method`` (registry name), ``method_config`` and ``train_config`` dicts,
``data`` (dataset path, downscale, near, far), ``step``, ``model``/``optimizer`` state dicts,
``rng`` states (trainer generator, torch, CUDA, NumPy, Python) and the training ``history``.
Only tensors and plain data are stored, and loading uses ``weights_only=True``
(:func:`quadfree.safeio.torch_load`), so a checkpoint cannot run code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from quadfree.atomic import atomic_path
from quadfree.errors import QuadfreeError
from quadfree.radiance.base import RadianceMethod
from quadfree.radiance.registry import METHODS, build_method, saved_config
from quadfree.safeio import torch_load

CHECKPOINT_NAME = "checkpoint.pt"
REQUIRED_KEYS = ("method", "method_config", "train_config", "data", "step", "model")


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (temporary file, then rename).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.pt"
        >>> save_checkpoint(p, {"step": 1}); torch.load(p)["step"]
        1
    """
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu"
                    ) -> dict[str, Any]:
    """Read a checkpoint written by the trainer; a missing or corrupt file, or one holding
    anything but tensors and plain data (it is never unpickled), is a :class:`QuadfreeError`
    naming it.

    Example:
        >>> import tempfile, pathlib
        >>> load_checkpoint(pathlib.Path(tempfile.mkdtemp()) / "none.pt")
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: ...none.pt: checkpoint not found
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise QuadfreeError(f"{path}: checkpoint not found")
    state = torch_load(path, str(path), map_location=map_location)
    if not isinstance(state, dict) or any(k not in state for k in REQUIRED_KEYS):
        raise QuadfreeError(f"{path}: not a quadfree training checkpoint")
    if state["method"] not in METHODS:
        raise QuadfreeError(f"{path}: trained with method {state['method']!r}, which this "
                            f"version does not have ({', '.join(sorted(METHODS))})")
    state["method_config"] = saved_config(state["method"], state["method_config"])
    return state


def load_run(run: str | Path, device: str | torch.device = "cpu"
             ) -> tuple[RadianceMethod, dict[str, Any]]:
    """Rebuild the trained method of run directory ``run`` (eval mode) and return it with the
    checkpoint dict.

    Example:
        >>> import tempfile, pathlib
        >>> load_run(pathlib.Path(tempfile.mkdtemp()))
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: ...checkpoint.pt: checkpoint not found
    """
    run = Path(run)
    state = load_checkpoint(run / CHECKPOINT_NAME if run.is_dir() or not run.suffix else run)
    method, _ = build_method(state["method"], state["method_config"])
    method.load_state_dict(state["model"])
    method.to(device).eval()
    return method, state
