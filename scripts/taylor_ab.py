"""A/B of the FC²T² expansion in one process: this tree vs a base commit, interleaved.

The base commit's ``taylor/expansion.py``, ``compact.py``, ``scatter.py`` and ``passes.py`` are
loaded beside the current ones (``git show BASE:…``; every other module is shared), then
``FC2T2.expand`` of
the same sources runs old, new, old, new … and the medians and their ratio are printed.

    .venv/bin/python scripts/taylor_ab.py --base d950551 --n 1e6 --levels 5 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import torch

from quadfree.taylor import FC2T2

FILES = ("passes", "scatter", "compact", "expansion")


def _load_base(ref: str) -> type:
    mods = {}
    for name in FILES:
        src = subprocess.run(["git", "show", f"{ref}:src/quadfree/taylor/{name}.py"],
                             check=True, capture_output=True, text=True).stdout
        src = src.replace("from quadfree.taylor.passes import", "from qf_base_passes import")
        src = src.replace("cache=True", "cache=False")        # exec'd source: no cache file
        mod = type(sys)(f"qf_base_{name}")
        sys.modules[mod.__name__] = mod
        exec(compile(src, f"{ref}:{name}.py", "exec"), mod.__dict__)
        mods[name] = mod
    for mod in (mods["compact"], mods["expansion"]):
        for attr in ("compact", "passes", "scatter"):
            if hasattr(mod, attr) and attr in mods:
                setattr(mod, attr, mods[attr])
    return mods["expansion"].FC2T2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="d950551")
    ap.add_argument("--n", type=float, default=1e6)
    ap.add_argument("--levels", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    n, lev = int(args.n), args.levels
    alpha = 0.5 / (2.0 / 2 ** (lev + 1)) ** 2                 # the bench's α·h² = 0.5
    kernel = f"exp(-{alpha:g}*(x**2+y**2+z**2))"
    g = torch.Generator().manual_seed(0)
    p = torch.rand(1, n, 3, generator=g) * 2 - 1
    w = torch.rand(1, 1, n, generator=g)
    S = {"base": _load_base(args.base)(kernel, levels=lev, order=4),
         "new": FC2T2(kernel, levels=lev, order=4)}
    out = {k: s.expand(p, w).coeffs for k, s in S.items()}          # warm-up, compile
    diff = float((out["new"] - out["base"]).abs().max() / out["base"].abs().max())
    times: dict[str, list[float]] = {"base": [], "new": []}
    for _ in range(args.repeats):
        for k in ("base", "new"):
            t = time.perf_counter()
            S[k].expand(p, w)
            times[k].append(time.perf_counter() - t)
    mb, mn = (statistics.median(times[k]) for k in ("base", "new"))
    print(f"level {lev}, N = {n}, one thread: base {args.base} {mb:.3f} s, new {mn:.3f} s "
          f"(medians of {args.repeats}), ratio {mb / mn:.2f}x; max |new - base| / max|base| "
          f"= {diff:.1e}")
    print({k: [round(x, 3) for x in v] for k, v in times.items()})


if __name__ == "__main__":
    main()
