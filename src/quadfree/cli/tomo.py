"""``quadfree tomo``: sparse-view CT with AutoInt or the Taylor image against FBP, SART,
MBIR and linear interpolation."""

from __future__ import annotations

import argparse
import json

from quadfree.cli.common import add_runtime_options, apply_threads

HELP = "sparse-view CT: AutoInt sinogram completion or the Taylor image"
OWN_FILES = ("figure.png", "metrics.json", "arrays.npz")    # what tomo writes into --out


# Kept here so that `quadfree tomo --help` starts without torch; a test checks that they equal
# the smooth entries of quadfree.fields.ACTIVATIONS and the tomo ModelConfig / TrainConfig.
SMOOTH = ["sigmoid", "sine", "softplus", "swish", "tanh"]
MODEL_DEFAULTS = {"activation": "sine", "hidden": 64, "depth": 4}
TRAIN_DEFAULTS = {"steps": 2500, "lr": 1e-3, "consistency": 0.0}
TAYLOR_DEFAULTS = {"iterations": 150, "tv": 5e-4, "sigma": 0.7, "spacing": 1,  # TaylorCTConfig
                   "prior_views": 64, "prior_weight": 0.03}

# library parameters whose names differ from this command's flags
PARAM_FLAGS = {"count": "--angles", "iterations": "--taylor-iterations", "tv": "--taylor-tv",
               "sigma": "--taylor-sigma", "spacing": "--taylor-spacing"}

# --method → the methods run besides FBP, SART and linear interpolation
METHOD_SETS = {"autoint": ("autoint",), "taylor": ("taylor", "mbir"),
               "taylor_autoint": ("autoint", "taylor_autoint"),
               "all": ("autoint", "taylor", "taylor_autoint", "mbir")}


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


def add_taylor_options(parser: argparse.ArgumentParser) -> None:
    """Options of the Taylor CT model, shared with ``quadfree bench tomo``."""
    c = TAYLOR_DEFAULTS
    parser.add_argument("--taylor-iterations", type=int, default=c["iterations"],
                        help="L-BFGS-B iterations of the Taylor fit (default %(default)s)")
    parser.add_argument("--taylor-tv", type=float, default=c["tv"],
                        help="total-variation weight of the Taylor fit (default %(default)s)")
    parser.add_argument("--taylor-sigma", type=float, default=c["sigma"],
                        help="Gaussian kernel width in pixels (default %(default)s)")
    parser.add_argument("--taylor-spacing", type=int, default=c["spacing"],
                        help="a centre on every S-th pixel (default %(default)s)")
    parser.add_argument("--learn-centres", action="store_true",
                        help="also fit the Taylor centres (default: fixed grid)")
    parser.add_argument("--prior-views", type=int, default=c["prior_views"],
                        help="taylor_autoint: add AutoInt's predictions at the unmeasured "
                             "ones of this many angles evenly spread over the scan's columns "
                             "(at most all of them; every unmeasured angle if those are all "
                             "measured; default %(default)s)")
    parser.add_argument("--prior-weight", type=float, default=c["prior_weight"],
                        help="taylor_autoint: weight (> 0) of a predicted line relative to "
                             "a measured one (default %(default)s)")


def taylor_config(args: argparse.Namespace):
    """The Taylor CT configuration (``TaylorCTConfig``) from parsed options (checked)."""
    from quadfree.tomo.taylor_model import TaylorCTConfig

    cfg = TaylorCTConfig(spacing=args.taylor_spacing, sigma=args.taylor_sigma,
                         learn_centres=args.learn_centres, iterations=args.taylor_iterations,
                         tv=args.taylor_tv, seed=args.seed, prior_views=args.prior_views,
                         prior_weight=args.prior_weight)
    cfg.check()
    return cfg


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
        description="Reconstruct from a sparse set of views. --method autoint (default): "
                    "train an AutoInt sinogram model, fill in the missing angles and "
                    "reconstruct with FBP. --method taylor: fit one FC²T² image (non-negative "
                    "Gaussian kernel sum) to the views by exact line integrals and show it "
                    "directly, beside svmbir's MBIR. --method taylor_autoint: the same Taylor "
                    "fit to the measured views plus AutoInt's predictions at missing angles "
                    "(one consistent image from the completed sinogram). All are compared "
                    "with FBP and SART from the sparse views. Writes figure.png, metrics.json "
                    "and arrays.npz into --out (the folder appears complete or not at all; "
                    "an earlier tomo result there is replaced, any other non-empty folder is "
                    "refused unless --overwrite).")
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
    parser.add_argument("--method", choices=sorted(METHOD_SETS), default="autoint",
                        help="autoint (default), taylor (with the svmbir MBIR peer), "
                             "taylor_autoint (AutoInt, then the Taylor image fitted to its "
                             "completion) or all")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a non-empty --out that holds more than an earlier result")
    add_model_options(parser)
    add_taylor_options(parser)
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
    taylor_cfg = taylor_config(args)
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
                             model_cfg, train_cfg, device=device, progress=not args.quiet,
                             methods=METHOD_SETS[args.method], taylor_config=taylor_cfg)
    out = write_outputs(result, args.out, problem, {"device": str(device)})
    keys = ["views", "sinogram_psnr_autoint", "sinogram_psnr_taylor",
            "sinogram_psnr_taylor_autoint", "taylor_autoint_predicted_views",
            "sinogram_psnr_linear",
            "image_psnr_fbp_sparse", "image_psnr_sart_sparse", "image_psnr_mbir",
            "image_psnr_fbp_autoint", "image_psnr_taylor", "image_psnr_taylor_autoint",
            "train_seconds", "taylor_seconds", "taylor_autoint_seconds",
            "taylor_view_consistency", "taylor_autoint_view_consistency"]
    print(json.dumps({k: result.metrics[k] for k in keys if k in result.metrics}, indent=2))
    print(f"wrote {out}/figure.png, metrics.json, arrays.npz")
    return 0
