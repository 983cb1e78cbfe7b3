"""Reliability (issue 11) and the newcomer's path (issue 18): no code from data files, full and
read-only disks, overwrite refusal, locks, kill -9, inputs checked before the work, one thread
policy, a CLI that starts without torch."""

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from quadfree.cli.main import build_parser, join_negative_values, main
from quadfree.data.scenes import make_scene
from quadfree.errors import QuadfreeError
from quadfree.outputs import output_lock
from quadfree.safeio import load_npy
from quadfree.train import train_run
from quadfree.train.checkpoint import load_checkpoint

TINY = {"width": 16, "depth": 2, "skips": "", "n_coarse": 8, "n_fine": 8, "pos_freqs": 4,
        "dir_freqs": 2}
TRAIN = {"batch_rays": 32, "val_every": 0, "val_views": 0, "ckpt_every": 2, "lr": 5e-3}
SETS = [x for k, v in {**TINY, **TRAIN}.items() for x in ("--set", f"{k}={v}")]
QUIET = ["--quiet", "--device", "cpu"]
ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_WAIT_POLICY": "PASSIVE"}


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("scene") / "objects"
    make_scene("objects", out, res=12, seed=0, sizes={"train": 3, "val": 1, "test": 3},
               progress=False)
    return out


@pytest.fixture(scope="module")
def run_dir(scene, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    train_run("nerf", scene, out, method_overrides=TINY, train_overrides={**TRAIN, "iters": 2},
              progress=False)
    return out


def one_error_line(capsys, *needles: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("quadfree ") and ": error: " in err[0], err
    for needle in needles:
        assert needle in err[0], err
    return err[0]


# -- 1. no code from data files ----------------------------------------------------------------
class Evil:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def write_evil_npy(path: Path, marker: Path) -> None:
    """An NPY file of dtype object whose data is a pickle that runs a command when loaded with
    ``allow_pickle`` (written by hand: the project never enables pickles)."""
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "|O", "fortran_order": False,
                                                  "shape": (2,)})
        pickle.dump(np.array([Evil(marker), 1], dtype=object), fh, protocol=3)


def test_the_crafted_pickles_would_run_code(tmp_path):
    # the control: an unsafe loader does run them, so the tests below can fail
    marker = tmp_path / "ran"
    (tmp_path / "p.pkl").write_bytes(pickle.dumps(Evil(marker)))
    subprocess.run([sys.executable, "-c", "import pickle,sys; "
                    "pickle.load(open(sys.argv[1], 'rb'))", str(tmp_path / "p.pkl")], check=True)
    assert marker.exists()
    marker.unlink()
    write_evil_npy(tmp_path / "a.npy", marker)
    subprocess.run([sys.executable, "-c", "import numpy as np,sys; "
                    "np.load(sys.argv[1], allow_pickle=bool(1))", str(tmp_path / "a.npy")],
                   check=True)
    assert marker.exists()


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_crafted_checkpoint_never_runs(run_dir, tmp_path, capsys, how):
    bad = tmp_path / "bad"
    bad.mkdir()
    marker = tmp_path / "ran"
    state = {**load_checkpoint(run_dir), "model": Evil(marker)}
    if how == "pickle":
        (bad / "checkpoint.pt").write_bytes(pickle.dumps(state))
    else:
        torch.save(state, bad / "checkpoint.pt")
    for argv in (["eval", "--run", str(bad), "--json", str(tmp_path / "e.json")],
                 ["render", "--run", str(bad), "--out", str(tmp_path / "r")],
                 ["train", "--resume", "--out", str(bad)]):
        assert main([*argv, *QUIET]) == 2
        line = one_error_line(capsys, "checkpoint.pt")
        assert "refused to load" in line or "not a readable checkpoint" in line
        assert not marker.exists()
    assert not (tmp_path / "r").exists() and not (tmp_path / "e.json").exists()


