"""Blender-format reader: round trip on a generated scene and every bad-input case."""

import json
import shutil

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from quadfree.data.blender import load_blender, write_blender_split
from quadfree.data.scenes import make_scene
from quadfree.errors import QuadfreeError

SIZES = {"train": 3, "val": 1, "test": 2}


@pytest.fixture(scope="module")
def objects_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "objects"
    make_scene("objects", out, res=16, seed=3, sizes=SIZES, progress=False)
    return out


def test_round_trip_generated_scene(objects_dir):
    train = load_blender(objects_dir, "train")
    assert train.images.shape == (3, 16, 16, 3) and train.poses.shape == (3, 4, 4)
    assert train.focal == pytest.approx(0.5 * 16 / np.tan(0.5 * 0.6911112070083618))
    # cameras on the hemisphere of radius 4 looking at the origin
    torch.testing.assert_close(train.poses[:, :3, 3].norm(dim=-1), torch.full((3,), 4.0))
    assert bool((train.poses[:, 2, 3] > 0).all())
    view = train.poses[:, :3, :3] @ torch.tensor([0.0, 0.0, -1.0])
    torch.testing.assert_close(view, -train.poses[:, :3, 3] / 4.0, atol=1e-5, rtol=0)
    # images: PNG RGBA composited on white; background pixels are exactly white
    png = iio.imread(objects_dir / "train" / "r_0.png").astype(np.float32) / 255
    alpha = png[..., 3:]
    torch.testing.assert_close(train.images[0], torch.from_numpy(png[..., :3] * alpha + 1 - alpha))
    assert alpha.min() == 0.0 and alpha.max() == 1.0
    # depth maps come back; background depth is 0, object depths inside [near, far]
    assert train.depths is not None and train.depths.shape == (3, 16, 16)
    hit = torch.from_numpy(alpha[..., 0] > 0)
    d = train.depths[0]
    assert bool((d[~hit] == 0).all()) and bool(((d[hit] > 2) & (d[hit] < 6)).all())
    assert len(load_blender(objects_dir, "test")) == 2
    # re-writing what we read gives the same images
    meta = json.loads((objects_dir / "transforms_train.json").read_text())
    assert meta["camera_angle_x"] == pytest.approx(0.6911112070083618)


def test_downscale_area_average(objects_dir):
    full = load_blender(objects_dir, "val")
    half = load_blender(objects_dir, "val", downscale=2)
    assert half.images.shape == (1, 8, 8, 3) and half.focal == pytest.approx(full.focal / 2)
    torch.testing.assert_close(half.images[0, 0, 0], full.images[0, :2, :2].mean(dim=(0, 1)))
    with pytest.raises(QuadfreeError, match="downscale 3"):
        load_blender(objects_dir, "val", downscale=3)


@pytest.fixture()
def copy(objects_dir, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(objects_dir, dst)
    return dst


def _edit(root, fn):
    path = root / "transforms_train.json"
    meta = json.loads(path.read_text())
    fn(meta)
    path.write_text(json.dumps(meta))
    return path


def test_missing_files(copy, tmp_path):
    with pytest.raises(QuadfreeError, match="dataset directory not found"):
        load_blender(tmp_path / "nope")
    (copy / "transforms_val.json").unlink()
    with pytest.raises(QuadfreeError, match="transforms_val.json: missing"):
        load_blender(copy, "val")
    (copy / "train" / "r_1.png").unlink()
    with pytest.raises(QuadfreeError, match=r"r_1.png: image file missing"):
        load_blender(copy, "train")


def test_malformed_json(copy):
    (copy / "transforms_train.json").write_text("{not json")
    with pytest.raises(QuadfreeError, match="transforms_train.json: malformed JSON"):
        load_blender(copy)


def test_missing_keys(copy):
    _edit(copy, lambda m: m.pop("camera_angle_x"))
    with pytest.raises(QuadfreeError, match="camera_angle_x"):
        load_blender(copy)
    _edit(copy, lambda m: m.update(camera_angle_x=0.69, frames=[]))
    with pytest.raises(QuadfreeError, match="non-empty"):
        load_blender(copy)


def test_non_rigid_matrix(copy):
    def scale(m):
        mat = np.array(m["frames"][1]["transform_matrix"])
        mat[:3, :3] *= 2.0
        m["frames"][1]["transform_matrix"] = mat.tolist()
    _edit(copy, scale)
    with pytest.raises(QuadfreeError, match=r"transforms_train.json frame 1: .*not a rigid"):
        load_blender(copy)


def test_reflection_and_bad_shape_matrix(copy):
    def flip(m):
        mat = np.array(m["frames"][0]["transform_matrix"])
        mat[:3, 0] *= -1.0
        m["frames"][0]["transform_matrix"] = mat.tolist()
    _edit(copy, flip)
    with pytest.raises(QuadfreeError, match="frame 0: .*not a rigid"):
        load_blender(copy)
    _edit(copy, lambda m: m["frames"][0].update(transform_matrix=[[1, 0, 0], [0, 1, 0]]))
    with pytest.raises(QuadfreeError, match="shape"):
        load_blender(copy)


def test_non_finite_matrix(copy):
    text = (copy / "transforms_train.json").read_text()
    meta = json.loads(text)
    meta["frames"][2]["transform_matrix"][0][3] = float("nan")
    (copy / "transforms_train.json").write_text(json.dumps(meta))   # writes NaN literally
    with pytest.raises(QuadfreeError, match="frame 2: .*non-finite"):
        load_blender(copy)


def test_mixed_image_sizes(copy):
    iio.imwrite(copy / "train" / "r_2.png", np.zeros((8, 16, 4), np.uint8))
    with pytest.raises(QuadfreeError, match=r"r_2.png: image size 16x8 differs"):
        load_blender(copy)


def test_corrupt_image(copy):
    (copy / "train" / "r_0.png").write_bytes(b"not a png")
    with pytest.raises(QuadfreeError, match="r_0.png: cannot read image"):
        load_blender(copy)


def test_bad_near_far_and_split(copy):
    with pytest.raises(QuadfreeError, match="near"):
        load_blender(copy, near=6.0, far=2.0)
    with pytest.raises(QuadfreeError, match="split"):
        load_blender(copy, "bogus")


def test_writer_reader_exact(tmp_path):
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (2, 5, 6, 4), dtype=np.uint8)
    poses = np.stack([np.eye(4), np.eye(4)])
    poses[1, :3, 3] = [1, 2, 3]
    write_blender_split(tmp_path, "test", rgba, poses, 0.5)
    data = load_blender(tmp_path, "test")
    a = rgba[..., 3:] / 255.0
    expected = rgba[..., :3] / 255.0 * a + (1 - a)
    torch.testing.assert_close(data.images, torch.from_numpy(expected).float())
    assert data.poses[1, :3, 3].tolist() == [1.0, 2.0, 3.0]
    assert data.depths is None
