"""Dataclass configurations with ``key=value`` overrides (shared by methods and the trainer).

A configuration is a plain :func:`dataclasses.dataclass`; its defaults are the documented
settings. Users override fields from the command line (``--set width=64``, parsed once there
into typed values by :func:`typed_overrides`) or from a dict saved
in a checkpoint; unknown keys and values of the wrong type are :class:`QuadfreeError`.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, TypeVar

from quadfree.errors import QuadfreeError

T = TypeVar("T")


def _coerce(name: str, value: Any, kind: Any) -> Any:
    """Convert ``value`` (a string from the command line or a JSON value) to ``kind``."""
    origin = typing.get_origin(kind)
    if origin is typing.Union or (origin is not None and type(None) in typing.get_args(kind)):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        return _coerce(name, value, args[0])
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v for v in value.replace("(", "").replace(")", "").split(",") if v.strip()]
        (inner, *_) = typing.get_args(kind) or (Any,)
        items = [_coerce(name, v, inner) if inner is not Any else v for v in value]
        return tuple(items) if origin is tuple else items
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if kind is float:
            out = float(value)
            return out
        if kind is str:
            return str(value)
    except (TypeError, ValueError):
        raise QuadfreeError(f"config {name}={value!r}: expected a {kind.__name__}") from None
    return value


def apply_overrides(config: T, overrides: dict[str, Any] | None) -> T:
    """Return a copy of dataclass ``config`` with ``overrides`` applied (values coerced).

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class C:
        ...     width: int = 128
        ...     lr: float = 1e-3
        >>> apply_overrides(C(), {"width": "64"})
        C(width=64, lr=0.001)
    """
    if not overrides:
        return dataclasses.replace(config)
    hints = typing.get_type_hints(type(config))
    names = {f.name for f in dataclasses.fields(config)}
    values = {}
    for key, value in overrides.items():
        if key not in names:
            raise QuadfreeError(f"config key {key!r}: unknown; valid keys are {sorted(names)}")
        values[key] = _coerce(key, value, hints[key])
    return dataclasses.replace(config, **values)


def typed_overrides(config: Any, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The ``overrides`` of dataclass ``config``, each coerced to its field's type: the one
    place where command-line strings become typed values.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class C:
        ...     sections: int = 8
        >>> typed_overrides(C(), {"sections": "16"})
        {'sections': 16}
    """
    changed = apply_overrides(config, overrides)
    return {key: getattr(changed, key) for key in (overrides or {})}


def parse_assignments(items: list[str] | None) -> dict[str, str]:
    """Parse ``["width=64", "lr=1e-3"]`` into a dict (values stay strings until applied).

    Example:
        >>> parse_assignments(["width=64", "n_fine=0"])
        {'width': '64', 'n_fine': '0'}
    """
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise QuadfreeError(f"setting {item!r}: expected KEY=VALUE")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a dataclass configuration (tuples become lists).

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class C:
        ...     skips: tuple[int, ...] = (4,)
        >>> to_dict(C())
        {'skips': [4]}
    """
    return json.loads(json.dumps(dataclasses.asdict(config)))
