"""Volume rendering: cameras and rays, samplers, compositing, rendering through an engine,
chunked image rendering.

The renderer is independent of the model: a method hands :func:`render_sections` an
integration engine (:mod:`quadfree.integrals`) and a shading function; the image helpers take
any :class:`~quadfree.render.image.RayRenderer`.
"""

from quadfree.render.compositing import (
    alpha_from_density,
    composite,
    render_density,
    weights_from_alpha,
    weights_from_density,
)
from quadfree.render.rays import (
    Camera,
    RayBundle,
    camera_directions,
    camera_rays,
    focal_from_fov,
    look_at,
)
from quadfree.render.sampling import midpoints_to_edges, sample_pdf, stratified_samples
from quadfree.render.volume import render_sections

__all__ = [
    "Camera", "RayBundle", "alpha_from_density", "camera_directions", "camera_rays",
    "composite", "focal_from_fov", "look_at", "midpoints_to_edges", "render_density",
    "render_sections", "sample_pdf", "stratified_samples", "weights_from_alpha",
    "weights_from_density",
]
