"""The shared trainer: exact resume, Ctrl-C checkpointing, configs, and the train/render/eval
commands end to end on a tiny generated scene."""

import json
import os
import signal

import imageio.v3 as iio
import pytest
import torch

import quadfree.cli.main as cli_main
from quadfree.cli.main import main
from quadfree.data.scenes import make_scene
from quadfree.errors import QuadfreeError
from quadfree.radiance.registry import build_method
from quadfree.train import load_checkpoint, train_run
from quadfree.train.checkpoint import load_run
from quadfree.train.trainer import route_overrides

TINY = {"width": 16, "depth": 2, "skips": "", "n_coarse": 8, "n_fine": 8, "pos_freqs": 4,
        "dir_freqs": 2}
TRAIN = {"batch_rays": 32, "val_every": 3, "val_views": 1, "ckpt_every": 2, "lr": 5e-3}


@pytest.fixture(scope="module")
def tiny_scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("scene") / "objects"
    make_scene("objects", out, res=12, seed=0, sizes={"train": 3, "val": 1, "test": 2},
               progress=False)
    return out


def _train(data, out, iters, **kw):
    return train_run("nerf", data, out, method_overrides=TINY,
                     train_overrides={**TRAIN, "iters": iters}, progress=False, **kw)


def test_resume_after_ctrl_c_matches_uninterrupted(tiny_scene, tmp_path):
    _train(tiny_scene, tmp_path / "a", 6)

    def ctrl_c(trainer, step):
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)   # as if the user pressed Ctrl-C mid-run

    with pytest.raises(KeyboardInterrupt):
        _train(tiny_scene, tmp_path / "b", 6, on_step=ctrl_c)
    assert load_checkpoint(tmp_path / "b" / "checkpoint.pt")["step"] == 3
    train_run("", None, tmp_path / "b", resume=True, progress=False)

    a = load_checkpoint(tmp_path / "a" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    assert a["step"] == b["step"] == 6
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k     # bit-for-bit
    for k, st in a["optimizer"]["state"].items():
        assert torch.equal(st["exp_avg_sq"], b["optimizer"]["state"][k]["exp_avg_sq"])
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])


def test_resume_extends_iters_and_keeps_schedule(tiny_scene, tmp_path):
    _train(tiny_scene, tmp_path / "r", 2)
    first = load_checkpoint(tmp_path / "r")
    assert first["train_config"]["lr_decay_steps"] == 2
    train_run("nerf", None, tmp_path / "r", resume=True, progress=False,
              train_overrides={"iters": 4})
    state = load_checkpoint(tmp_path / "r")
    assert state["step"] == 4 and state["train_config"]["lr_decay_steps"] == 2
    with pytest.raises(QuadfreeError, match="already holds a run"):
        _train(tiny_scene, tmp_path / "r", 2)


def test_checkpoint_rebuilds_method(tiny_scene, tmp_path):
    _train(tiny_scene, tmp_path / "c", 1)
    state = load_checkpoint(tmp_path / "c")
    assert state["method"] == "nerf" and state["method_config"]["width"] == 16
    method, cfg = build_method(state["method"], state["method_config"])
    method.load_state_dict(state["model"])     # strict: every tensor accounted for
    assert cfg.skips == () and method.evals_per_ray() == 8 + 16


def test_autoint_run_saved_before_new_config_keys_rebuilds_the_same_model(tiny_scene, tmp_path):
    # runs written before train_path / normalized_encoding existed used the published
    # behaviour; loading them must not silently switch to the new defaults
    train_run("autoint", tiny_scene, tmp_path / "ai", train_overrides={**TRAIN, "iters": 1},
              method_overrides={"hidden": 16, "depth": 2, "sections": 4,
                                "normalized_encoding": "true", "train_path": "grad"},
              progress=False)
    path = tmp_path / "ai" / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    for key in ("train_path", "normalized_encoding"):
        del state["method_config"][key]
    torch.save(state, path)
    method, state = load_run(tmp_path / "ai")
    assert state["method_config"]["normalized_encoding"] is True
    assert method.config.train_path == "grad"
    assert float(method.field_net.encoding.pos_scale[-1]) < 1.0   # sin(f x)/f columns


def test_overrides_routing_and_errors():
    assert route_overrides("nerf", {"width": "8", "iters": "3"}) == ({"width": "8"},
                                                                     {"iters": "3"})
    with pytest.raises(QuadfreeError, match="unknown key"):
        route_overrides("nerf", {"widht": "8"})
    with pytest.raises(QuadfreeError, match="expected a int"):
        build_method("nerf", {"width": "wide"})
    with pytest.raises(QuadfreeError, match="unknown"):
        build_method("nope", {})


