"""Radiance-field methods behind one interface (:class:`RadianceMethod`)."""

from quadfree.radiance.base import RadianceMethod, RayBundle

__all__ = ["RadianceMethod", "RayBundle"]
