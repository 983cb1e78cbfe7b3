"""Built-in procedural shapes with exact signed distances, from the ``objects`` scene's SDFs.

Each shape maps the fitting domain [−1, 1]³ into the scene's world coordinates by
``world = centre + scale · x``; the SDF in domain units is ``sdf_world(world) / scale``, which
stays an exact distance (a similarity transform). The single primitives are centred and fill
about 80 % of the domain; ``objects`` is their union as placed in the scene (exact outside the
solids, a lower bound inside where two of them overlap, as any union of SDFs by ``min``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from quadfree.data.scenes.objects import make
from quadfree.errors import QuadfreeError

FILL = 0.8      # a centred primitive reaches this far from the domain's centre

_SCENE = make(0)


def _columns() -> dict[str, tuple[int, torch.Tensor, float]]:
    s = _SCENE
    half_len = float((s.cap_b - s.cap_a).norm()) / 2
    return {   # name -> (column of ObjectsScene.distances, centre, bounding radius)
        "sphere": (0, s.sphere_c, s.sphere_r),
        "box": (1, s.box_c, float(s.box_half.norm()) + 0.03),
        "torus": (2, s.torus_c, s.torus_radii[0] + s.torus_radii[1]),
        "capsule": (3, (s.cap_a + s.cap_b) / 2, half_len + s.cap_r),
    }


@dataclass(frozen=True)
class Shape:
    """A procedural shape: its name and exact SDF on the domain [−1, 1]³.

    Example:
        >>> sh = get_shape("sphere")
        >>> round(float(sh.sdf(torch.zeros(1, 3))[0]), 3)
        -0.8
    """

    name: str
    centre: torch.Tensor
    scale: float
    column: int | None           # None: the union of all primitives

    def sdf(self, x: torch.Tensor) -> torch.Tensor:
        """Signed distance ``(M, 3)`` → ``(M,)`` (negative inside), in domain units."""
        world = (self.centre + self.scale * x.float())
        d = _SCENE.distances(world)
        d = d.amin(-1) if self.column is None else d[:, self.column]
        return (d / self.scale).to(x.dtype)


def get_shape(name: str) -> Shape:
    """The built-in shape ``name`` (one of :data:`SHAPE_NAMES`).

    Example:
        >>> get_shape("objects").column is None
        True
    """
    cols = _columns()
    if name == "objects":
        return Shape("objects", torch.zeros(3), 1.6, None)
    if name not in cols:
        raise QuadfreeError(f"shape {name!r}: choose one of {', '.join(SHAPE_NAMES)}")
    col, centre, radius = cols[name]
    return Shape(name, centre.clone(), radius / FILL, col)


SHAPE_NAMES: tuple[str, ...] = ("sphere", "box", "torus", "capsule", "objects")

SdfFn = Callable[[torch.Tensor], torch.Tensor]
