"""``quadfree sdf``: fit a signed distance function with the explicit Taylor layer or an MLP."""

from __future__ import annotations

import argparse
import json

from quadfree.cli.common import add_runtime_options, apply_threads

HELP = "fit a signed distance function (Taylor layer or MLP)"

# Kept here so that `quadfree sdf --help` starts without torch; a test checks that they equal
# quadfree.sdf's SHAPE_NAMES, SdfConfig and FitConfig defaults and DEFAULT_LR.
SHAPE_NAMES = ["sphere", "box", "torus", "capsule", "objects"]
MODEL_NAMES = ["taylor", "mlp"]
MODEL_DEFAULTS = {"level": 4, "alpha_h2": 0.5, "sources_per_cell": 1, "mlp_depth": 8,
                  "mlp_width": 128, "samples": 250_000, "test_samples": 50_000,
                  "resolution": 128}
FIT_DEFAULTS = {"epochs": 200, "seconds": 0.0, "lr_sources": 1e-3, "batch": 16384}
DEFAULT_LR = {"taylor": 3e-2, "mlp": 1e-3}


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Model and sampling options, shared with ``quadfree bench sdf``."""
    d = MODEL_DEFAULTS
    parser.add_argument("--alpha-h2", type=float, default=d["alpha_h2"],
                        help="Taylor: Gaussian α times h² (h: finest cell width; default "
                             "%(default)s)")
    parser.add_argument("--sources-per-cell", type=int, default=d["sources_per_cell"],
                        help="Taylor: sources per cell and axis (default %(default)s)")
    parser.add_argument("--mlp-depth", type=int, default=d["mlp_depth"],
                        help="MLP: hidden layers (default %(default)s)")
    parser.add_argument("--mlp-width", type=int, default=d["mlp_width"],
                        help="MLP: hidden width (default %(default)s; DeepSDF: 512)")
    parser.add_argument("--samples", type=int, default=d["samples"],
                        help="training samples (default %(default)s)")
    parser.add_argument("--test-samples", type=int, default=d["test_samples"],
                        help="held-out samples (default %(default)s)")
    parser.add_argument("--resolution", type=int, default=d["resolution"],
                        help="marching-cubes grid per axis (default %(default)s)")


def model_settings(args: argparse.Namespace) -> dict:
    """The model and sampling options as keywords of :func:`quadfree.sdf.experiment.build_config`.

    Example:
        >>> p = argparse.ArgumentParser(); add_model_options(p)
        >>> model_settings(p.parse_args(["--samples", "10"]))["samples"]
        10
    """
    return {k: getattr(args, k) for k in ("alpha_h2", "sources_per_cell", "mlp_depth",
                                          "mlp_width", "samples", "test_samples", "resolution")}


def register(sub: argparse._SubParsersAction) -> None:
    f = FIT_DEFAULTS
    parser = sub.add_parser(
        "sdf", help=HELP,
        description="Fit a signed distance function to DeepSDF-style samples of a mesh or a "
                    "built-in shape with the mean absolute error: the explicit FC²T² layer "
                    "(full batch) or a DeepSDF-style MLP. Writes mesh.ply, figure.png, "
                    "metrics.json and checkpoint.pt into --out (a non-empty --out is refused "
                    "unless --resume or --overwrite).")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--shape", choices=SHAPE_NAMES, help="built-in shape with an exact SDF")
    src.add_argument("--mesh", metavar="FILE", help="watertight OBJ, PLY or STL mesh")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--model", choices=MODEL_NAMES, default="taylor",
                        help="model (default %(default)s)")
    parser.add_argument("--level", type=int, default=MODEL_DEFAULTS["level"],
                        help="Taylor: expansion level (default %(default)s)")
    parser.add_argument("--fixed-sources", action="store_true",
                        help="Taylor: keep the sources on their grid, fit only the weights")
    parser.add_argument("--epochs", type=int, default=f["epochs"], help="most epochs")
    parser.add_argument("--seconds", type=float, default=f["seconds"],
                        help="training-time budget in seconds (0: none)")
    parser.add_argument("--lr", type=float, default=None,
                        help=f"learning rate (default {DEFAULT_LR['taylor']:g} for taylor, "
                             f"{DEFAULT_LR['mlp']:g} for mlp)")
    parser.add_argument("--lr-sources", type=float, default=f["lr_sources"],
                        help="Taylor: learning rate of the source positions")
    parser.add_argument("--batch", type=int, default=f["batch"], help="MLP mini-batch")
    parser.add_argument("--resume", action="store_true",
                        help="continue from --out/checkpoint.pt")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a non-empty --out (its files of the same names are "
                             "replaced; the fit starts afresh)")
    add_model_options(parser)
    add_runtime_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from quadfree.device import resolve_device
    from quadfree.outputs import prepare_output_dir
    from quadfree.sdf.experiment import build_config, load_target, run_sdf
    from quadfree.seeding import seed_everything

    device = resolve_device(args.device)
    apply_threads(args)
    cfg = build_config(args.model, level=args.level, learn_sources=not args.fixed_sources,
                       seed=args.seed, epochs=args.epochs, seconds=args.seconds, lr=args.lr,
                       lr_sources=args.lr_sources, batch=args.batch, **model_settings(args))
    prepare_output_dir(args.out, "--out", overwrite=args.overwrite or args.resume,
                       hint="--resume or --overwrite")
    seed_everything(args.seed)
    target = load_target(shape=args.shape, mesh=args.mesh)
    metrics = run_sdf(target, cfg, args.out, resume=args.resume, quiet=args.quiet,
                      device=device)
    print(json.dumps({k: v for k, v in metrics.items() if k != "config"}, indent=2))
    return 0
