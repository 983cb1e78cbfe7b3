"""Two CPU processes with gloo on loopback: DDP training through ``torchrun`` (loss falls, one
checkpoint by rank 0, ``--resume``), and the sharded kernel sum equal to the single-process
one to round-off."""

import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from quadfree.data.scenes import make_scene
from quadfree.taylor.expansion import FC2T2
from quadfree.taylor.ops import kernel_sum
from quadfree.taylor.sharded import shard_range, sharded_expand, sharded_kernel_sum
from quadfree.train.distributed import DistContext

TINY = {"width": 16, "depth": 2, "skips": "", "n_coarse": 8, "n_fine": 0, "pos_freqs": 4,
        "dir_freqs": 2}


@pytest.fixture(scope="module")
def tiny_scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("scene") / "objects"
    make_scene("objects", out, res=12, seed=0, sizes={"train": 3, "val": 1, "test": 1},
               progress=False)
    return out


def _env():
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    env.pop("WORLD_SIZE", None)
    return env


def _torchrun(args, tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node", "2", "-m", "quadfree", "train", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300,
                          cwd=tmp_path)


def test_torchrun_ddp_trains_writes_one_checkpoint_and_resumes(tiny_scene, tmp_path):
    run = tmp_path / "run"
    sets = [x for k, v in {**TINY, "batch_rays": 64, "lr": 1e-2, "val_every": 10,
                           "ckpt_every": 10}.items() for x in ("--set", f"{k}={v}")]
    done = _torchrun(["--method", "nerf", "--data", str(tiny_scene), "--out", str(run),
                      "--iters", "40", "--quiet", "--threads", "1", *sets], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("trained nerf for 40 steps") == 1      # rank 0 alone reports
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.pt", "config.json",
                                                    "history.json"]
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    history = state["history"]
    assert state["step"] == 40 and history[0]["step"] == 1
    first, last = history[0]["loss"], history[-1]["loss"]
    assert last < 0.7 * first, (first, last)                      # reduced loss went down
    assert "val_psnr" in history[-1]
    done = _torchrun(["--out", str(run), "--resume", "--iters", "50", "--quiet",
                      "--threads", "1"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    resumed = torch.load(run / "checkpoint.pt", weights_only=False)
    assert resumed["step"] == 50
    assert resumed["history"][:len(history)] == history            # continued, not restarted
    assert resumed["train_config"]["lr_decay_steps"] == 40


def _worker(rank, world, store, data, out, results):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank,
                            world_size=world)
    try:
        # (b) sharded kernel sum: each rank expands its block of the sources
        gen = torch.Generator().manual_seed(0)
        p = torch.rand(2, 301, 2, generator=gen, dtype=torch.float64) * 1.8 - 0.9
        w = torch.randn(2, 3, 301, generator=gen, dtype=torch.float64)
        q = torch.rand(2, 50, 2, generator=gen, dtype=torch.float64) * 1.8 - 0.9
        S = FC2T2("exp(-20*(x**2+y**2))", levels=3, order=3, dim=2)
        part = shard_range(301, rank, world)
        y = sharded_kernel_sum(p[:, part], w[:, :, part], q, S)
        coeffs = sharded_expand(S, p[:, part], w[:, :, part]).coeffs
        # (a) DDP inside the trainer: shards, identical weights on every rank
        from quadfree.train.distributed import init_distributed
        from quadfree.train.trainer import Trainer, train_run

        ctx, _ = init_distributed("cpu")
        seen = {}

        def probe(trainer: Trainer, step: int) -> None:
            seen["rays"] = len(trainer.rays)
            seen["batch"] = trainer.rank_batch
            seen["ddp"] = trainer.ddp is not None

        summary = train_run("nerf", data, out, method_overrides=TINY,
                            train_overrides={"iters": 3, "batch_rays": 16, "val_every": 0},
                            progress=False, on_step=probe, dist=ctx)
        flat = torch.cat([v.flatten() for v in _last_params(out)]) if rank == 0 else None
        torch.save({"y": y, "coeffs": coeffs, "ctx": (ctx.rank, ctx.world_size),
                    "seen": seen, "summary_step": summary["step"], "params": flat},
                   results / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _last_params(out):
    return list(torch.load(out / "checkpoint.pt", weights_only=False)["model"].values())


def test_two_gloo_processes_sharded_kernel_sum_and_ddp_trainer(tiny_scene, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    mp.spawn(_worker, args=(2, tmp_path / "store", tiny_scene, tmp_path / "run", results),
             nprocs=2, join=True)
    r0, r1 = (torch.load(results / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    # (b) equal to the single-process kernel sum to round-off, on both ranks
    gen = torch.Generator().manual_seed(0)
    p = torch.rand(2, 301, 2, generator=gen, dtype=torch.float64) * 1.8 - 0.9
    w = torch.randn(2, 3, 301, generator=gen, dtype=torch.float64)
    q = torch.rand(2, 50, 2, generator=gen, dtype=torch.float64) * 1.8 - 0.9
    S = FC2T2("exp(-20*(x**2+y**2))", levels=3, order=3, dim=2)
    single = kernel_sum(p, w, q, S)
    scale = single.abs().max()
    for r in (r0, r1):
        torch.testing.assert_close(r["y"], single, rtol=0, atol=1e-12 * float(scale))
        torch.testing.assert_close(r["coeffs"], S.expand(p, w).coeffs, rtol=0, atol=1e-12)
    # ... and a single rank's share alone is far from it (the all_reduce matters)
    half = shard_range(301, 0, 2)
    alone = S.expand(p[:, half], w[:, :, half]).evaluate(q)
    assert (alone - single).abs().max() > 0.1 * scale
    # (a) DDP trainer: 2 ranks, each with half of the 3·12·12 rays, half of the batch
    assert r0["ctx"] == (0, 2) and r1["ctx"] == (1, 2)
    assert r0["seen"] == r1["seen"] == {"rays": 3 * 12 * 12 // 2, "batch": 8, "ddp": True}
    assert r0["summary_step"] == r1["summary_step"] == 3


def test_single_process_context_is_inactive():
    ctx = DistContext()
    assert ctx.is_main and not ctx.active
