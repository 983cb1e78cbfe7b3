"""The pipeline the demo and ``bench autoint`` share: train each method for a time budget,
render the test views with all of them in turn, score them and measure view consistency.

* :func:`calibrate_iters`: how many steps of a method fit in a budget on this machine.
* :func:`train_for_budget`: calibrate (unless given a step count) and train one run whose
  learning-rate schedule ends with the budget.
* :func:`score_methods`: the one evaluation loop (:func:`quadfree.apps.comparison.compare_methods`)
  plus view consistency per method.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from quadfree.apps.comparison import compare_methods
from quadfree.data.blender import BlenderSplit
from quadfree.radiance.base import RadianceMethod
from quadfree.radiance.consistency import measure_view_consistency
from quadfree.train.trainer import route_overrides, train_run


def calibrate_iters(method: str, data: Path, seconds: float, overrides: dict[str, Any],
                    steps: int = 12, seed: int = 0, device: torch.device | str = "cpu") -> int:
    """How many training steps of ``method`` fit in ``seconds`` on this machine.

    Trains a throwaway copy for ``steps`` steps (after two warm-up steps) and divides.

    Example:
        >>> calibrate_iters("nerf", Path("/no/such/dir"), 60.0, {})
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: /no/such/dir: dataset directory not found
    """
    method_over, train_over = route_overrides(method, dict(overrides))
    with tempfile.TemporaryDirectory(prefix="quadfree-calibrate-") as tmp:
        train_run(method, data, Path(tmp) / "warm", method_overrides=method_over,
                  train_overrides={**train_over, "iters": 2, "val_every": 0, "ckpt_every": 0},
                  seed=seed, device=device, progress=False)
        timed = train_run(method, data, Path(tmp) / "timed", method_overrides=method_over,
                          train_overrides={**train_over, "iters": steps, "val_every": 0,
                                           "ckpt_every": 0},
                          seed=seed, device=device, progress=False)
    per_step = max(timed["train_seconds"] / max(steps, 1), 1e-6)
    return max(int(seconds / per_step), 1)


def train_for_budget(method: str, data: Path, run_dir: Path, seconds: float,
                     overrides: dict[str, Any], *, iters: int | None = None,
                     max_seconds: float | None = None, ckpt_every: int | None = None,
                     calibration_steps: int = 12, seed: int = 0,
                     device: torch.device | str = "cpu", progress: bool = True
                     ) -> dict[str, Any]:
    """Train ``method`` on ``data`` into ``run_dir`` for about ``seconds`` of training time.

    Args:
        overrides: typed values for the method's config or the training config.
        iters: step count (default: :func:`calibrate_iters` for ``seconds``).
        max_seconds: hard cap on training time (default ``seconds``).
        ckpt_every: checkpoint interval (default a quarter of the steps, at least 50).

    The learning rate follows whichever runs out first, steps or time, so a run stopped by
    its budget still ends its schedule. Returns the trainer's summary plus ``planned_iters``.

    Example:
        >>> train_for_budget("nerf", Path("/no/such/dir"), Path("/tmp/r"), 60.0, {}, iters=5)
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: /no/such/dir: dataset directory not found
    """
    method_over, train_over = route_overrides(method, dict(overrides))
    if iters is None:
        iters = calibrate_iters(method, data, seconds, overrides, calibration_steps, seed,
                                device)
    train_over = {"val_every": 0, "val_views": 0,
                  "ckpt_every": ckpt_every or max(iters // 4, 50), "lr_follows_time": True,
                  **train_over, "iters": iters, "max_seconds": max_seconds or seconds}
    summary = train_run(method, data, run_dir, method_overrides=method_over,
                        train_overrides=train_over, seed=seed, device=device,
                        progress=progress)
    return {**summary, "planned_iters": iters}


def score_methods(methods: dict[str, RadianceMethod], test: BlenderSplit, *,
                  baseline: str | None = None, max_views: int | None = None,
                  keep_images: int = 0, seed: int = 0, device: torch.device | str = "cpu",
                  progress: bool = True) -> dict[str, Any]:
    """Render, score and time every method on ``test`` (interleaved), then measure each one's
    view consistency (512 points near the true surfaces, 8 cameras, σ > 0.1).

    Returns :func:`~quadfree.apps.comparison.compare_methods`' result with a
    ``view_consistency`` dict in every row.

    The views need ground-truth depth maps (procedural scenes write them).

    Example:
        >>> from quadfree.radiance.registry import build_method
        >>> m, _ = build_method("nerf", {"width": 8, "depth": 1, "skips": "", "n_fine": 0})
        >>> v = BlenderSplit(torch.ones(3, 12, 12, 3), torch.eye(4).repeat(3, 1, 1), 12, 12,
        ...                  12.0, 2.0, 6.0, 0.9)                    # no depth maps
        >>> score_methods({"a": m}, v, progress=False)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: view consistency needs ground-truth depth maps ...
    """
    comp = compare_methods(methods, test, baseline=baseline, max_views=max_views,
                           device=device, progress=progress, keep_images=keep_images)
    for row in comp["rows"]:
        # σ > 0.1 keeps points of briefly trained models (1.0 left 0-13 of 256)
        row["view_consistency"] = measure_view_consistency(
            methods[row["label"]], test, points=512, views=8, min_density=0.1, seed=seed)
    return comp
