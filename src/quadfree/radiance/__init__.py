"""Radiance-field methods behind one interface (:class:`RadianceMethod`): NeRF, AutoInt and
TeRF, built by name with :func:`build_method`."""

from quadfree.radiance.base import RadianceMethod, RayBundle
from quadfree.radiance.registry import METHODS, build_method

__all__ = ["METHODS", "RadianceMethod", "RayBundle", "build_method"]
