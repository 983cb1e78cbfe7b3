"""nerfstudio / instant-ngp and LLFF readers, format detection, NDC rays, and training on every
format. Datasets are written by the tests: real PNGs plus JSON / NPY files in tmp dirs."""

import json
import shutil

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from quadfree.data import detect_format, load_llff, load_nerfstudio, load_views
from quadfree.data.blender import load_blender
from quadfree.data.scenes import make_scene
from quadfree.errors import QuadfreeError
from quadfree.radiance.registry import METHODS
from quadfree.render.rays import ndc_project
from quadfree.train.trainer import train_run

RES = 16


@pytest.fixture(scope="module")
def blender_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("fmt") / "objects"
    make_scene("objects", out, res=RES, seed=5, sizes={"train": 9, "val": 1, "test": 1},
               progress=False)
    return out


def _nerfstudio(blender_dir, root, *, per_frame=False, extra=None):
    """The Blender train split rewritten as a nerfstudio dataset with fx != fy and an
    off-centre principal point (images: the Blender PNGs, so intrinsics only relabel them)."""
    src = json.loads((blender_dir / "transforms_train.json").read_text())
    (root / "images").mkdir(parents=True)
    frames = []
    for i, frame in enumerate(src["frames"]):
        shutil.copy(blender_dir / (frame["file_path"] + ".png"), root / "images" / f"f{i}.png")
        entry = {"file_path": f"images/f{i}.png", "transform_matrix": frame["transform_matrix"]}
        if per_frame:
            entry.update({"fl_x": 20.0 + i, "fl_y": 22.0 + i, "cx": 7.5, "cy": 8.5})
        frames.append(entry)
    meta = {"camera_model": "OPENCV", "w": RES, "h": RES, "k1": 0.0, "k2": 0.0, "p1": 0.0,
            "p2": 0.0, "frames": frames}
    if not per_frame:
        meta.update({"fl_x": 20.0, "fl_y": 24.0, "cx": 7.0, "cy": 9.0})
    meta.update(extra or {})
    (root / "transforms.json").write_text(json.dumps(meta))
    return root


def _llff_rows(poses_gl, h, w, f, bounds):
    """OpenGL c2w ``(N, 4, 4)`` → LLFF rows ``(N, 17)``: columns [down, right, back]."""
    rows = []
    for pose, (lo, hi) in zip(poses_gl, bounds):
        m = np.zeros((3, 5))
        m[:, 0], m[:, 1], m[:, 2] = -pose[:3, 1], pose[:3, 0], pose[:3, 2]
        m[:, 3], m[:, 4] = pose[:3, 3], [h, w, f]
        rows.append(np.concatenate([m.ravel(), [lo, hi]]))
    return np.array(rows)


def _forward_facing_poses(n, seed=0):
    """Cameras on a small patch of the plane z = 4 looking roughly along −z (forward-facing)."""
    rng = np.random.default_rng(seed)
    poses = []
    for _ in range(n):
        pose = np.eye(4)
        ax, ay = rng.uniform(-0.1, 0.1, 2)
        rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
        ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
        pose[:3, :3] = rx @ ry
        pose[:3, 3] = [*rng.uniform(-0.5, 0.5, 2), 4.0]
        poses.append(pose)
    return np.stack(poses)


def _llff(root, n=9, res=RES, image_res=None, seed=0):
    image_res = image_res or res
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        iio.imwrite(root / "images" / f"IMG_{i:03d}.png",
                    rng.integers(0, 256, (image_res, image_res, 3), dtype=np.uint8))
    poses = _forward_facing_poses(n, seed)
    np.save(root / "poses_bounds.npy", _llff_rows(poses, res, res, 1.2 * res, [(2.0, 8.0)] * n))
    return root, poses


# -- detection ------------------------------------------------------------------------------
def test_detection_rule(blender_dir, tmp_path):
    assert detect_format(blender_dir) == "blender"
    assert detect_format(_nerfstudio(blender_dir, tmp_path / "ns")) == "nerfstudio"
    assert detect_format(_llff(tmp_path / "llff")[0]) == "llff"
    (tmp_path / "empty").mkdir()
    with pytest.raises(QuadfreeError, match="empty: not a dataset directory"):
        detect_format(tmp_path / "empty")
    with pytest.raises(QuadfreeError, match="dataset directory not found"):
        load_views(tmp_path / "nope")


