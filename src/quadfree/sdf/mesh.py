"""User meshes (OBJ/PLY/STL through ``trimesh``): loading, checks, normalisation, signed distances.

A mesh is normalised into the fitting domain the way DeepSDF does it: centred on its
bounding-box centre and scaled so that its farthest vertex lies at radius :data:`FILL`.
Signed distances come from ``point_cloud_utils.signed_distance_to_mesh`` (libigl's fast winding
number sign and exact point-to-triangle distances), negative inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from quadfree.errors import QuadfreeError

FILL = 0.8
SUFFIXES = (".obj", ".ply", ".stl")


@dataclass
class TriMesh:
    """A watertight triangle mesh in domain units.

    Attributes:
        vertices: ``(V, 3)`` float64. faces: ``(F, 3)`` int64.

    Example:
        >>> v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float) * 0.5
        >>> f = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
        >>> m = TriMesh(v, f); m.area() > 0
        True
    """

    vertices: np.ndarray
    faces: np.ndarray

    def triangles(self) -> np.ndarray:
        """Corner coordinates ``(F, 3, 3)``."""
        return self.vertices[self.faces]

    def face_normals(self) -> np.ndarray:
        """Unit face normals ``(F, 3)`` (zero for degenerate faces)."""
        t = self.triangles()
        n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
        norm = np.linalg.norm(n, axis=1, keepdims=True)
        return np.divide(n, norm, out=np.zeros_like(n), where=norm > 0)

    def area(self) -> float:
        """Total surface area."""
        t = self.triangles()
        return float(np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)
                     .sum() / 2)

    def signed_distance(self, x: torch.Tensor) -> torch.Tensor:
        """Signed distance to the mesh ``(M, 3)`` → ``(M,)``, negative inside."""
        import point_cloud_utils as pcu
        pts = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float64)
        d, _, _ = pcu.signed_distance_to_mesh(pts, np.ascontiguousarray(self.vertices),
                                              np.ascontiguousarray(self.faces, dtype=np.int32))
        return torch.from_numpy(np.asarray(d)).to(x.dtype)


def load_mesh(path: str | Path) -> TriMesh:
    """Read ``path`` (OBJ, PLY or STL), check it and normalise it into the domain.

    Raises :class:`QuadfreeError` naming the file for an unreadable file, no triangles,
    NaN/Inf vertices, zero extent, or a mesh that is not watertight (inside and outside are
    then undefined, so signed distances are too).

    Example:
        >>> load_mesh("missing.obj")
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: mesh missing.obj: file not found
    """
    import trimesh
    path = Path(path)
    if not path.is_file():
        raise QuadfreeError(f"mesh {path}: file not found")
    if path.suffix.lower() not in SUFFIXES:
        raise QuadfreeError(f"mesh {path}: unsupported format {path.suffix!r}; use "
                            f"{', '.join(SUFFIXES)}")
    try:
        loaded = trimesh.load(path, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for malformed files
        raise QuadfreeError(f"mesh {path}: unreadable ({type(exc).__name__}: {exc})") from None
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise QuadfreeError(f"mesh {path}: no triangles")
    v = np.asarray(loaded.vertices, dtype=np.float64)
    if not np.isfinite(v).all():
        raise QuadfreeError(f"mesh {path}: {int((~np.isfinite(v)).any(1).sum())} vertices "
                            "with NaN or Inf coordinates")
    loaded.process(validate=False)           # merge duplicate vertices (STL stores none)
    v = np.asarray(loaded.vertices, dtype=np.float64)
    if not loaded.is_watertight:
        raise QuadfreeError(f"mesh {path}: not watertight (open boundary or non-manifold "
                            "edges), so inside and outside are undefined")
    lo, hi = v.min(0), v.max(0)
    centre = (lo + hi) / 2
    radius = float(np.linalg.norm(v - centre, axis=1).max())
    if radius <= 0:
        raise QuadfreeError(f"mesh {path}: all vertices coincide")
    faces = np.asarray(loaded.faces, dtype=np.int64)
    mesh = TriMesh((v - centre) * (FILL / radius), faces)
    if loaded.volume < 0:      # inverted winding: flip so the outside is positive
        mesh = TriMesh(mesh.vertices, faces[:, ::-1].copy())
    return mesh


def write_ply(target: str | Path, vertices: np.ndarray, faces: np.ndarray,
              normals: np.ndarray | None = None) -> None:
    """Write a binary little-endian PLY atomically.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "t.ply"
        >>> write_ply(out, np.eye(3), np.array([[0, 1, 2]]))
        >>> out.read_bytes()[:3]
        b'ply'
    """
    from quadfree.atomic import atomic_path
    v = np.asarray(vertices, dtype="<f4")
    f = np.asarray(faces, dtype="<i4")
    props = "property float x\nproperty float y\nproperty float z\n"
    if normals is not None:
        props += "property float nx\nproperty float ny\nproperty float nz\n"
        v = np.concatenate([v, np.asarray(normals, dtype="<f4")], 1)
    header = (f"ply\nformat binary_little_endian 1.0\nelement vertex {len(v)}\n{props}"
              f"element face {len(f)}\nproperty list uchar int vertex_indices\nend_header\n")
    face_rec = np.empty(len(f), dtype=[("n", "u1"), ("i", "<i4", (3,))])
    face_rec["n"], face_rec["i"] = 3, f
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        fh.write(header.encode("ascii"))
        fh.write(np.ascontiguousarray(v).tobytes())
        fh.write(face_rec.tobytes())
