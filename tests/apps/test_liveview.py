"""``quadfree train --viewer``: the viewer renders its own copy of the weights while a tiny run
trains (copied at the right steps, renders alongside training), answers HTTP on its port,
changes nothing in the training results, and is gone afterwards."""

import socket
import threading
import time
import urllib.request
from types import SimpleNamespace

import pytest
import torch
from cdp import Browser, chromium_path, free_port

from quadfree.apps.liveview import LiveViewer
from quadfree.cli.main import main
from quadfree.data.scenes import make_scene
from quadfree.errors import QuadfreeError
from quadfree.train import load_checkpoint, train_run
from quadfree.train.distributed import DistContext

TINY = {"width": 16, "depth": 2, "skips": "", "n_coarse": 8, "n_fine": 0, "pos_freqs": 4,
        "dir_freqs": 2}
TRAIN = {"batch_rays": 32, "val_every": 3, "val_views": 1, "ckpt_every": 2, "lr": 5e-3,
         "iters": 6}


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("live") / "objects"
    make_scene("objects", out, res=12, seed=0, sizes={"train": 3, "val": 1, "test": 1},
               progress=False)
    return out


def _refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) != 0


def _train(scene, out, on_step=None):
    return train_run("nerf", scene, out, method_overrides=TINY, train_overrides=TRAIN,
                     progress=False, seed=3, on_step=on_step)


def test_live_viewer_while_training(scene, tmp_path):
    port = free_port()
    live = LiveViewer(port=port, resolution=16, preview=8, every_steps=2, every_seconds=0)
    renders, errors, stop = [], [], threading.Event()
    checks = {}

    def render_loop(viewer, camera):              # a browser's renders, in another thread
        try:
            while not stop.is_set():
                info = viewer.render_camera(camera)
                renders.append(info["step"])
        except Exception as exc:                  # noqa: BLE001 (reported by the test)
            errors.append(exc)

    def hook(trainer, step):
        live(trainer, step)
        snap = live.snapshot
        weights = snap.staged()
        same = all(torch.equal(weights[k], v) for k, v in trainer.method.state_dict().items())
        checks[step] = (snap.step, same)
        if step == 1:
            with urllib.request.urlopen(live.url, timeout=20) as reply:   # HTTP while training
                checks["http"] = (reply.status, len(reply.read()))
            thread = threading.Thread(target=render_loop, daemon=True,
                                      args=(live.viewer, trainer.train_data.camera(0)))
            thread.start()
            checks["thread"], checks["server"] = thread, live.viewer
        if step == 4:                             # the renderer picks up step 4's weights
            deadline = time.monotonic() + 60
            while 4 not in renders and not errors and time.monotonic() < deadline:
                time.sleep(0.02)
            checks["caption"] = live.viewer._caption(
                {"run": "r", "width": 16, "height": 16, "seconds": 0.01, "step": 4}, True)

    with live:
        summary = _train(scene, tmp_path / "live", hook)
        assert not _refused(port)
    stop.set()
    checks["thread"].join(timeout=30)
    assert not errors, errors
    assert checks["http"][0] == 200 and checks["http"][1] > 100
    # copies at the first step, every 2nd step and the last: equal then, one step behind between
    assert {s: checks[s] for s in range(1, 7)} == {1: (1, True), 2: (2, True), 3: (2, False),
                                                   4: (4, True), 5: (4, False), 6: (6, True)}
    assert 4 in renders and renders == sorted(renders)
    assert "training step 4 of 6; weights of step 4" in checks["caption"]
    # the server and its render thread are gone after training
    assert _refused(port) and live.viewer is None
    assert not checks["server"]._thread.is_alive()
    # training results are bit-identical without the viewer (same seed)
    plain = _train(scene, tmp_path / "plain")
    a = load_checkpoint(tmp_path / "live" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "plain" / "checkpoint.pt")
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    assert summary["val_psnr"] == plain["val_psnr"]


def _wait(cond, what, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"live viewer: {what} not seen within {timeout:.0f} s")
        time.sleep(0.1)


def test_live_viewer_in_headless_chromium(scene, tmp_path):
    """The real client path: a browser connects while training, and the panel shows frames
    rendered with the weights of the step the training is at."""
    assert chromium_path() is not None, "install Debian's chromium (.ci/run does)"
    live = LiveViewer(port=free_port(), resolution=16, preview=8, rest_s=0.1, every_steps=2,
                      every_seconds=0)
    seen, box = {}, {}

    def hook(trainer, step):
        live(trainer, step)
        if step == 1:
            box["browser"] = Browser(live.url)
        if step in (1, 4):         # training waits here until the browser shows this step
            def shown():
                last = live.viewer.last
                return last.get("refined") and last.get("step") == step
            _wait(shown, f"a full-resolution frame of step {step}")
            seen[step] = live.viewer.status.content

    try:
        with live:
            _train(scene, tmp_path / "browser", hook)
    finally:
        if "browser" in box:
            box["browser"].close()
    assert "training step 1 of 6; weights of step 1" in seen[1] and " ms (" in seen[1]
    assert "training step 4 of 6; weights of step 4" in seen[4]


def test_live_viewer_only_on_rank_0_and_checks_options():
    live = LiveViewer(port=0)
    live(SimpleNamespace(dist=DistContext(rank=1, world_size=2)), 1)
    assert live.viewer is None and live.snapshot is None
    with pytest.raises(QuadfreeError, match="port 70000"):
        LiveViewer(port=70000)
    with pytest.raises(QuadfreeError, match="every_seconds 0"):
        LiveViewer(every_seconds=0)


def test_train_viewer_cli(scene, tmp_path, capsys):
    port = free_port()
    args = ["train", "--method", "nerf", "--data", str(scene), "--out", str(tmp_path / "run"),
            "--iters", "2", "--viewer", "--viewer-port", str(port)]
    args += [f"--set={k}={v}" for k, v in TINY.items()] + ["--set", "val_views=0"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"viewer at http://127.0.0.1:{port}" in out and "trained nerf for 2 steps" in out
    assert (tmp_path / "run" / "checkpoint.pt").is_file() and _refused(port)
    bad = ["train", "--data", str(scene), "--out", str(tmp_path / "bad"), "--iters", "1",
           "--viewer", "--viewer-every", "-1"]
    assert main(bad) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--viewer-every" in err[0]