def test_crafted_npy_never_runs_in_any_reader(scene, tmp_path, capsys):
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.npy"
    write_evil_npy(evil, marker)
    angles = tmp_path / "angles.txt"
    angles.write_text("0,90")
    sino = tmp_path / "sino.npy"
    np.save(sino, np.ones((16, 2)))
    cases = [
        ["integrate", "--data", str(evil), "--steps", "2", "--out", str(tmp_path / "i")],
        ["tomo", "--image", str(evil), "--steps", "2", "--out", str(tmp_path / "t1")],
        ["tomo", "--sinogram", str(evil), "--angles-file", str(angles), "--steps", "2",
         "--out", str(tmp_path / "t2")],
        ["tomo", "--sinogram", str(sino), "--angles-file", str(evil), "--steps", "2",
         "--out", str(tmp_path / "t3")],
    ]
    for argv in cases:
        assert main([*argv, *QUIET]) == 2
        one_error_line(capsys, "Python objects")
        assert not marker.exists()
    # a dataset's depth map
    import shutil

    data = tmp_path / "data"
    shutil.copytree(scene, data)
    (data / "train" / "r_0_depth.npy").unlink()
    write_evil_npy(data / "train" / "r_0_depth.npy", marker)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), *QUIET]) == 2
    one_error_line(capsys, "r_0_depth.npy")
    assert not marker.exists() and not (tmp_path / "run").exists()


def test_crafted_taylor_cache_is_recomputed_not_run(tmp_path):
    from quadfree.taylor import operators

    marker = tmp_path / "ran"
    import zipfile

    with zipfile.ZipFile(tmp_path / "c.npz", "w") as z:
        with z.open("separable.npy", "w") as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "|O", "fortran_order": False,
                                                      "shape": (1,)})
            pickle.dump(np.array([Evil(marker)], dtype=object), fh, protocol=3)
    assert operators._load(tmp_path / "c.npz", 3, 2, 2, "lstsq", 1) is None
    assert not marker.exists()


def test_checkpoints_hold_only_tensors_and_plain_data(run_dir):
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)      # no allow-list needed
    assert isinstance(state["rng"]["numpy"][1], torch.Tensor)


def test_old_checkpoint_with_numpy_rng_state_loads_and_resumes(scene, tmp_path):
    out = tmp_path / "old"
    train_run("nerf", scene, out, method_overrides=TINY, train_overrides={**TRAIN, "iters": 2},
              progress=False)
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    np.random.seed(3)
    state["rng"]["numpy"] = np.random.get_state()       # how older versions stored it
    torch.save(state, out / "checkpoint.pt")
    loaded = load_checkpoint(out)
    assert loaded["rng"]["numpy"][1].dtype == np.uint32
    summary = train_run("", None, out, train_overrides={"iters": 3}, resume=True,
                        progress=False)
    assert summary["step"] == 3


# -- 2. full and read-only disks -----------------------------------------------------------------
@pytest.fixture
def tiny_fs(tmp_path):
    """A real 64 KiB tmpfs, filled to the last byte (as root, as CI runs); elsewhere a folder
    without write permission. Yields ``(path, kind)``; ``kind`` is "full" or "readonly"."""
    mnt = tmp_path / "fs"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                             capture_output=True).returncode == 0
    if not mounted:
        mnt.chmod(0o555)
        try:
            yield mnt, "readonly"
        finally:
            mnt.chmod(0o755)
        return
    fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    try:
        yield mnt, "full"
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


@pytest.fixture
def readonly_fs(tmp_path):
    """A read-only mount (as root); elsewhere a folder without write permission."""
    mnt = tmp_path / "ro"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,ro", "tmpfs", str(mnt)],
                      capture_output=True).returncode == 0:
        yield mnt
        subprocess.run(["umount", str(mnt)], check=True)
    else:
        mnt.chmod(0o555)
        yield mnt
        mnt.chmod(0o755)


