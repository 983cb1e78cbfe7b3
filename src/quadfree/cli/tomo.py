"""``quadfree tomo``: sparse-view CT with AutoInt against FBP, SART and linear interpolation."""

from __future__ import annotations

import argparse
import json

from quadfree.cli.common import add_runtime_options, apply_threads

HELP = "sparse-view CT: fill in missing angles with AutoInt"
OWN_FILES = ("figure.png", "metrics.json", "arrays.npz")    # what tomo writes into --out


# Kept here so that `quadfree tomo --help` starts without torch; a test checks that they equal
# the smooth entries of quadfree.fields.ACTIVATIONS and the tomo ModelConfig / TrainConfig.
SMOOTH = ["sigmoid", "sine", "softplus", "swish", "tanh"]
MODEL_DEFAULTS = {"activation": "sine", "hidden": 64, "depth": 4}
TRAIN_DEFAULTS = {"steps": 2500, "lr": 1e-3, "consistency": 0.0}

# library parameters whose names differ from this command's flags
PARAM_FLAGS = {"count": "--angles"}


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Options of the AutoInt model and its training, shared with ``quadfree bench tomo``."""
    m, t = MODEL_DEFAULTS, TRAIN_DEFAULTS
    parser.add_argument("--activation", choices=SMOOTH, default=m["activation"],
                        help="activation of the integral network (default %(default)s)")
    parser.add_argument("--hidden", type=int, default=m["hidden"], help="hidden width")
    parser.add_argument("--depth", type=int, default=m["depth"], help="hidden layers")
    parser.add_argument("--steps", type=int, default=t["steps"], help="Adam steps")
    parser.add_argument("--lr", type=float, default=t["lr"], help="initial learning rate")
    parser.add_argument("--consistency", type=float, default=t["consistency"],
                        help="weight of the same-point-from-every-angle penalty (0: off)")


def configs(args: argparse.Namespace):
    """Model and training configuration ``(ModelConfig, SinogramTrainConfig)`` from parsed
    options."""
    from quadfree.errors import QuadfreeError
    from quadfree.tomo.experiment import ModelConfig
    from quadfree.tomo.train import SinogramTrainConfig

    for name in ("hidden", "depth", "steps"):
        if getattr(args, name) < 1:
            raise QuadfreeError(f"--{name} {getattr(args, name)}: must be at least 1")
    if not args.lr > 0:
        raise QuadfreeError(f"--lr {args.lr}: must be positive")
    return (ModelConfig(activation=args.activation, hidden=args.hidden, depth=args.depth),
            SinogramTrainConfig(steps=args.steps, lr=args.lr, consistency=args.consistency,
                                seed=args.seed))


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "tomo", help=HELP,
        description="Train an AutoInt sinogram model on a sparse set of views, fill in the "
                    "missing angles, reconstruct with FBP and compare with FBP and SART from "
                    "the sparse views. Writes figure.png, metrics.json and arrays.npz into "
                    "--out (the folder appears complete or not at all; an earlier tomo result "
                    "there is replaced, any other non-empty folder is refused unless --overwrite).")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--phantom", choices=["shepp-logan"], help="built-in phantom")
    src.add_argument("--image", metavar="PNG|NPY", help="square non-negative image")
    src.add_argument("--sinogram", metavar="NPY",
                     help="measured sinogram (detectors × angles); needs --angles-file")
    parser.add_argument("--angles-file", metavar="TXT|NPY",
                        help="angles in degrees of the --sinogram columns")
    parser.add_argument("--size", type=int, choices=[64, 128], default=64,
                        help="phantom size (default %(default)s)")
    parser.add_argument("--angles", type=int, default=128,
                        help="full scan: angles over [0, 180) for phantom/image input "
                             "(default %(default)s, at most 4096)")
    sel = parser.add_mutually_exclusive_group()
    sel.add_argument("--subsample", type=int, help="keep every S-th angle (default 8)")
    sel.add_argument("--views", type=int, help="keep K evenly spread angles")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a non-empty --out that holds more than an earlier result")
    add_model_options(parser)
    add_runtime_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from quadfree.device import resolve_device
    from quadfree.outputs import prepare_output_dir
    from quadfree.seeding import seed_everything
    from quadfree.tomo.experiment import run_sparse_view
    from quadfree.tomo.problem import make_problem, write_outputs
    from quadfree.tomo.sinogram import select_views

    apply_threads(args)
    device = resolve_device(args.device)
    model_cfg, train_cfg = configs(args)
    prepare_output_dir(args.out, "--out", overwrite=args.overwrite, own=OWN_FILES,
                       hint="--overwrite")
    seed_everything(args.seed)
    problem = make_problem(phantom_name=args.phantom, image_path=args.image,
                           sinogram_path=args.sinogram, angles_path=args.angles_file,
                           size=args.size, num_angles=args.angles)
    subsample = 8 if args.subsample is None and args.views is None else args.subsample
    idx = select_views(problem.angles.size, subsample=subsample, views=args.views)
    for note in problem.notes:
        print(f"note: {note}")
    result = run_sparse_view(problem.sinogram, problem.angles, idx, problem.reference,
                             model_cfg, train_cfg, device=device, progress=not args.quiet)
    out = write_outputs(result, args.out, problem, {"device": str(device)})
    keys = ["views", "sinogram_psnr_autoint", "sinogram_psnr_linear", "image_psnr_fbp_sparse",
            "image_psnr_sart_sparse", "image_psnr_fbp_autoint", "train_seconds"]
    print(json.dumps({k: result.metrics[k] for k in keys}, indent=2))
    print(f"wrote {out}/figure.png, metrics.json, arrays.npz")
    return 0
