"""Surfaces from SDFs: the zero level set on a grid by ``skimage.measure.marching_cubes``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from quadfree.errors import QuadfreeError
from quadfree.sdf.mesh import TriMesh

CHUNK = 1 << 16


def grid_points(resolution: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Grid nodes of [−1, 1]³, ``(R³, 3)``, x slowest (``ij`` indexing).

    Example:
        >>> grid_points(2).tolist()[:2]
        [[-1.0, -1.0, -1.0], [-1.0, -1.0, 1.0]]
    """
    t = torch.linspace(-1.0, 1.0, resolution, dtype=dtype)
    return torch.stack(torch.meshgrid(t, t, t, indexing="ij"), -1).reshape(-1, 3)


@torch.no_grad()
def sample_grid(fn: Callable[[torch.Tensor], torch.Tensor], resolution: int,
                chunk: int = CHUNK) -> np.ndarray:
    """``fn`` on the grid, ``(R, R, R)`` float32 NumPy array; fn maps ``(M, 3)`` → ``(M,)``.

    Example:
        >>> sample_grid(lambda x: x.norm(dim=-1) - 0.5, 4).shape
        (4, 4, 4)
    """
    pts = grid_points(resolution)
    vals = torch.cat([fn(c).reshape(-1).float().cpu() for c in pts.split(chunk)])
    return vals.reshape(resolution, resolution, resolution).numpy()


def marching_cubes(values: np.ndarray) -> TriMesh:
    """Zero level set of a grid ``(R, R, R)`` over [−1, 1]³ as a :class:`TriMesh` whose faces
    point outward (towards positive values).

    Raises :class:`QuadfreeError` when the field has no zero crossing on the grid.

    Example:
        >>> m = marching_cubes(sample_grid(lambda x: x.norm(dim=-1) - 0.5, 16))
        >>> bool(abs(np.linalg.norm(m.vertices, axis=1).mean() - 0.5) < 0.02)
        True
    """
    from skimage.measure import marching_cubes as mc
    if not np.isfinite(values).all():
        raise QuadfreeError("sdf grid: non-finite values, no surface can be extracted")
    if values.min() >= 0 or values.max() <= 0:
        raise QuadfreeError("sdf grid: no zero crossing, the fitted field has no surface")
    R = values.shape[0]
    step = 2.0 / (R - 1)
    verts, faces, _, _ = mc(values, level=0.0, spacing=(step, step, step))
    # with the default gradient_direction the winding already points to increasing values
    return TriMesh(verts.astype(np.float64) - 1.0, faces.astype(np.int64))


def shape_mesh(shape, resolution: int = 128) -> TriMesh:
    """The surface of a procedural :class:`~quadfree.sdf.shapes.Shape` from its exact SDF.

    Example:
        >>> from quadfree.sdf.shapes import get_shape
        >>> len(shape_mesh(get_shape("sphere"), 16).faces) > 0
        True
    """
    return marching_cubes(sample_grid(shape.sdf, resolution))
