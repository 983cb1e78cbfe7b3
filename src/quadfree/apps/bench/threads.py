"""``quadfree bench threads``: render seconds per frame of NeRF and AutoInt per torch thread
count, side by side in one process: the measurement behind the one thread policy
(:mod:`quadfree.threads`).

Every (model, thread count) pair renders the same frame in turn, ``repeats`` rounds, so a
change in the machine's load hits all of them alike. Rendering cost does not depend on the
weights, so freshly built models (the methods' CPU defaults) stand in for trained ones. Run it
once on an idle machine and once with other work running; the JSON records the load average
before and after.

JSON: ``{"rows": [{"model", "threads", "s_per_frame" (median), "s_all"}], "best": {model:
threads}, "load_before", "load_after", "machine"}``.

Typed entry point: :func:`run_benchmark` with :class:`ThreadsBenchOptions`; the flags live in
:mod:`quadfree.cli.bench_threads`.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, replace
from typing import Any

import torch
from tqdm.auto import tqdm

from quadfree.errors import QuadfreeError
from quadfree.machine import machine_info
from quadfree.radiance.registry import build_method
from quadfree.render.image import render_image
from quadfree.render.rays import Camera


@dataclass
class ThreadsBenchOptions:
    """What ``quadfree bench threads`` runs (typed; the CLI builds it from its flags).

    Attributes:
        res: frame size R×R (100, not the scenes' 64: the size of the eval measurement in
            issue 11).
        counts: thread counts to try (None: 1, 2, …, cores).
        repeats: rounds.
        sections: AutoInt N.
        quick: 48×48 frames, 2 rounds.
        seed, device, progress: as everywhere.
    """

    res: int = 100
    counts: tuple[int, ...] | None = None
    repeats: int = 3
    sections: int = 8
    quick: bool = False
    seed: int = 0
    device: torch.device | str = "cpu"
    progress: bool = True


def run_benchmark(opts: ThreadsBenchOptions) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-ready result.

    Example:
        >>> run_benchmark(ThreadsBenchOptions(counts=(0,)))
        Traceback (most recent call last):
        ...
        quadfree.errors.QuadfreeError: counts (0,): need positive integers
    """
    if opts.quick:
        opts = replace(opts, res=48, repeats=2)
    if opts.res < 4:
        raise QuadfreeError(f"res {opts.res}: need at least 4", param="res")
    if opts.repeats < 1:
        raise QuadfreeError(f"repeats {opts.repeats}: need at least 1", param="repeats")
    counts = (list(range(1, (os.cpu_count() or 1) + 1)) if opts.counts is None
              else list(opts.counts))
    if not counts or min(counts) < 1:
        raise QuadfreeError(f"counts {tuple(counts)}: need positive integers", param="counts")
    device = torch.device(opts.device)
    torch.manual_seed(opts.seed)
    models = {"NeRF": build_method("nerf", {})[0],
              f"AutoInt N={opts.sections}": build_method("autoint",
                                                         {"sections": opts.sections})[0]}
    pose = torch.eye(4)
    pose[2, 3] = 4.0
    cam = Camera(opts.res, opts.res, 1.2 * opts.res, pose)
    before = os.getloadavg()
    seconds: dict[tuple[str, int], list[float]] = {}
    original = torch.get_num_threads()
    start = time.perf_counter()
    try:
        for _ in tqdm(range(opts.repeats), disable=not opts.progress, desc="rounds"):
            for name, model in models.items():
                model.to(device).eval()
                for n in counts:
                    torch.set_num_threads(n)
                    out = render_image(model, cam, device=device)
                    seconds.setdefault((name, n), []).append(out["seconds"])
    finally:
        torch.set_num_threads(original)
    rows = [{"model": name, "threads": n, "s_per_frame": round(statistics.median(v), 4),
             "s_all": [round(s, 4) for s in v]} for (name, n), v in seconds.items()]
    best = {name: min((r for r in rows if r["model"] == name),
                      key=lambda r: r["s_per_frame"])["threads"] for name in models}
    return {"benchmark": "threads", "resolution": [opts.res, opts.res],
            "repeats": opts.repeats, "counts": counts, "rows": rows, "best": best,
            "load_before": [round(x, 2) for x in before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "total_seconds": round(time.perf_counter() - start, 1),
            "machine": machine_info(device)}