def commands_writing_to(folder: Path, scene: Path, run_dir: Path) -> dict[str, list[str]]:
    return {
        "train": ["train", "--data", str(scene), "--iters", "2", "--out", str(folder / "run"),
                  *SETS],
        "integrate": ["integrate", "--steps", "3", "--hidden", "8", "--out",
                      str(folder / "int")],
        "tomo": ["tomo", "--phantom", "shepp-logan", "--angles", "16", "--subsample", "4",
                 "--steps", "2", "--hidden", "8", "--depth", "1", "--out", str(folder / "ct")],
        "scene": ["scene", "make", "fog", "--res", "8", "--out", str(folder / "data")],
        "render": ["render", "--run", str(run_dir), "--orbit", "2", "--out",
                   str(folder / "frames")],
    }


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")   # no 2nd trace
@pytest.mark.parametrize("command", ["train", "integrate", "tomo", "scene", "render"])
def test_full_disk_one_line_and_nothing_half_made(tiny_fs, scene, run_dir, capsys, command):
    folder, kind = tiny_fs
    before = sorted(p.name for p in folder.iterdir())
    argv = commands_writing_to(folder, scene, run_dir)[command]
    assert main([*argv, *QUIET]) == 2
    line = one_error_line(capsys)
    assert ("No space left" in line) if kind == "full" else ("cannot write" in line)
    assert sorted(p.name for p in folder.iterdir()) == before       # nothing half-made


@pytest.mark.parametrize("command", ["train", "integrate", "tomo", "scene", "render"])
def test_read_only_disk_refused_before_the_work(readonly_fs, scene, run_dir, capsys, command):
    argv = commands_writing_to(readonly_fs, scene, run_dir)[command]
    start = time.perf_counter()
    assert main([*argv, *QUIET]) == 2
    one_error_line(capsys, "cannot write in")
    assert time.perf_counter() - start < 30
    assert list(readonly_fs.iterdir()) == []


def test_eval_and_bench_check_json_location_first(run_dir, readonly_fs, capsys):
    assert main(["eval", "--run", str(run_dir), "--json", str(readonly_fs / "e.json"),
                 *QUIET]) == 2
    one_error_line(capsys, "--json", "cannot write in")
    assert main(["bench", "integrate", "--json", str(readonly_fs / "b.json"), *QUIET]) == 2
    one_error_line(capsys, "--json", "cannot write in")


# -- issue 18 item 1: nothing overwritten ---------------------------------------------------------
def test_commands_refuse_a_non_empty_target_unless_overwrite(scene, run_dir, tmp_path, capsys):
    target = tmp_path / "precious"
    target.mkdir()
    (target / "thesis.tex").write_text("years of work")
    cases = commands_writing_to(tmp_path, scene, run_dir)
    for command, argv in cases.items():
        argv = [a if not a.startswith(str(tmp_path)) else str(target) for a in argv]
        assert main([*argv, *QUIET]) == 2, command
        one_error_line(capsys, "exists and is not empty", "--overwrite")
        assert sorted(p.name for p in target.iterdir()) == ["thesis.tex"], command
    # --overwrite replaces it (scene make: only once the new dataset is complete)
    assert main(["scene", "make", "fog", "--res", "8", "--out", str(target), "--overwrite",
                 *QUIET]) == 0
    assert (target / "transforms_train.json").is_file() and not (target / "thesis.tex").exists()
    # a dataset is never silently replaced, even by another dataset
    assert main(["scene", "make", "fog", "--res", "8", "--out", str(target), *QUIET]) == 2
    one_error_line(capsys, "--overwrite")


def test_train_refuses_an_existing_run_unless_resume_or_overwrite(scene, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "--data", str(scene), "--iters", "2", "--out", str(run), *SETS, *QUIET]
    assert main(argv) == 0
    ckpt = (run / "checkpoint.pt").read_bytes()
    assert main(argv) == 2
    one_error_line(capsys, "already holds a run", "--resume", "--overwrite")
    assert (run / "checkpoint.pt").read_bytes() == ckpt
    assert main([*argv, "--overwrite"]) == 0
    assert load_checkpoint(run)["step"] == 2


