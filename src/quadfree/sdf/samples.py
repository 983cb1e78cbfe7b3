"""DeepSDF-style signed-distance samples: near the surface (two noise scales) and uniform.

Near samples are surface points plus isotropic Gaussian noise of standard deviation
``sigmas`` (DeepSDF: variances 0.0025 and 0.00025 for a unit-sphere-normalised shape, i.e.
σ ≈ 0.05 and 0.016), clipped into the domain; uniform samples fill [−1, 1]³. Distances come
from the target's exact SDF (procedural shapes) or from the mesh (user meshes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from quadfree.sdf.mesh import TriMesh

SIGMAS = (0.05, 0.016)


def surface_points(mesh: TriMesh, count: int, gen: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Area-uniform points on the mesh and their face normals: ``(count, 3)`` each.

    Example:
        >>> v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], float)
        >>> x, n = surface_points(TriMesh(v, np.array([[0, 1, 2]])), 5, np.random.default_rng(0))
        >>> x.shape, bool(np.allclose(n, [0, 0, 1]))
        ((5, 3), True)
    """
    t = mesh.triangles()
    area = np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)
    face = gen.choice(len(t), size=count, p=area / area.sum())
    r1, r2 = gen.random(count), gen.random(count)
    s = np.sqrt(r1)
    bary = np.stack([1 - s, s * (1 - r2), s * r2], 1)
    x = (t[face] * bary[:, :, None]).sum(1)
    return x, mesh.face_normals()[face]


@dataclass
class Samples:
    """Points ``q (M, 3)``, signed distances ``d (M,)`` and a near-surface mask ``near (M,)``.

    Example:
        >>> s = Samples(torch.zeros(4, 3), torch.zeros(4), torch.tensor([1, 1, 0, 0]).bool())
        >>> len(s), s.subset(s.near).q.shape
        (4, torch.Size([2, 3]))
    """

    q: torch.Tensor
    d: torch.Tensor
    near: torch.Tensor

    def __len__(self) -> int:
        return self.q.shape[0]

    def subset(self, mask: torch.Tensor) -> Samples:
        return Samples(self.q[mask], self.d[mask], self.near[mask])

    def to(self, device: torch.device | str) -> Samples:
        return Samples(self.q.to(device), self.d.to(device), self.near.to(device))


def make_samples(sdf: Callable[[torch.Tensor], torch.Tensor], surface: TriMesh, count: int,
                 seed: int, uniform_fraction: float = 0.2,
                 sigmas: tuple[float, ...] = SIGMAS) -> Samples:
    """``count`` samples: ``uniform_fraction`` uniform in [−1, 1]³, the rest near the surface
    split evenly between the noise scales ``sigmas``. float32.

    Example:
        >>> from quadfree.sdf.shapes import get_shape
        >>> from quadfree.sdf.extract import shape_mesh
        >>> sh = get_shape("sphere")
        >>> s = make_samples(sh.sdf, shape_mesh(sh, 24), 100, seed=0)
        >>> len(s), int(s.near.sum())
        (100, 80)
    """
    gen = np.random.default_rng(seed)
    n_uniform = int(round(count * uniform_fraction))
    n_near = count - n_uniform
    base, _ = surface_points(surface, n_near, gen)
    scale = np.repeat(np.asarray(sigmas, dtype=np.float64),
                      int(np.ceil(n_near / len(sigmas))))[:n_near, None]
    near = np.clip(base + gen.normal(size=base.shape) * scale, -1.0, 1.0)
    uniform = gen.uniform(-1.0, 1.0, size=(n_uniform, 3))
    q = torch.from_numpy(np.concatenate([near, uniform])).float()
    mask = torch.zeros(count, dtype=torch.bool)
    mask[:n_near] = True
    perm = torch.from_numpy(gen.permutation(count))
    q, mask = q[perm], mask[perm]
    return Samples(q, sdf(q).float(), mask)