# -- nerfstudio -----------------------------------------------------------------------------
def _project_opencv(point, c2w_gl, fx, fy, cx, cy):
    """Pixel coordinates of a world point by OpenCV's pinhole model (x right, y down, z
    forward): an independent reference for the OpenGL rays."""
    c2w_cv = c2w_gl @ np.diag([1.0, -1.0, -1.0, 1.0])
    x = np.linalg.inv(c2w_cv) @ np.append(point, 1.0)
    uvw = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]]) @ x[:3]
    return uvw[:2] / uvw[2]


@pytest.mark.parametrize("per_frame", [False, True])
def test_nerfstudio_rays_follow_the_intrinsics(blender_dir, tmp_path, per_frame):
    views = load_nerfstudio(_nerfstudio(blender_dir, tmp_path / "ns", per_frame=per_frame))
    blender = load_blender(blender_dir, "train")
    assert views.format == "nerfstudio" and len(views) == 7   # frames 0, 8 held out
    torch.testing.assert_close(views.images, blender.images[1:8])  # same pixels, same order
    for k in (0, 5):
        fx, fy, cx, cy = views.intrinsics[k].tolist()
        if per_frame:
            assert (fx, fy, cx, cy) == (21.0 + k, 23.0 + k, 7.5, 8.5)
        rays = views.rays(k)
        for j, i in ((0, 0), (3, 11), (15, 6)):
            r = j * RES + i
            point = (rays.origins[r] + 3.0 * rays.directions[r]).double().numpy()
            uv = _project_opencv(point, views.poses[k].double().numpy(), fx, fy, cx, cy)
            np.testing.assert_allclose(uv, [i + 0.5, j + 0.5], atol=1e-4)