def test_results_folders_replace_their_own_earlier_output(tmp_path, capsys):
    out = tmp_path / "int"
    argv = ["integrate", "--steps", "3", "--hidden", "8", "--out", str(out), *QUIET]
    assert main(argv) == 0
    assert main(argv) == 0                       # its own earlier result: replaced whole
    assert sorted(p.name for p in out.iterdir()) == ["integrals.json", "integrate.png"]


# -- 4. kill -9, locks, a directory that is not a run ---------------------------------------------
def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 240.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def _cli(*argv: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "quadfree.cli.main", *argv, *QUIET],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _partial_files(parent: Path, name: str, pattern: str) -> bool:
    return any(True for d in parent.glob(f".{name}.*") for _ in d.rglob(pattern))


def test_kill_9_during_scene_make_leaves_no_partial_dataset(tmp_path):
    out = tmp_path / "data"
    proc = _cli("scene", "make", "fog", "--res", "16", "--out", str(out))
    _wait_for(lambda: _partial_files(tmp_path, "data", "r_*.png"), proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    # the next run into the same place cleans the killed run's work folder away
    assert main(["scene", "make", "fog", "--res", "8", "--out", str(out), *QUIET]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_kill_9_during_render_leaves_no_partial_frames(run_dir, tmp_path):
    out = tmp_path / "frames"
    proc = _cli("render", "--run", str(run_dir), "--orbit", "400", "--out", str(out))
    _wait_for(lambda: _partial_files(tmp_path, "frames", "frame_*.png"), proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()


def test_two_trainings_into_one_run_one_is_refused(scene, tmp_path, capsys):
    run = tmp_path / "run"
    sets = [s.replace("ckpt_every=2", "ckpt_every=100000") for s in SETS]
    first = _cli("train", "--data", str(scene), "--iters", "100000", "--out", str(run), *sets)
    try:
        _wait_for(lambda: (tmp_path / ".run.lock").exists()
                  and any(tmp_path.glob(".run.partial-*/config.json")), first)
        assert main(["train", "--data", str(scene), "--iters", "2", "--out", str(run), *SETS,
                     *QUIET]) == 2
        one_error_line(capsys, "another quadfree process is writing there")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # killed before its first checkpoint: no run directory appeared
    assert not run.exists()
    with output_lock(run, "out"):                  # and the lock died with the process
        pass


def test_render_and_eval_on_a_directory_that_is_not_a_run(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a run")
    assert main(["render", "--run", str(tmp_path), *QUIET]) == 2
    one_error_line(capsys, "checkpoint not found")
    assert main(["eval", "--run", str(tmp_path), "--json", str(tmp_path / "e.json"),
                 *QUIET]) == 2
    one_error_line(capsys, "checkpoint not found")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


# -- 3. bounded inputs, nonsense values rejected before the work ----------------------------------
def test_npy_header_checked_before_loading(tmp_path):
    path = tmp_path / "bomb.npy"
    with open(path, "wb") as fh:              # claims 1e11 x 2 float64 (1.6 TB), holds nothing
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (10**11, 2)})
    with pytest.raises(QuadfreeError, match="over the limit"):
        load_npy(path, "--data bomb.npy")
    small = tmp_path / "short.npy"
    with open(small, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (1000, 2)})
    with pytest.raises(QuadfreeError, match="shorter than its header"):
        load_npy(small, "--data short.npy")


@pytest.mark.parametrize("argv, needle", [
    (["--set", "iters=0"], "iters 0: must be at least 1"),
    (["--iters", "0"], "iters 0: must be at least 1"),
    (["--set", "max_seconds=-1"], "max_seconds -1.0: must be >= 0"),
    (["--seed", "-1"], "--seed -1: must be an integer in [0, 4294967295]"),
])
def test_nonsense_training_values_rejected_before_work(scene, tmp_path, capsys, argv, needle):
    out = tmp_path / "run"
    assert main(["train", "--data", str(scene), "--out", str(out), *SETS, *argv, *QUIET]) == 2
    one_error_line(capsys, needle)
    assert not out.exists() and not list(tmp_path.glob(".run*"))


def test_tomo_inputs(tmp_path, capsys):
    base = ["--steps", "2", "--hidden", "8", "--depth", "1", "--subsample", "4", *QUIET]
    assert main(["tomo", "--phantom", "shepp-logan", "--angles", "100000",
                 "--out", str(tmp_path / "a"), *base]) == 2
    one_error_line(capsys, "--angles 100000: must be in [2, 4096]")
    (tmp_path / "x.png").write_text("this is not an image\nat all\n")
    assert main(["tomo", "--image", str(tmp_path / "x.png"), "--out", str(tmp_path / "b"),
                 *base]) == 2
    one_error_line(capsys, "cannot read image")
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[4:12, 4:12] = (200, 100, 0)
    iio.imwrite(tmp_path / "rgb.png", rgb)
    assert main(["tomo", "--image", str(tmp_path / "rgb.png"), "--angles", "16",
                 "--out", str(tmp_path / "c"), *base]) == 0
    out = capsys.readouterr().out
    assert "note: colour image converted to grey by averaging its R, G, B channels" in out
    notes = json.loads((tmp_path / "c" / "metrics.json").read_text())["notes"]
    assert any("colour image" in n for n in notes)


def test_bench_autoint_on_a_dataset_without_depth_maps(scene, tmp_path, capsys):
    import shutil

    data = tmp_path / "captured"
    shutil.copytree(scene, data)
    for p in data.rglob("*_depth.npy"):
        p.unlink()
    out = tmp_path / "b.json"
    assert main(["bench", "autoint", "--data", str(data), "--iters", "2", "--sections", "4",
                 "--consistency-weight", "0", "--eval-views", "3", "--set", "batch_rays=32",
                 "--autoint-set", "hidden=16", "--json", str(out), *QUIET]) == 0
    result = json.loads(out.read_text())
    assert result["view_consistency_surface"] == "rendered by NeRF"
    assert "no depth maps" in result["notes"][0]
    assert {r["label"] for r in result["rows"]} == {"NeRF", "AutoInt N=4"}
    assert all("cv_median" in r["view_consistency"] for r in result["rows"])
    # a dataset the benchmark cannot use is refused before the first model trains
    capsys.readouterr()
    start = time.perf_counter()
    assert main(["bench", "autoint", "--data", str(tmp_path / "none"), "--iters", "2",
                 "--json", str(tmp_path / "c.json"), *QUIET]) == 2
    one_error_line(capsys, "dataset directory not found")
    assert time.perf_counter() - start < 30


# -- 5, 6 and issue 18: one thread policy, fast start, negative intervals -------------------------
def test_every_command_has_the_same_thread_default():
    from quadfree.threads import DEFAULT_THREADS

    parser = build_parser()
    seen = {}
    for name, sub in parser._subparsers._group_actions[0].choices.items():
        stack = [(name, sub)]
        while stack:
            label, p = stack.pop()
            for action in p._actions:
                if action.dest == "threads":
                    seen[label] = action.default
                if isinstance(action, type(parser._subparsers._group_actions[0])):
                    stack += [(f"{label} {k}", v) for k, v in action.choices.items()]
    assert set(seen.values()) == {DEFAULT_THREADS}
    assert {"train", "eval", "render", "demo", "integrate", "tomo", "view",
            "bench autoint"} <= set(seen)


def test_help_and_argument_errors_do_not_import_torch():
    code = ("import sys, contextlib, io\n"
            "from quadfree.cli.main import main\n"
            "for argv in (['--help'], ['train', '--bogus'], ['integrate', '--help'],\n"
            "             ['tomo', '--bogus'], ['bench', '--help'], ['scene', 'make', '--help'],\n"
            "             ['sdf', '--help'], ['sdf', '--bogus'], ['view', '--help'],\n"
            "             ['view', '--bogus']):\n"
            "    with contextlib.redirect_stdout(io.StringIO()), \\\n"
            "            contextlib.redirect_stderr(io.StringIO()):\n"
            "        try:\n"
            "            main(argv)\n"
            "        except SystemExit:\n"
            "            pass\n"
            "print(sorted(m for m in ('torch', 'numpy', 'scipy') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_cli_literals_match_the_library():
    from quadfree.apps.signals import BUILTINS
    from quadfree.autoint.fit1d import Fit1DConfig
    from quadfree.cli import integrate, scene, tomo, train
    from quadfree.data.scenes import DEFAULT_RES, SCENES
    from quadfree.fields import ACTIVATIONS
    from quadfree.radiance.registry import METHODS
    from quadfree.tomo.experiment import ModelConfig
    from quadfree.tomo.taylor_model import TaylorCTConfig
    from quadfree.tomo.train import SinogramTrainConfig

    assert train.METHOD_NAMES == sorted(METHODS)
    assert scene.SCENE_NAMES == sorted(SCENES) and scene.DEFAULT_RES == DEFAULT_RES
    assert integrate.SIGNAL_NAMES == sorted(BUILTINS)
    assert integrate.FIT_DEFAULTS == {k: getattr(Fit1DConfig(), k) for k in integrate.FIT_DEFAULTS}
    assert tomo.SMOOTH == sorted(a for a in ACTIVATIONS if a != "relu")
    assert tomo.MODEL_DEFAULTS == {k: getattr(ModelConfig(), k) for k in tomo.MODEL_DEFAULTS}
    assert tomo.TAYLOR_DEFAULTS == {k: getattr(TaylorCTConfig(), k) for k in tomo.TAYLOR_DEFAULTS}
    train = SinogramTrainConfig()
    assert tomo.TRAIN_DEFAULTS == {k: getattr(train, k) for k in tomo.TRAIN_DEFAULTS}


def test_negative_intervals_parse_as_written(tmp_path, capsys):
    assert join_negative_values(["--interval", "-1,-0.2", "--domain", "-2,2"]) == [
        "--interval=-1,-0.2", "--domain=-2,2"]
    out = tmp_path / "int"
    assert main(["integrate", "--steps", "3", "--hidden", "8", "--interval", "-1,-0.2",
                 "--out", str(out), *QUIET]) == 0
    rows = json.loads((out / "integrals.json").read_text())["rows"]
    assert [round(rows[-1]["a"], 6), round(rows[-1]["b"], 6)] == [-1.0, -0.2]


def test_bench_threads_measures_every_model_and_count(tmp_path):
    out = tmp_path / "threads.json"
    threads = torch.get_num_threads()
    assert main(["bench", "threads", "--res", "8", "--repeats", "1", "--counts", "1,2",
                 "--json", str(out), *QUIET]) == 0
    result = json.loads(out.read_text())
    assert {(r["model"], r["threads"]) for r in result["rows"]} == {
        ("NeRF", 1), ("NeRF", 2), ("AutoInt N=8", 1), ("AutoInt N=8", 2)}
    assert all(r["s_per_frame"] > 0 for r in result["rows"]) and "machine" in result
    assert torch.get_num_threads() == threads                       # restored afterwards


# -- merge of reliability with the error policy: library errors name parameters, CLI shows flags --
def test_library_output_errors_show_the_commands_flags(tmp_path, capsys):
    from quadfree.cli.main import error_line
    from quadfree.outputs import prepare_output_dir

    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "a.txt").write_text("x")
    with pytest.raises(QuadfreeError) as err:
        prepare_output_dir(folder, "run_dir", hint="another run_dir", hint_params=("run_dir",))
    assert err.value.param == ("run_dir", "run_dir")
    line = error_line("bench", err.value, build_parser(["bench", "autoint", "--json", "x"]))
    assert line.count("--run ") == 2 and "run_dir" not in line, line
    np.save(tmp_path / "s.npy", np.ones((8, 3)))
    assert main(["tomo", "--sinogram", str(tmp_path / "s.npy"), "--angles-file",
                 str(tmp_path / "none.txt"), "--out", str(tmp_path / "t"), *QUIET]) == 2
    one_error_line(capsys, "--angles-file", "no such file")
