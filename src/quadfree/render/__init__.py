"""Volume rendering: cameras and rays, samplers, compositing, chunked image rendering.

The renderer is independent of the model: methods (NeRF, AutoInt, …) implement
:class:`quadfree.radiance.RadianceMethod` and reuse these pure functions.
"""

from quadfree.render.compositing import (
    alpha_from_density,
    composite,
    render_density,
    weights_from_alpha,
    weights_from_density,
)
from quadfree.render.rays import Camera, camera_directions, camera_rays, focal_from_fov, look_at
from quadfree.render.sampling import midpoints_to_edges, sample_pdf, stratified_samples

__all__ = [
    "Camera", "alpha_from_density", "camera_directions", "camera_rays", "composite",
    "focal_from_fov", "look_at", "midpoints_to_edges", "render_density", "sample_pdf",
    "stratified_samples", "weights_from_alpha", "weights_from_density",
]