def test_nerfstudio_splits_bounds_and_scaled_images(blender_dir, tmp_path):
    root = _nerfstudio(blender_dir, tmp_path / "ns",
                       extra={"train_filenames": ["images/f1.png", "./images/f2.png"],
                              "test_filenames": ["images/f0.png"]})
    assert [len(load_nerfstudio(root, s)) for s in ("train", "test", "val")] == [2, 1, 2]
    # default near/far from the camera distance (4): 4/3 and 20/3
    views = load_nerfstudio(root, "test")
    assert views.near == pytest.approx(4 / 3, rel=1e-4) and views.far == pytest.approx(20 / 3,
                                                                                       rel=1e-4)
    assert load_nerfstudio(root, "test", near=1.0, far=3.0).far == 3.0
    # w, h twice the image size: intrinsics halved; downscale 2 halves them again
    meta = json.loads((root / "transforms.json").read_text())
    meta.update({"w": 2 * RES, "h": 2 * RES})
    (root / "transforms.json").write_text(json.dumps(meta))
    assert load_nerfstudio(root, "test").intrinsics[0].tolist() == [10.0, 12.0, 3.5, 4.5]
    half = load_nerfstudio(root, "test", downscale=2)
    assert half.intrinsics[0].tolist() == [5.0, 6.0, 1.75, 2.25]
    assert half.images.shape == (1, RES // 2, RES // 2, 3)


def test_instant_ngp_camera_angle(blender_dir, tmp_path):
    root = _nerfstudio(blender_dir, tmp_path / "ngp")
    meta = json.loads((root / "transforms.json").read_text())
    for key in ("fl_x", "fl_y", "cx", "cy", "w", "h", "camera_model"):
        meta.pop(key)
    meta["camera_angle_x"] = 0.6911112070083618
    meta["aabb_scale"] = 4
    (root / "transforms.json").write_text(json.dumps(meta))
    views = load_nerfstudio(root, "train")
    blender = load_blender(blender_dir, "train")
    assert views.intrinsics[0].tolist() == pytest.approx([blender.focal, blender.focal, 8, 8])
    a, b = views.rays(0), blender.rays(1)
    torch.testing.assert_close(a.directions, b.directions, atol=1e-6, rtol=0)


@pytest.mark.parametrize("change, message", [
    ({"k1": 0.01}, r"transforms.json frame \d+: lens distortion k1 = 0.01 is not supported"),
    ({"p2": -0.2}, "lens distortion p2"),
    ({"camera_model": "OPENCV_FISHEYE"}, "camera_model 'OPENCV_FISHEYE' is not supported"),
    ({"fl_x": None}, "needs 'fl_x'"),
    ({"fl_y": "abc"}, "'fl_y' must be a finite number"),
    ({"frames": []}, "'frames' must be a non-empty list"),
    ({"train_filenames": ["images/none.png"]}, "'train_filenames' names no frame"),
])
def test_nerfstudio_bad_files(blender_dir, tmp_path, change, message):
    root = _nerfstudio(blender_dir, tmp_path / "ns")
    meta = json.loads((root / "transforms.json").read_text())
    for key, value in change.items():
        if value is None:
            meta.pop(key)
        else:
            meta[key] = value
    (root / "transforms.json").write_text(json.dumps(meta))
    with pytest.raises(QuadfreeError, match=message):
        load_nerfstudio(root)


def test_nerfstudio_missing_and_malformed(blender_dir, tmp_path):
    root = _nerfstudio(blender_dir, tmp_path / "ns")
    (root / "images" / "f3.png").unlink()
    with pytest.raises(QuadfreeError, match="f3.png: image file missing"):
        load_nerfstudio(root)
    (root / "transforms.json").write_text("{not json")
    with pytest.raises(QuadfreeError, match="transforms.json: malformed JSON"):
        load_nerfstudio(root)
    meta = {"fl_x": 5.0, "frames": [{"file_path": "images/f1.png",
                                     "transform_matrix": np.ones((4, 4)).tolist()}]}
    (root / "transforms.json").write_text(json.dumps(meta))
    with pytest.raises(QuadfreeError, match="frame 0: transform_matrix is not a rigid"):
        load_nerfstudio(root)


# -- LLFF -----------------------------------------------------------------------------------
def test_llff_poses_keep_relative_geometry(tmp_path):
    root, poses = _llff(tmp_path / "llff")
    views = load_llff(root, "train", ndc=False)
    assert views.format == "llff" and len(views) == 7 and views.ndc_near is None
    assert views.focal == pytest.approx(1.2 * RES)
    scale = 1 / (2.0 * 0.75)
    assert views.near == pytest.approx(0.9 * 2.0 * scale) and views.far == pytest.approx(8 * scale)
    got = views.poses.double().numpy()
    want = poses[1:8]                                         # frames 0 and 8 held out
    for a, b in ((0, 3), (2, 6)):
        rel_got = np.linalg.inv(got[a]) @ got[b]
        rel_want = np.linalg.inv(want[a]) @ want[b]
        np.testing.assert_allclose(rel_got[:3, :3], rel_want[:3, :3], atol=1e-5)
        np.testing.assert_allclose(rel_got[:3, 3], scale * rel_want[:3, 3], atol=1e-5)
    # re-centred: the average camera looks along −z from near the origin
    assert np.abs(got[:, :3, 3].mean(0)).max() < 0.1
    assert (got[:, 2, 2] > 0.9).all()
    assert len(load_llff(root, "test")) == 2


def test_llff_ndc_rays_are_the_projected_metric_rays(tmp_path):
    root, _ = _llff(tmp_path / "llff")
    metric = load_llff(root, "train", ndc=False)
    ndc = load_llff(root, "train")
    assert ndc.ndc_near == 1.0 and (ndc.near, ndc.far) == (0.0, 1.0)
    m, n = metric.rays(2), ndc.rays(2)
    assert torch.allclose(n.near, torch.zeros_like(n.near))
    for t in (1.5, 3.0, 20.0):
        world = (m.origins + t * m.directions).double()
        p = ndc_project(world, RES, RES, ndc.focal, ndc.focal, 1.0)
        # p lies on the NDC ray at a parameter inside [0, far]
        s = ((p - n.origins.double()) * n.directions.double()).sum(-1)
        on_ray = n.origins.double() + s[:, None] * n.directions.double()
        torch.testing.assert_close(on_ray, p, atol=1e-4, rtol=0)
        assert bool((s >= -1e-5).all() and (s <= n.far.double() + 1e-5).all())
    # depth → ∞ maps to the ray's far end (NDC z = 1)
    end = n.origins + n.far[:, None] * n.directions
    torch.testing.assert_close(end[:, 2], torch.ones_like(end[:, 2]), atol=1e-5, rtol=0)


def test_llff_smaller_images_scale_the_focal(tmp_path):
    root, _ = _llff(tmp_path / "llff", res=2 * RES, image_res=RES)
    assert load_llff(root).focal == pytest.approx(1.2 * RES)
    assert load_llff(root, downscale=2).focal == pytest.approx(0.6 * RES)


def test_llff_bad_files(tmp_path):
    root, _ = _llff(tmp_path / "llff")
    arr = np.load(root / "poses_bounds.npy")
    np.save(root / "poses_bounds.npy", arr[:, :16])
    with pytest.raises(QuadfreeError, match=r"poses_bounds.npy: expected an \(N, 17\) array"):
        load_llff(root)
    np.save(root / "poses_bounds.npy", arr[:5])
    with pytest.raises(QuadfreeError, match="images: 9 images for 5 poses"):
        load_llff(root)
    bad = arr.copy()
    bad[3, 15] = -1
    np.save(root / "poses_bounds.npy", bad)
    with pytest.raises(QuadfreeError, match="depth bounds"):
        load_llff(root)
    bad = arr.copy()
    bad[4, :3] *= 2
    np.save(root / "poses_bounds.npy", bad)
    with pytest.raises(QuadfreeError, match="row 4: transform_matrix is not a rigid"):
        load_llff(root)
    (root / "poses_bounds.npy").write_bytes(b"garbage")
    with pytest.raises(QuadfreeError, match="poses_bounds.npy: not a readable .npy"):
        load_llff(root)
    with pytest.raises(QuadfreeError, match="near 1.0: NDC rays have fixed bounds"):
        load_llff(root, near=1.0, far=2.0)


# -- every method trains on every format ----------------------------------------------------
TINY = {"nerf": {"width": 8, "depth": 1, "skips": "", "n_coarse": 8, "n_fine": 0},
        "autoint": {"sections": 4, "hidden": 8, "depth": 1, "sampler": "uniform",
                    "pos_freqs": 2, "dir_freqs": 1},
        "terf": {"levels": 2, "grid": 8, "order": 4}}


@pytest.mark.parametrize("fmt", ["nerfstudio", "llff"])
@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_trains_on_every_format(blender_dir, tmp_path, fmt, method):
    from quadfree.apps.runs import evaluate_run

    data = _nerfstudio(blender_dir, tmp_path / "ns") if fmt == "nerfstudio" \
        else _llff(tmp_path / "llff")[0]
    summary = train_run(method, data, tmp_path / "run", method_overrides=TINY[method],
                        train_overrides={"iters": 3, "batch_rays": 32, "val_every": 0,
                                         "val_views": 1}, progress=False)
    assert summary["step"] == 3 and np.isfinite(summary["val_psnr"])
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert ckpt["data"]["format"] == fmt
    result = evaluate_run(tmp_path / "run", max_frames=1, progress=False)
    assert result["num_images"] == 1 and np.isfinite(result["psnr"])


def test_cli_bad_dataset_is_one_line(tmp_path, capsys):
    from quadfree.cli.main import main

    root, _ = _llff(tmp_path / "llff")
    np.save(root / "poses_bounds.npy", np.zeros((9, 16)))
    assert main(["train", "--data", str(root), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "poses_bounds.npy: expected an (N, 17) array" in err[0]
    assert main(["train", "--data", str(root), "--out", str(tmp_path / "run"), "--quiet",
                 "--downscale", "0"]) == 2
    assert "--downscale 0: must be a positive integer" in capsys.readouterr().err
