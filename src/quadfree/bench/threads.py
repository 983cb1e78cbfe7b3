"""``quadfree bench threads``: render seconds per frame of NeRF and AutoInt per torch thread
count, side by side in one process: the measurement behind the one thread policy
(:mod:`quadfree.threads`).

Every (model, thread count) pair renders the same frame in turn, ``--repeats`` rounds, so a
change in the machine's load hits all of them alike. Rendering cost does not depend on the
weights, so freshly built models (the methods' CPU defaults) stand in for trained ones. Run it
once on an idle machine and once with other work running; the JSON records the load average
before and after.

JSON: ``{"rows": [{"model", "threads", "s_per_frame" (median), "s_all"}], "best": {model:
threads}, "load_before", "load_after", "machine"}``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import torch
from tqdm.auto import tqdm

from quadfree.bench.machine import machine_info
from quadfree.device import resolve_device
from quadfree.errors import QuadfreeError
from quadfree.radiance.registry import build_method
from quadfree.render.image import render_image
from quadfree.render.rays import Camera


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``quadfree bench threads`` (its ``--threads`` is ignored: it tries each of
    ``--counts``)."""
    parser.add_argument("--res", type=int, default=100,
                        help="frame size R×R (default 100, not the scenes' 64: the size of "
                             "the eval measurement in issue 11)")
    parser.add_argument("--counts", default=None,
                        help="comma-separated thread counts (default 1,2,…,cores)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--sections", type=int, default=8, help="AutoInt N (default 8)")
    parser.add_argument("--quick", action="store_true", help="48×48 frames, 2 rounds")


def _counts(text: str | None) -> list[int]:
    if text is None:
        return list(range(1, (os.cpu_count() or 1) + 1))
    try:
        counts = [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        raise QuadfreeError(f"--counts {text!r}: expected e.g. 1,2") from None
    if not counts or min(counts) < 1:
        raise QuadfreeError(f"--counts {text!r}: need positive integers")
    return counts


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-ready result."""
    if args.quick:
        args.res, args.repeats = 48, 2
    if args.res < 4 or args.repeats < 1:
        raise QuadfreeError(f"--res {args.res} / --repeats {args.repeats}: need res >= 4 and "
                            "repeats >= 1")
    counts = _counts(args.counts)
    device = resolve_device(args.device)
    torch.manual_seed(args.seed)
    models = {"NeRF": build_method("nerf", {})[0],
              f"AutoInt N={args.sections}": build_method("autoint",
                                                         {"sections": str(args.sections)})[0]}
    pose = torch.eye(4)
    pose[2, 3] = 4.0
    cam = Camera(args.res, args.res, 1.2 * args.res, pose)
    before = os.getloadavg()
    seconds: dict[tuple[str, int], list[float]] = {}
    original = torch.get_num_threads()
    start = time.perf_counter()
    try:
        for _ in tqdm(range(args.repeats), disable=args.quiet, desc="rounds"):
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
    return {"benchmark": "threads", "resolution": [args.res, args.res],
            "repeats": args.repeats, "counts": counts, "rows": rows, "best": best,
            "load_before": [round(x, 2) for x in before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "total_seconds": round(time.perf_counter() - start, 1),
            "machine": machine_info(device)}
