"""Cameras and rays: pixel-centre rays from intrinsics and OpenGL camera-to-world poses.

Convention (Blender/NeRF synthetic): the camera looks along its −z axis, x points right and y
up in the image; pixel ``(i, j)`` (column i, row j, row 0 at the top) has its centre at
``(i + 0.5, j + 0.5)``. Directions are unit vectors, so ``near``/``far`` are distances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from quadfree.errors import QuadfreeError


@dataclass
class RayBundle:
    """A batch of rays.

    Attributes:
        origins: ``(R, 3)`` ray origins (camera centres), world space.
        directions: ``(R, 3)`` unit directions.
        near: ``(R,)`` distance where integration starts.
        far: ``(R,)`` distance where it ends.

    Example:
        >>> rays = RayBundle(torch.zeros(4, 3), torch.eye(3)[[2]].expand(4, 3),
        ...                  torch.full((4,), 2.0), torch.full((4,), 6.0))
        >>> len(rays[:2])
        2
    """

    origins: torch.Tensor
    directions: torch.Tensor
    near: torch.Tensor
    far: torch.Tensor

    def __len__(self) -> int:
        return self.origins.shape[0]

    def __getitem__(self, index: slice | torch.Tensor) -> RayBundle:
        return RayBundle(self.origins[index], self.directions[index], self.near[index],
                         self.far[index])

    def to(self, device: torch.device | str) -> RayBundle:
        return RayBundle(self.origins.to(device), self.directions.to(device),
                         self.near.to(device), self.far.to(device))


def focal_from_fov(width: int, camera_angle_x: float) -> float:
    """Focal length in pixels from the horizontal field of view (radians).

    ``focal = 0.5·W / tan(0.5·camera_angle_x)``.

    Example:
        >>> round(focal_from_fov(800, 0.6911112070083618), 2)
        1111.11
    """
    return 0.5 * width / math.tan(0.5 * camera_angle_x)


@dataclass
class Camera:
    """A pinhole camera: image size, intrinsics and one camera-to-world pose.

    Attributes:
        height, width: image size in pixels.
        focal: focal length in pixels (x; also y unless ``focal_y`` is given).
        c2w: ``(4, 4)`` or ``(3, 4)`` OpenGL camera-to-world matrix.
        cx, cy: principal point in pixels (default: the image centre ``W/2``, ``H/2``).
        focal_y: vertical focal length in pixels (default ``focal``).
        ndc_near: if set, rays are mapped to normalized device coordinates of a
            forward-facing scene with this near plane (see :func:`ndc_rays`).

    Example:
        >>> cam = Camera(2, 2, 1.0, torch.eye(4))
        >>> cam.rays(near=2.0, far=6.0).directions.shape
        torch.Size([4, 3])
    """

    height: int
    width: int
    focal: float
    c2w: torch.Tensor
    cx: float | None = None
    cy: float | None = None
    focal_y: float | None = None
    ndc_near: float | None = None

    def rays(self, near: float = 2.0, far: float = 6.0) -> RayBundle:
        """All ``H·W`` pixel-centre rays in row-major order (row 0 = top of the image).
        With ``ndc_near`` the bounds are those of NDC space and ``near``/``far`` are unused."""
        return camera_rays(self.height, self.width, self.focal, self.c2w, near, far,
                           cx=self.cx, cy=self.cy, focal_y=self.focal_y,
                           ndc_near=self.ndc_near)


def camera_directions(height: int, width: int, focal: float, *, cx: float | None = None,
                      cy: float | None = None, focal_y: float | None = None,
                      dtype: torch.dtype = torch.float32,
                      device: torch.device | str = "cpu",
                      subpixel: tuple[float, float] = (0.5, 0.5)) -> torch.Tensor:
    """Camera-space directions (not normalized, ``z = −1``) through every pixel centre.

    Shapes: → ``(H, W, 3)``; entry ``[j, i]`` is ``((i+0.5−cx)/fx, −(j+0.5−cy)/fy, −1)``
    (``fx = focal``, ``fy = focal_y`` or ``focal``).
    ``subpixel`` replaces the 0.5 offsets (x, y) to aim elsewhere inside each pixel
    (supersampling).

    Example:
        >>> camera_directions(2, 2, 1.0)[0, 0].tolist()
        [-0.5, 0.5, -1.0]
    """
    focal_y = focal if focal_y is None else focal_y
    if height < 1 or width < 1 or not focal > 0 or not focal_y > 0:
        raise QuadfreeError(f"camera: need positive size and focal, got {height}x{width}, "
                            f"focal {focal}, {focal_y}")
    cx = width / 2 if cx is None else cx
    cy = height / 2 if cy is None else cy
    j, i = torch.meshgrid(torch.arange(height, dtype=dtype, device=device),
                          torch.arange(width, dtype=dtype, device=device), indexing="ij")
    x = (i + subpixel[0] - cx) / focal
    y = -(j + subpixel[1] - cy) / focal_y
    return torch.stack([x, y, -torch.ones_like(x)], dim=-1)


def camera_rays(height: int, width: int, focal: float, c2w: torch.Tensor, near: float = 2.0,
                far: float = 6.0, *, cx: float | None = None, cy: float | None = None,
                focal_y: float | None = None, ndc_near: float | None = None) -> RayBundle:
    """World-space pixel-centre rays of one camera, row-major (``R = H·W``).

    Args:
        height, width: image size in pixels.
        focal: focal length in pixels.
        c2w: ``(4, 4)`` or ``(3, 4)`` camera-to-world (OpenGL axes).
        near, far: distances along the unit directions.
        cx, cy, focal_y: principal point and vertical focal length (see :class:`Camera`).
        ndc_near: map the rays to NDC space (forward-facing scenes; :func:`ndc_rays`);
            ``near``/``far`` are then replaced by NDC's bounds.

    Returns:
        a :class:`RayBundle` with origins ``(R, 3)`` (the camera centre), unit directions
        ``(R, 3)`` and near/far ``(R,)``, on ``c2w``'s device and dtype.

    Example:
        >>> rays = camera_rays(1, 1, 1.0, torch.eye(4))
        >>> rays.directions.tolist()  # the single centre pixel looks along -z
        [[0.0, 0.0, -1.0]]
    """
    if c2w.shape not in ((4, 4), (3, 4)):
        raise QuadfreeError(f"c2w: expected shape (4, 4) or (3, 4), got {tuple(c2w.shape)}")
    c2w = c2w.float() if not c2w.is_floating_point() else c2w
    dirs = camera_directions(height, width, focal, cx=cx, cy=cy, focal_y=focal_y,
                             dtype=c2w.dtype, device=c2w.device).reshape(-1, 3)
    world = dirs @ c2w[:3, :3].T
    origins = c2w[:3, 3].expand_as(world).contiguous()
    if ndc_near is not None:
        return ndc_rays(origins, world, height, width, focal,
                        focal if focal_y is None else focal_y, ndc_near)
    world = world / world.norm(dim=-1, keepdim=True)
    n = world.shape[0]
    return RayBundle(origins, world, torch.full((n,), float(near), dtype=c2w.dtype,
                                                device=c2w.device),
                     torch.full((n,), float(far), dtype=c2w.dtype, device=c2w.device))


def ndc_project(points: torch.Tensor, height: int, width: int, focal_x: float,
                focal_y: float, near_plane: float) -> torch.Tensor:
    """World points ``(…, 3)`` (in front of the cameras: ``z < 0``) to NDC:
    ``(−fx/(W/2)·x/z, −fy/(H/2)·y/z, 1 + 2·n/z)``; ``z = −n`` maps to −1 and ``z → −∞`` to 1.

    Example:
        >>> ndc_project(torch.tensor([[0.0, 0.0, -1.0]]), 2, 2, 1.0, 1.0, 1.0).tolist()
        [[0.0, 0.0, -1.0]]
    """
    x, y, z = points.unbind(-1)
    return torch.stack([-focal_x / (width / 2) * x / z, -focal_y / (height / 2) * y / z,
                        1 + 2 * near_plane / z], dim=-1)


def ndc_rays(origins: torch.Tensor, directions: torch.Tensor, height: int, width: int,
             focal_x: float, focal_y: float, near_plane: float = 1.0) -> RayBundle:
    """Rays of a forward-facing scene in normalized device coordinates (NeRF, Mildenhall
    et al. 2020, appendix C).

    Each world ray is moved to start on the plane ``z = −near_plane`` and mapped by
    :func:`ndc_project`, where it is again a straight line; the world ray from that plane to
    infinite depth becomes the NDC segment ``o' + t·d'``, ``t ∈ [0, 1]``. To keep the
    library's convention (unit directions, bounds as distances) the result has unit
    directions ``d'/|d'|``, ``near = 0`` and ``far = |d'|``.

    Shapes: origins, directions ``(R, 3)`` (directions any length, ``z < 0``) → a
    :class:`RayBundle` of ``R`` rays.

    Example:
        >>> r = ndc_rays(torch.zeros(1, 3), torch.tensor([[0.0, 0.0, -1.0]]), 2, 2, 1.0, 1.0)
        >>> r.origins.abs().tolist(), r.directions.abs().tolist(), r.far.tolist()
        ([[0.0, 0.0, 1.0]], [[0.0, 0.0, 1.0]], [2.0])
    """
    t = -(near_plane + origins[..., 2]) / directions[..., 2]
    o = origins + t[..., None] * directions
    ox, oy, oz = o.unbind(-1)
    dx, dy, dz = directions.unbind(-1)
    ax, ay = -focal_x / (width / 2), -focal_y / (height / 2)
    o_ndc = torch.stack([ax * ox / oz, ay * oy / oz, 1 + 2 * near_plane / oz], dim=-1)
    d_ndc = torch.stack([ax * (dx / dz - ox / oz), ay * (dy / dz - oy / oz),
                         -2 * near_plane / oz], dim=-1)
    length = d_ndc.norm(dim=-1)
    return RayBundle(o_ndc.contiguous(), d_ndc / length[..., None],
                     torch.zeros_like(length), length)


def look_at(position: torch.Tensor, target: torch.Tensor | None = None,
            up: torch.Tensor | None = None) -> torch.Tensor:
    """OpenGL camera-to-world ``(4, 4)`` for a camera at ``position`` looking at ``target``.

    ``up`` defaults to world +z (Blender's convention); the camera's −z axis points at target.

    Example:
        >>> c2w = look_at(torch.tensor([0.0, -4.0, 0.0]))
        >>> (c2w[:3, :3] @ torch.tensor([0.0, 0.0, -1.0])).tolist()  # looks along +y
        [0.0, 1.0, 0.0]
    """
    position = position.to(torch.float64)
    target = torch.zeros(3, dtype=torch.float64) if target is None else target.double()
    up = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64) if up is None else up.double()
    z = position - target
    z = z / z.norm()
    x = torch.linalg.cross(up, z)
    if x.norm() < 1e-9:
        x = torch.linalg.cross(torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64), z)
    x = x / x.norm()
    y = torch.linalg.cross(z, x)
    c2w = torch.eye(4, dtype=torch.float64)
    c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = x, y, z, position
    return c2w.float()
