"""``quadfree scene make NAME --out DIR [--res R] [--seed S]``: write a procedural dataset."""

from __future__ import annotations

import argparse

from quadfree.cli.common import add_runtime_options
from quadfree.data.scenes import SCENES, make_scene


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("scene", help="generate procedural Blender-format scenes",
                            description="Procedural scenes written as complete Blender-format "
                                        "datasets (train 100 / val 10 / test 20 views).")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    make = actions.add_parser("make", help="generate a scene dataset",
                              description="Generate NAME into --out (atomically).")
    make.add_argument("name", choices=sorted(SCENES), help="fog (volume) or objects (solids)")
    make.add_argument("--out", required=True, metavar="DIR", help="dataset directory to write")
    make.add_argument("--res", type=int, default=100, help="image size R×R (default 100)")
    add_runtime_options(make, threads=None)
    make.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    meta = make_scene(args.name, args.out, res=args.res, seed=args.seed, progress=not args.quiet)
    extra = "".join(f", {k} {v:.2g}" for k, v in meta.items() if k.startswith("quadrature"))
    print(f"wrote {args.name} ({args.res}x{args.res}, seed {args.seed}) to {args.out} "
          f"in {meta['seconds']:.1f} s{extra}")
    return 0
