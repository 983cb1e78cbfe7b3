"""``quadfree scene make NAME --out DIR [--res R] [--seed S]``: write a procedural dataset."""

from __future__ import annotations

import argparse

from quadfree.cli.common import add_runtime_options

HELP = "generate procedural Blender-format scenes"
SCENE_NAMES = ["fog", "objects"]     # == sorted(quadfree.data.scenes.SCENES) (tested)
DEFAULT_RES = 64                     # the one scene resolution default (demo, benchmarks)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("scene", help=HELP,
                            description="Procedural scenes written as complete Blender-format "
                                        "datasets (train 100 / val 10 / test 20 views).")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    make = actions.add_parser("make", help="generate a scene dataset",
                              description="Generate NAME into --out (atomically: the folder "
                                          "appears complete or not at all). An existing "
                                          "non-empty --out is refused unless --overwrite. "
                                          "Generation always uses one torch thread.")
    make.add_argument("name", choices=SCENE_NAMES, help="fog (volume) or objects (solids)")
    make.add_argument("--out", required=True, metavar="DIR", help="dataset directory to write")
    make.add_argument("--res", type=int, default=DEFAULT_RES,
                      help="image size R×R (default %(default)s, as in the demo and benchmarks)")
    make.add_argument("--overwrite", action="store_true",
                      help="replace an existing non-empty --out (only once the new dataset is "
                           "complete)")
    add_runtime_options(make, threads=None)
    make.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from quadfree.data.scenes import make_scene
    from quadfree.outputs import output_lock, prepare_output_dir, remove_stale_staging

    prepare_output_dir(args.out, "--out", overwrite=args.overwrite, hint="--overwrite")
    with output_lock(args.out, "--out"):
        remove_stale_staging(args.out)
        meta = make_scene(args.name, args.out, res=args.res, seed=args.seed,
                          progress=not args.quiet)
    extra = "".join(f", {k} {v:.2g}" for k, v in meta.items() if k.startswith("quadrature"))
    print(f"wrote {args.name} ({args.res}x{args.res}, seed {args.seed}) to {args.out} "
          f"in {meta['seconds']:.1f} s{extra}")
    return 0
