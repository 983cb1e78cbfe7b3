"""The fitted surface as a triangle mesh: marching cubes of ``F − level`` on a grid over the
domain, mapped back to world coordinates, written as ASCII PLY (atomically)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from quadfree.atomic import atomic_path
from quadfree.errors import QuadfreeError
from quadfree.surface.data import Frame

CHUNK = 1 << 16


@torch.no_grad()
def field_grid(field, resolution: int) -> np.ndarray:
    """``field`` (``(M, 3)`` → ``(M,)``) on a ``resolution³`` grid of [−1, 1]³ (x slowest).

    Example:
        >>> field_grid(lambda x: 0.5 - x.norm(dim=-1), 4).shape
        (4, 4, 4)
    """
    if resolution < 2:
        raise QuadfreeError(f"resolution={resolution}: must be >= 2", param="resolution")
    s = torch.linspace(-1.0, 1.0, resolution)
    pts = torch.stack(torch.meshgrid(s, s, s, indexing="ij"), -1).reshape(-1, 3)
    vals = torch.cat([field(c).reshape(-1).float().cpu() for c in pts.split(CHUNK)])
    return vals.reshape(resolution, resolution, resolution).numpy()


def surface_mesh(values: np.ndarray, frame: Frame) -> tuple[np.ndarray, np.ndarray]:
    """Vertices ``(V, 3)`` (world) and faces ``(F, 3)`` of the zero level set of a grid of
    ``F − level`` (positive inside), faces wound outward.

    Example:
        >>> v, f = surface_mesh(field_grid(lambda x: 0.5 - x.norm(dim=-1), 16),
        ...                     Frame((0.0, 0.0, 0.0), 2.0))
        >>> bool(abs(np.linalg.norm(v, axis=1).mean() - 1.0) < 0.05)
        True
    """
    from skimage.measure import marching_cubes
    if not np.isfinite(values).all():
        raise QuadfreeError("surface grid: non-finite field values", param="model")
    if values.min() >= 0 or values.max() <= 0:
        raise QuadfreeError("surface grid: the field does not cross its level, no surface",
                            param="model")
    R = values.shape[0]
    step = 2.0 / (R - 1)
    # marching cubes winds faces towards increasing values: negate so they point outward
    verts, faces, _, _ = marching_cubes(-values, level=0.0, spacing=(step, step, step))
    world = frame.to_world(torch.from_numpy(verts.astype(np.float64) - 1.0)).numpy()
    return world, faces.astype(np.int64)


def write_ply(target: str | Path, vertices: np.ndarray, faces: np.ndarray) -> None:
    """Write an ASCII PLY triangle mesh atomically.

    Example:
        >>> import tempfile, os
        >>> f = os.path.join(tempfile.mkdtemp(), "m.ply")
        >>> write_ply(f, np.eye(3), np.array([[0, 1, 2]])); open(f).readline().strip()
        'ply'
    """
    head = ["ply", "format ascii 1.0", f"element vertex {len(vertices)}",
            "property float x", "property float y", "property float z",
            f"element face {len(faces)}", "property list uchar int vertex_indices",
            "end_header"]
    lines = head + [f"{x:.6g} {y:.6g} {z:.6g}" for x, y, z in vertices]
    lines += [f"3 {a} {b} {c}" for a, b, c in faces]
    with atomic_path(target) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
