"""Which radiance-field methods exist and how to build one from a name and a config dict.

Each method module exposes a ``Config`` dataclass (defaults = its small CPU configuration) and
``build(config) -> RadianceMethod``. Checkpoints store the method name and the config dict, so
``render`` and ``eval`` rebuild the exact model.
"""

from __future__ import annotations

import importlib
from typing import Any

from quadfree.config import apply_overrides
from quadfree.errors import QuadfreeError
from quadfree.radiance.base import RadianceMethod

# Registered methods: name -> module path.
METHODS: dict[str, str] = {
    "nerf": "quadfree.radiance.nerf",
    "autoint": "quadfree.radiance.autoint",
    "terf": "quadfree.radiance.terf",
}


def method_module(name: str):
    """The module implementing method ``name`` (raises :class:`QuadfreeError` if unknown).

    Example:
        >>> method_module("nerf").__name__
        'quadfree.radiance.nerf'
    """
    try:
        path = METHODS[name]
    except KeyError:
        raise QuadfreeError(f"method {name!r}: unknown; choose from {sorted(METHODS)}",
                            param="method") from None
    return importlib.import_module(path)


def default_config(name: str) -> Any:
    """The default (small CPU) ``Config`` of method ``name``.

    Example:
        >>> default_config("nerf").n_coarse
        32
    """
    return method_module(name).Config()


def saved_config(name: str, config: dict[str, Any]) -> dict[str, Any]:
    """A config dict read from a checkpoint, with the values that keys added later had before
    they existed (a method module's ``SAVED_BEFORE``), so older runs rebuild the same model.

    Example:
        >>> saved_config("autoint", {"sections": 8})["normalized_encoding"]
        True
        >>> saved_config("autoint", {"normalized_encoding": False})["normalized_encoding"]
        False
    """
    return {**getattr(method_module(name), "SAVED_BEFORE", {}), **config}


def build_method(name: str, overrides: dict[str, Any] | None = None
                 ) -> tuple[RadianceMethod, Any]:
    """Build method ``name`` with its default config updated by ``overrides``.

    Returns ``(method, config)``; unknown keys or badly typed values raise
    :class:`QuadfreeError`.

    Example:
        >>> m, cfg = build_method("nerf", {"width": 32, "depth": 2, "skips": "1"})
        >>> cfg.width, m.name
        (32, 'nerf')
    """
    module = method_module(name)
    config = apply_overrides(module.Config(), overrides)
    try:
        return module.build(config), config
    except ValueError as exc:       # e.g. an unknown activation or a negative frequency count
        if isinstance(exc, QuadfreeError):
            raise
        raise QuadfreeError(f"method {name} config: {exc}", param="method") from None
