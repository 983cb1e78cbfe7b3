"""The one exception type for mistakes a user can make (bad files, shapes, NaN, domains).

The CLI turns a :class:`QuadfreeError` into a single line on stderr and exit code 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:                 # torch is imported by the callers; the CLI starts without it
    import torch


class QuadfreeError(ValueError):
    """A user-facing error: the message names the offending input.

    Example:
        >>> raise QuadfreeError("--interval 3,4: outside the domain [-1, 1]")
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: --interval 3,4: outside the domain [-1, 1]
    """


def check_finite(name: str, tensor: torch.Tensor) -> None:
    """Raise :class:`QuadfreeError` naming ``name`` if ``tensor`` holds NaN or Inf.

    Example:
        >>> import torch
        >>> check_finite("x", torch.tensor([0.0, 1.0]))
    """
    import torch

    if not torch.isfinite(tensor).all():
        bad = int((~torch.isfinite(tensor)).sum())
        raise QuadfreeError(f"{name}: {bad} non-finite value(s) (NaN or Inf)")
