"""Ray generation on hand-computed cases (pixel centres, OpenGL axes, poses)."""

import math

import pytest
import torch

from quadfree.errors import QuadfreeError
from quadfree.render.rays import Camera, camera_directions, camera_rays, focal_from_fov, look_at


def test_focal_from_fov_blender():
    # 800 px wide, camera_angle_x 0.6911112 → the well-known 1111.11 px focal length
    assert focal_from_fov(800, 0.6911112070083618) == pytest.approx(1111.1110311937682)


def test_identity_camera_pixel_centres():
    # 2x2 image, focal 1: pixel (i, j) centre at (i + .5 - 1, -(j + .5 - 1), -1)
    d = camera_directions(2, 2, 1.0)
    assert d[0, 0].tolist() == [-0.5, 0.5, -1.0]    # top-left: left and up
    assert d[0, 1].tolist() == [0.5, 0.5, -1.0]     # top-right
    assert d[1, 0].tolist() == [-0.5, -0.5, -1.0]   # bottom-left
    rays = camera_rays(2, 2, 1.0, torch.eye(4), near=2.0, far=6.0)
    s = 1 / math.sqrt(1.5)
    torch.testing.assert_close(rays.directions[0], torch.tensor([-0.5 * s, 0.5 * s, -s]))
    torch.testing.assert_close(rays.directions.norm(dim=-1), torch.ones(4))
    assert rays.origins.tolist() == [[0.0, 0.0, 0.0]] * 4
    assert rays.near.tolist() == [2.0] * 4 and rays.far.tolist() == [6.0] * 4


def test_principal_point_and_focal():
    # 3x5 image, focal 2, default principal point (2.5, 1.5): pixel (4, 0) → ((4.5-2.5)/2, 1/2)
    d = camera_directions(3, 5, 2.0)
    assert d[0, 4].tolist() == [1.0, 0.5, -1.0]
    assert d[1, 2].tolist() == [0.0, 0.0, -1.0]
    # explicit principal point at the top-left corner
    d = camera_directions(3, 5, 2.0, cx=0.0, cy=0.0)
    assert d[0, 0].tolist() == [0.25, -0.25, -1.0]


def test_posed_camera_world_rays():
    # camera at (0, -4, 0) looking at the origin, world z up: camera x = +x, y = +z, -z = +y
    c2w = look_at(torch.tensor([0.0, -4.0, 0.0]))
    torch.testing.assert_close(c2w[:3, :3], torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0],
                                                          [0.0, 1.0, 0.0]]))
    rays = Camera(3, 3, 3.0, c2w).rays()
    # centre pixel (1, 1) looks straight at the origin
    torch.testing.assert_close(rays.directions[4], torch.tensor([0.0, 1.0, 0.0]))
    torch.testing.assert_close(rays.origins[4], torch.tensor([0.0, -4.0, 0.0]))
    # top-centre pixel (1, 0): camera dir (0, 1/3, -1) → world (0, 1, 1/3) normalized
    torch.testing.assert_close(rays.directions[1],
                               torch.tensor([0.0, 1.0, 1 / 3]) / math.sqrt(1 + 1 / 9))
    # right-middle pixel (2, 1): camera dir (1/3, 0, -1) → world (1/3, 1, 0) normalized
    torch.testing.assert_close(rays.directions[5],
                               torch.tensor([1 / 3, 1.0, 0.0]) / math.sqrt(1 + 1 / 9))


def test_three_by_four_pose_and_translation():
    c2w = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 2.0], [-1.0, 0.0, 0.0, 3.0]])
    rays = camera_rays(1, 1, 1.0, c2w)   # camera -z maps to world -x
    torch.testing.assert_close(rays.directions, torch.tensor([[-1.0, 0.0, 0.0]]))
    torch.testing.assert_close(rays.origins, torch.tensor([[1.0, 2.0, 3.0]]))


def test_bad_camera_inputs():
    with pytest.raises(QuadfreeError, match="c2w"):
        camera_rays(2, 2, 1.0, torch.eye(3))
    with pytest.raises(QuadfreeError, match="focal"):
        camera_rays(2, 2, 0.0, torch.eye(4))
