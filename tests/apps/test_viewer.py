"""The web viewer in a real browser: headless Debian chromium on loopback opens it, a frame is
rendered, the screenshot's image region is not blank and changes when the camera is dragged
through the client. Set QUADFREE_VIEWER_SCREENSHOT=PATH to keep the first screenshot."""

import os
import time

import numpy as np
import pytest
import torch
from cdp import Browser, chromium_path, free_port

from quadfree.apps.viewer import Viewer
from quadfree.cli.main import main
from quadfree.data.scenes import make_scene
from quadfree.train.trainer import train_run

FRUSTUM = np.array([230, 120, 20])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("viewer")
    make_scene("objects", root / "scene", res=12, seed=0,
               sizes={"train": 4, "val": 1, "test": 1}, progress=False)
    train_run("nerf", root / "scene", root / "run", progress=False,
              method_overrides={"width": 16, "depth": 2, "skips": "", "n_coarse": 16,
                                "n_fine": 0},
              train_overrides={"iters": 1})
    # a dense, colourful field instead of training (the viewer's job is to show whatever the
    # run holds; a high-contrast field makes "not blank" and "changed" unambiguous)
    path = root / "run" / "checkpoint.pt"
    state = torch.load(path, weights_only=False)
    model = state["model"]
    model["coarse.trunk.layers.0.weight"] = model["coarse.trunk.layers.0.weight"] * 3
    model["coarse.color.head.weight"] = model["coarse.color.head.weight"] * 8
    model["coarse.trunk.head.bias"][0] = 1.0                    # σ: opaque
    torch.save(state, path)
    return root / "run"


def _wait(cond, what, timeout=120.0):
    deadline = time.monotonic() + timeout
    while (value := cond()) is None or value is False:
        if time.monotonic() > deadline:
            raise TimeoutError(f"viewer: {what} not seen within {timeout:.0f} s")
        time.sleep(0.2)
    return value


def _region(img):
    """The part of the page where only the rendered image and frustums are (below the
    notification, left of the panel), with frustum-coloured pixels masked out."""
    part = img[180:440, 40:540].reshape(-1, 3).astype(float)
    return part[np.abs(part - FRUSTUM).max(-1) > 60]


def test_viewer_in_headless_chromium(run_dir):
    assert chromium_path() is not None, "install Debian's chromium (.ci/run does)"
    viewer = Viewer([run_dir, run_dir], port=free_port(), resolution=48, preview=24,
                    rest_s=0.2)
    browser = None
    try:
        assert viewer.url.startswith("http://127.0.0.1:")
        browser = Browser(viewer.url)
        _wait(lambda: viewer.last.get("refined"), "a full-resolution frame")
        assert viewer.last["height"] == 48 and viewer.last["seconds"] > 0

        def shown():           # a screenshot whose image region is not blank, else None
            img = browser.screenshot()
            pixels = _region(img)
            return img if len(pixels) > 1000 and pixels.std(0).max() > 10.0 else None

        first = _wait(shown, "a non-blank rendered image in the browser")
        if os.environ.get("QUADFREE_VIEWER_SCREENSHOT"):
            import imageio.v3 as iio

            iio.imwrite(os.environ["QUADFREE_VIEWER_SCREENSHOT"], first)
        frames = viewer.frames
        browser.drag((300, 300), (430, 330))
        _wait(lambda: viewer.frames > frames and viewer.last.get("refined"),
              "a new frame after the drag")

        def changed():
            img = browser.screenshot().astype(float)
            return bool(np.abs(first[180:440, 40:540] - img[180:440, 40:540]).mean() > 5)

        _wait(changed, "the image to change after the drag")
    finally:
        if browser is not None:
            browser.close()
        viewer.close()


def test_view_bad_run_is_one_line(tmp_path, capsys):
    assert main(["view", "--run", str(tmp_path / "none"), "--port", str(free_port())]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checkpoint not found" in err[0]
    assert main(["view", "--run", str(tmp_path / "none"), "--port", "70000"]) == 2
    assert "--port 70000" in capsys.readouterr().err
