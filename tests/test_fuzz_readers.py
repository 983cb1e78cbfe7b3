"""Fuzzing the readers with mutated files: every failure is a QuadfreeError of one line, never
another exception (hypothesis; modest example counts so `make test` stays fast)."""

import io
import json
import shutil
import tempfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quadfree.apps.signals import load_samples
from quadfree.data.blender import load_blender, write_blender_split
from quadfree.errors import QuadfreeError
from quadfree.tomo.phantoms import load_image, load_sinogram

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@st.composite
def mutated(draw, original: bytes) -> bytes:
    """``original`` with a few random edits: flipped bytes, a cut, an insertion or a repeat."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "repeat", "set"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[pos] = draw(st.sampled_from([0, 0xFF, ord("-"), ord("9"), ord(","), 0x7F]))
        elif kind == "cut":
            data = data[:pos]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "repeat":
            data[pos:pos] = data[pos:pos + draw(st.integers(1, 64))] * draw(st.integers(1, 4))
    return bytes(data)


def check_one_line(call) -> None:
    try:
        call()
    except QuadfreeError as exc:
        message = str(exc)
        assert message and "\n" not in message and "\r" not in message, repr(message)
        assert len(message) < 1000


def fresh_copy(dataset: Path, tmp_path: Path) -> Path:
    root = Path(tempfile.mkdtemp(dir=tmp_path)) / "data"
    shutil.copytree(dataset, root)
    return root


def png_bytes(image: np.ndarray) -> bytes:
    return bytes(iio.imwrite("<bytes>", image, extension=".png"))


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("blender")
    rng = np.random.default_rng(0)
    poses = np.stack([np.eye(4)] * 2)
    poses[:, 2, 3] = 4.0
    write_blender_split(root, "train", rng.random((2, 6, 6, 4)), poses, 0.7,
                        depths=rng.random((2, 6, 6)) * 4)
    return root


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=5),
    max_leaves=20)


@SETTINGS
@given(data=st.data())
def test_transforms_json(dataset, tmp_path, data):
    meta = json.loads((dataset / "transforms_train.json").read_text())
    how = data.draw(st.sampled_from(["bytes", "value"]))
    if how == "bytes":
        text = data.draw(mutated(json.dumps(meta).encode()))
    else:                                   # a structurally plausible file with one wrong value
        target = data.draw(st.sampled_from(["camera_angle_x", "frames", "frame", "file_path",
                                            "transform_matrix", "row"]))
        value = data.draw(json_values)
        frame = meta["frames"][0]
        if target in ("camera_angle_x", "frames"):
            meta[target] = value
        elif target == "frame":
            meta["frames"][0] = value
        elif target == "row":
            frame["transform_matrix"][data.draw(st.integers(0, 3))] = value
        else:
            frame[target] = value
        text = json.dumps(meta).encode()
    root = fresh_copy(dataset, tmp_path)
    (root / "transforms_train.json").write_bytes(text)
    check_one_line(lambda: load_blender(root, "train"))


@SETTINGS
@given(data=st.data())
def test_dataset_png_and_depth(dataset, tmp_path, data):
    root = fresh_copy(dataset, tmp_path)
    which = data.draw(st.sampled_from(["r_0.png", "r_1_depth.npy"]))
    path = root / "train" / which
    path.write_bytes(data.draw(mutated(path.read_bytes())))
    check_one_line(lambda: load_blender(root, "train"))


@SETTINGS
@given(data=st.data())
def test_samples_csv_and_npy(tmp_path, data):
    x = np.linspace(0, 1, 6)
    if data.draw(st.booleans()):
        path = tmp_path / "s.csv"
        original = ("x,y\n" + "".join(f"{a},{np.sin(a)}\n" for a in x)).encode()
    else:
        path = tmp_path / "s.npy"
        original = npy_bytes(np.stack([x, np.sin(x)], 1))
    path.write_bytes(data.draw(mutated(original)))
    check_one_line(lambda: load_samples(path))


@SETTINGS
@given(data=st.data())
def test_tomo_image_png_and_npy(tmp_path, data):
    img = np.zeros((16, 16), np.uint8)
    img[4:12, 4:12] = 200
    if data.draw(st.booleans()):
        path, original = tmp_path / "im.png", png_bytes(img)
    else:
        path, original = tmp_path / "im.npy", npy_bytes(img.astype(np.float64))
    path.write_bytes(data.draw(mutated(original)))
    check_one_line(lambda: load_image(path))


@SETTINGS
@given(data=st.data())
def test_sinogram_and_angle_files(tmp_path, data):
    sino, angles = tmp_path / "s.npy", tmp_path / data.draw(st.sampled_from(["a.txt", "a.npy"]))
    sino_bytes = npy_bytes(np.ones((16, 4)))
    angle_bytes = (b"0, 45, 90, 135\n" if angles.suffix == ".txt"
                   else npy_bytes(np.array([0.0, 45.0, 90.0, 135.0])))
    target = data.draw(st.sampled_from(["sinogram", "angles"]))
    if target == "sinogram":
        sino_bytes = data.draw(mutated(sino_bytes))
    else:
        angle_bytes = data.draw(mutated(angle_bytes))
    sino.write_bytes(sino_bytes)
    angles.write_bytes(angle_bytes)
    check_one_line(lambda: load_sinogram(sino, angles))
