"""Choosing the torch device from a user flag (``auto`` picks CUDA when present)."""

from __future__ import annotations

import torch

from quadfree.errors import QuadfreeError


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda" | "cuda:N"`` into a :class:`torch.device`.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise QuadfreeError(f"device {name!r}: not a device name ({exc})",
                            param="device") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise QuadfreeError(f"device {name}: CUDA is not available on this machine",
                            param="device")
    return device
