"""Camera rigs for procedural scenes: views on the upper hemisphere looking at the origin."""

from __future__ import annotations

import math

import numpy as np
import torch

from quadfree.render.rays import look_at

CAMERA_ANGLE_X = 0.6911112070083618  # the NeRF synthetic scenes' horizontal FOV (radians)
RADIUS = 4.0


def hemisphere_poses(count: int, rng: np.random.Generator, radius: float = RADIUS,
                     min_z: float = 0.08, max_z: float = 0.95) -> np.ndarray:
    """``count`` random camera-to-world poses on the upper hemisphere, looking at the origin.

    Directions are uniform in area over the band ``min_z ≤ z/radius ≤ max_z``.

    Shapes: → ``(count, 4, 4)``.

    Example:
        >>> p = hemisphere_poses(3, np.random.default_rng(0))
        >>> p.shape, bool(np.allclose(np.linalg.norm(p[:, :3, 3], axis=1), 4.0))
        ((3, 4, 4), True)
    """
    z = rng.uniform(min_z, max_z, size=count)
    phi = rng.uniform(0.0, 2 * math.pi, size=count)
    r_xy = np.sqrt(1 - z ** 2)
    pos = np.stack([r_xy * np.cos(phi), r_xy * np.sin(phi), z], axis=-1) * radius
    return np.stack([look_at(torch.from_numpy(p)).double().numpy() for p in pos])


def orbit_poses(count: int, elevation_deg: float = 30.0, radius: float = RADIUS,
                phase: float = 0.0) -> np.ndarray:
    """``count`` poses evenly spaced in azimuth on a circle at ``elevation_deg``.

    Shapes: → ``(count, 4, 4)``.

    Example:
        >>> orbit_poses(4)[:, 2, 3].round(3).tolist()  # camera heights
        [2.0, 2.0, 2.0, 2.0]
    """
    el = math.radians(elevation_deg)
    phis = phase + np.arange(count) * 2 * math.pi / max(count, 1)
    pos = np.stack([np.cos(phis) * math.cos(el), np.sin(phis) * math.cos(el),
                    np.full(count, math.sin(el))], axis=-1) * radius
    return np.stack([look_at(torch.from_numpy(p)).double().numpy() for p in pos])
