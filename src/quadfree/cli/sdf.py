"""``quadfree sdf``: fit a signed distance function with the explicit Taylor layer or an MLP."""

from __future__ import annotations

import argparse
import json

from quadfree.cli.common import add_runtime_options, apply_threads

HELP = "fit a signed distance function (Taylor layer or MLP)"


def register(sub: argparse._SubParsersAction) -> None:
    from quadfree.sdf.experiment import SdfConfig
    from quadfree.sdf.fit import FitConfig
    from quadfree.sdf.options import add_model_options
    from quadfree.sdf.shapes import SHAPE_NAMES

    f = FitConfig()
    parser = sub.add_parser(
        "sdf", help=HELP,
        description="Fit a signed distance function to DeepSDF-style samples of a mesh or a "
                    "built-in shape with the mean absolute error: the explicit FC²T² layer "
                    "(full batch) or a DeepSDF-style MLP. Writes mesh.ply, figure.png, "
                    "metrics.json and checkpoint.pt into --out.")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--shape", choices=SHAPE_NAMES, help="built-in shape with an exact SDF")
    src.add_argument("--mesh", metavar="FILE", help="watertight OBJ, PLY or STL mesh")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--model", choices=["taylor", "mlp"], default="taylor",
                        help="model (default %(default)s)")
    parser.add_argument("--level", type=int, default=SdfConfig().level,
                        help="Taylor: expansion level (default %(default)s)")
    parser.add_argument("--fixed-sources", action="store_true",
                        help="Taylor: keep the sources on their grid, fit only the weights")
    parser.add_argument("--epochs", type=int, default=f.epochs, help="most epochs")
    parser.add_argument("--seconds", type=float, default=f.seconds,
                        help="training-time budget in seconds (0: none)")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (default 3e-2 for taylor, 1e-3 for mlp)")
    parser.add_argument("--lr-sources", type=float, default=f.lr_sources,
                        help="Taylor: learning rate of the source positions")
    parser.add_argument("--batch", type=int, default=f.batch, help="MLP mini-batch")
    parser.add_argument("--resume", action="store_true",
                        help="continue from --out/checkpoint.pt")
    add_model_options(parser)
    add_runtime_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from quadfree.device import resolve_device
    from quadfree.sdf.experiment import load_target, run_sdf
    from quadfree.sdf.options import config_from
    from quadfree.seeding import seed_everything

    device = resolve_device(args.device)
    apply_threads(args)
    seed_everything(args.seed)
    cfg = config_from(args, args.model)
    target = load_target(shape=args.shape, mesh=args.mesh)
    metrics = run_sdf(target, cfg, args.out, resume=args.resume, quiet=args.quiet,
                      device=device)
    print(json.dumps({k: v for k, v in metrics.items() if k != "config"}, indent=2))
    return 0
