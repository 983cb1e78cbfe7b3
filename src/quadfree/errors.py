"""The one exception type for mistakes a user can make (bad files, shapes, NaN, domains).

Library code raises :class:`QuadfreeError` with a message that names the *parameter* or input
(``chunk``, not ``--chunk``: the library does not know the command line) and, where it is a
parameter, passes ``param=``. The CLI maps that parameter to its flag, prints one line on
stderr and exits with code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:                 # torch is imported by the callers; the CLI starts without it
    import torch


class QuadfreeError(ValueError):
    """A user-facing error: the message names the offending input.

    Args:
        message: what is wrong, starting with the parameter or input it concerns.
        param: the parameter (or a tuple of parameters) the message names, e.g. ``"chunk"``;
            the CLI replaces each such name (as a whole word) by the command's flag
            (``--chunk``).

    Example:
        >>> err = QuadfreeError("chunk 0: must be >= 1", param="chunk")
        >>> err.param, str(err)
        ('chunk', 'chunk 0: must be >= 1')
    """

    def __init__(self, message: str, *, param: str | tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.param = param


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