def test_cli_train_render_eval(tiny_scene, tmp_path, capsys, monkeypatch):
    # only the commands under test (others' command modules are registered separately)
    monkeypatch.setattr(cli_main, "COMMANDS", ["scene", "train", "render", "eval"])
    run = str(tmp_path / "run")
    sets = [x for k, v in {**TINY, **TRAIN}.items() for x in ("--set", f"{k}={v}")]
    assert main(["train", "--method", "nerf", "--data", str(tiny_scene), "--iters", "2",
                 "--out", run, "--quiet", *sets]) == 0
    assert main(["render", "--run", run, "--orbit", "3", "--quiet"]) == 0
    frames = sorted(p.name for p in (tmp_path / "run" / "render_orbit3").iterdir())
    assert frames == ["frame_0000.png", "frame_0001.png", "frame_0002.png", "video.mp4"]
    video = iio.imread(tmp_path / "run" / "render_orbit3" / "video.mp4", extension=".mp4")
    assert video.shape[0] == 3
    assert main(["eval", "--run", run, "--json", str(tmp_path / "e.json"), "--quiet"]) == 0
    result = json.loads((tmp_path / "e.json").read_text())
    assert len(result["images"]) == 2 and {"psnr", "ssim"} <= set(result["images"][0])
    assert result["psnr"] == pytest.approx(sum(r["psnr"] for r in result["images"]) / 2)
    assert result["evals_per_ray"] == 24 and result["s_per_frame"] > 0
    assert not any("lpips" in key for key in result)     # not offered: no null placeholders
    capsys.readouterr()
    # user mistakes: one line on stderr, exit code 2
    assert main(["train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "x"),
                 "--quiet"]) == 2
    assert main(["train", "--data", str(tiny_scene), "--out", str(tmp_path / "y"),
                 "--set", "bogus=1", "--quiet"]) == 2
    assert main(["eval", "--run", str(tmp_path / "none"), "--json", str(tmp_path / "f.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("quadfree ") for line in err)
    assert "dataset directory not found" in err[0] and "bogus" in err[1]


def test_tensorboard_missing_gives_clear_message(tiny_scene, tmp_path, caplog, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)   # not importable
    summary = train_run("nerf", tiny_scene, tmp_path / "tb", method_overrides=TINY,
                        train_overrides={**TRAIN, "iters": 1, "tensorboard": True},
                        progress=False)
    assert summary["step"] == 1
    # a logged warning (library code does not print); the CLI shows it on stderr
    assert "`tensorboard` package is not installed" in caplog.text


def test_cli_scene_and_render_split(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli_main, "COMMANDS", ["scene", "train", "render", "eval"])
    data = tmp_path / "fog"
    assert main(["scene", "make", "fog", "--out", str(data), "--res", "8", "--quiet"]) == 0
    assert "wrote fog (8x8, seed 0)" in capsys.readouterr().out
    assert len(list((data / "train").glob("r_*_depth.npy"))) == 100
    assert len(list((data / "test").glob("r_*.png"))) == 20
    run = tmp_path / "run"
    sets = [x for k, v in {**TINY, **TRAIN}.items() for x in ("--set", f"{k}={v}")]
    assert main(["train", "--data", str(data), "--iters", "1", "--out", str(run), "--quiet",
                 *sets]) == 0
    assert main(["render", "--run", str(run), "--split", "test", "--max-frames", "2",
                 "--quiet"]) == 0
    assert (run / "render_test" / "video.mp4").is_file()
    assert main(["render", "--run", str(run), "--split", "test", "--max-frames", "2",
                 "--video", "gif", "--out", str(tmp_path / "g"), "--quiet"]) == 0
    assert iio.imread(tmp_path / "g" / "video.gif", index=None).shape[0] == 2
    capsys.readouterr()
    import sys

    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)     # MP4 writer not installed
    assert main(["render", "--run", str(run), "--orbit", "2", "--video", "mp4", "--quiet"]) == 0
    assert (run / "render_orbit2" / "video.gif").is_file()       # the GIF fallback
    assert not (run / "render_orbit2" / "video.mp4").exists()
    assert main(["scene", "make", "fog", "--out", str(tmp_path / "z"), "--res", "1"]) == 2


def test_resume_rejects_method_changes(tiny_scene, tmp_path):
    _train(tiny_scene, tmp_path / "m", 1)
    with pytest.raises(QuadfreeError, match="cannot change when resuming"):
        train_run("nerf", None, tmp_path / "m", resume=True, progress=False,
                  method_overrides={"width": 32})
    with pytest.raises(QuadfreeError, match="checkpoint not found"):
        train_run("nerf", None, tmp_path / "none", resume=True, progress=False)


def test_time_budget_stops_and_validates(tiny_scene, tmp_path):
    summary = train_run("nerf", tiny_scene, tmp_path / "budget", method_overrides=TINY,
                        train_overrides={**TRAIN, "iters": 50, "max_seconds": 1e-9},
                        progress=False)
    assert summary["step"] == 1 and "val_psnr" in summary
    state = load_checkpoint(tmp_path / "budget")
    assert state["step"] == 1 and state["history"][-1]["val_psnr"] == summary["val_psnr"]


@pytest.mark.parametrize("follows_time", [False, True])
def test_time_budget_schedule(tiny_scene, tmp_path, follows_time):
    seen = []

    def record(trainer, step):
        seen.append((trainer.optimizer.param_groups[0]["lr"], trainer.history[-1]))

    train_run("nerf", tiny_scene, tmp_path / "t", method_overrides=TINY, on_step=record,
              train_overrides={**TRAIN, "val_every": 0, "iters": 100000, "max_seconds": 1.0,
                               "lr_follows_time": follows_time}, progress=False)
    lr0, lr_final = TRAIN["lr"], 2.5e-4
    steps = len(seen)
    assert 1 < steps < 100000                       # stopped by the time budget
    # the history records the learning rate each step actually used
    logged = [(lr, h) for i, (lr, h) in enumerate(seen) if h["step"] == i + 1]
    assert logged and all(h["lr"] == lr for lr, h in logged)
    last = seen[-1][0]
    if follows_time:     # ≥ half the budget spent before the last step: well down the decay
        assert lr_final <= last < lr0 * (lr_final / lr0) ** 0.5
    else:                # step-based: a few steps of 100000 leave the rate near its start
        assert last > 0.9 * lr0
