"""``quadfree surface``: fit a depth field (FC²T² root-implicit layer or an MLP) to depth
maps of a Blender-format dataset or to one depth image with intrinsics."""

from __future__ import annotations

import argparse

from quadfree.cli.common import add_runtime_options, apply_threads

HELP = "fit a depth field (Taylor root layer or MLP) to depth maps"

PARAM_FLAGS = {"depth_image": "--depth-image", "data": "--data", "checkpoint": "--resume",
               "colour": "--rgb", "shading": "--shading", "light": "--light"}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "surface", help=HELP,
        description="Fit an implicit surface to depth supervision with the mean absolute "
                    "error of depth: the FC²T² root-implicit layer (paper §5.3.1) or an MLP "
                    "with root finding along rays. Writes checkpoint.pt, figure.png "
                    "(depth/normal maps: GT | prediction | error), mesh.ply and "
                    "metrics.json into --out. --shading: inverse rendering from shading images "
                    "(paper §5.3.4), learning the surface and the light direction.")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", metavar="DIR",
                     help="Blender-format dataset with r_*_depth.npy maps (e.g. from "
                          "`quadfree scene make objects`)")
    src.add_argument("--depth-image", metavar="FILE",
                     help="one depth image (.npy or 16-bit .png); needs --fx --fy --cx --cy")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--model", choices=["taylor", "mlp"], default="taylor",
                        help="model (default %(default)s)")
    parser.add_argument("--level", type=int, default=4, help="Taylor: expansion level")
    parser.add_argument("--alpha-h2", type=float, default=0.5,
                        help="Taylor: Gaussian α times h² (h: finest cell width)")
    parser.add_argument("--bias", type=float, default=0.5, help="Taylor: surface level F = bias")
    parser.add_argument("--rgb", action="store_true",
                        help="Taylor, --data: RGB-D fusion, a colour layer read at the root "
                             "(writes rgb.png: GT | prediction, and the colour PSNR)")
    parser.add_argument("--shading", action="store_true",
                        help="Taylor, --data: inverse rendering (paper §5.3.4): learn the "
                             "surface and a light direction from shading images max(<n, l>, 0) "
                             "rendered from the GT depth maps' normals with --light (the depth "
                             "values are not a target; masks only)")
    parser.add_argument("--light", type=float, nargs=3, default=[0.3, -0.5, 0.8],
                        metavar=("X", "Y", "Z"),
                        help="--shading: true light direction (world) of the shading images "
                             "(default %(default)s, normalised)")
    parser.add_argument("--mlp-depth", type=int, default=4, help="MLP: hidden layers")
    parser.add_argument("--mlp-width", type=int, default=64, help="MLP: hidden width")
    parser.add_argument("--steps", type=int, default=300, help="most training steps")
    parser.add_argument("--seconds", type=float, default=0.0,
                        help="training-time budget in seconds (0: none)")
    parser.add_argument("--batch", type=int, default=16384, help="rays per step")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate (default 0.05 for taylor, 3e-3 for mlp)")
    parser.add_argument("--l1", type=float, default=1e-3, help="L1 penalty on the weights")
    parser.add_argument("--downscale", type=int, default=1, help="--data: image downscale")
    parser.add_argument("--train-views", type=int, default=None,
                        help="--data: use only the first N training views")
    parser.add_argument("--test-views", type=int, default=5,
                        help="--data: held-out test views to score (default %(default)s)")
    parser.add_argument("--fx", type=float, help="--depth-image: focal length x (pixels)")
    parser.add_argument("--fy", type=float, help="--depth-image: focal length y (pixels)")
    parser.add_argument("--cx", type=float, help="--depth-image: principal point x (pixels)")
    parser.add_argument("--cy", type=float, help="--depth-image: principal point y (pixels)")
    parser.add_argument("--depth-scale", type=float, default=1.0,
                        help="--depth-image: multiply the stored values (0.001: millimetres)")
    parser.add_argument("--ray-depth", action="store_true",
                        help="--depth-image: values are distances along the ray, not z")
    parser.add_argument("--resolution", type=int, default=96,
                        help="marching-cubes grid per axis (0: no mesh)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from --out/checkpoint.pt")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a non-empty --out (default: refuse it unless --resume)")
    add_runtime_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from quadfree.errors import QuadfreeError
    from quadfree.outputs import prepare_output_dir
    from quadfree.seeding import seed_everything
    from quadfree.surface.data import depth_image_views, load_blender_depth, read_depth_image
    from quadfree.surface.experiment import SurfaceConfig, run_surface
    from quadfree.surface.fit import FitConfig

    apply_threads(args)
    seed_everything(args.seed)
    if args.rgb and not args.data:
        raise QuadfreeError("--rgb needs --data (a depth image has no colour)")
    if args.shading and not args.data:
        raise QuadfreeError("--shading needs --data (held-out views score the learned surface)")
    if args.data:
        train = load_blender_depth(args.data, "train", downscale=args.downscale,
                                   max_frames=args.train_views)
        test = load_blender_depth(args.data, "test", downscale=args.downscale,
                                  max_frames=args.test_views)
    else:
        missing = [f"--{k}" for k in ("fx", "fy", "cx", "cy") if getattr(args, k) is None]
        if missing:
            raise QuadfreeError(f"--depth-image needs {' '.join(missing)}")
        img = read_depth_image(args.depth_image, args.depth_scale)
        train = depth_image_views(img, args.fx, args.fy, args.cx, args.cy,
                                  z_depth=not args.ray_depth, name=args.depth_image)
        test = train
    lr = args.lr if args.lr is not None else (0.05 if args.model == "taylor" else 3e-3)
    fit = FitConfig(steps=args.steps, seconds=args.seconds, batch=args.batch, lr=lr,
                    l1=args.l1 if args.model == "taylor" else 0.0).check()
    cfg = SurfaceConfig(model=args.model, level=args.level, alpha_h2=args.alpha_h2,
                        bias=args.bias, colour=args.rgb, mlp_depth=args.mlp_depth,
                        mlp_width=args.mlp_width,
                        resolution=args.resolution, shading=args.shading,
                        light=tuple(args.light), fit=fit)
    cfg.model_config()                       # bad model / mode combinations: before any output
    prepare_output_dir(args.out, "--out", overwrite=args.overwrite or args.resume,
                       hint="--resume or --overwrite")
    metrics = run_surface(train, test, cfg, args.out, resume=args.resume, quiet=args.quiet)
    print(json.dumps({k: v for k, v in metrics.items() if k != "config"}, indent=2))
    return 0
