"""The layer contract in pyproject.toml lists every subpackage and top-level module."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import quadfree

ROOT = Path(__file__).resolve().parents[1]


def _layer_names() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    return {re.sub(r"[()]", "", name).strip() for layer in layers for name in layer.split("|")}


def test_every_module_of_quadfree_is_in_the_layer_contract():
    package = Path(quadfree.__file__).parent
    modules = {f"quadfree.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {f"quadfree.{p.parent.name}" for p in package.glob("*/__init__.py")}
    missing = modules - _layer_names()
    assert not missing, f"add these to [tool.importlinter] layers in pyproject.toml: {missing}"


def test_every_name_a_package_exports_exists():
    import importlib
    import pkgutil

    missing = []
    for info in pkgutil.walk_packages(quadfree.__path__, "quadfree."):
        module = importlib.import_module(info.name)
        missing += [f"{info.name}.{name}" for name in getattr(module, "__all__", ())
                    if not hasattr(module, name)]
    assert not missing, f"listed in __all__ but not defined: {missing}"
