"""``quadfree train --method NAME --data DIR --out RUN``: train a radiance method."""

from __future__ import annotations

import argparse

from quadfree.cli.common import add_runtime_options, apply_threads

HELP = "train a radiance-field method on a dataset (Blender, nerfstudio, LLFF)"
# == sorted(quadfree.radiance.registry.METHODS) (tested)
METHOD_NAMES = ["autoint", "nerf", "terf"]
PARAM_FLAGS = {"port": "--viewer-port", "every_seconds": "--viewer-every"}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "train", help=HELP,
        description="Train a radiance-field method. Checkpoints go to RUN/checkpoint.pt "
                    "(atomically, every ckpt_every steps, at the end and on Ctrl-C); "
                    "--resume continues exactly where the run stopped. A new RUN folder "
                    "appears with its first complete checkpoint; an existing non-empty one "
                    "is refused unless --resume or --overwrite. The dataset format is "
                    "detected from DIR: transforms_train.json = Blender, transforms.json = "
                    "nerfstudio / instant-ngp, poses_bounds.npy = LLFF (NDC rays). Several "
                    "processes: torchrun --nproc_per_node N --no-python quadfree train ... "
                    "(DDP; gloo on CPU, NCCL on GPU).")
    parser.add_argument("--method", choices=METHOD_NAMES, default=None,
                        help="method to train (default nerf; taken from the run with --resume)")
    parser.add_argument("--data", metavar="DIR", help="dataset directory (format detected)")
    parser.add_argument("--out", required=True, metavar="RUN", help="run directory")
    parser.add_argument("--downscale", type=int, default=1, metavar="K",
                        help="downscale images by K (area averaging)")
    parser.add_argument("--iters", type=int, default=None, metavar="N",
                        help="total training steps (default from the training config)")
    parser.add_argument("--near", type=float, default=None,
                        help="near bound (default: Blender 2, nerfstudio from the cameras, "
                             "LLFF from the file)")
    parser.add_argument("--far", type=float, default=None, help="far bound (default as --near)")
    parser.add_argument("--no-ndc", dest="ndc", action="store_false",
                        help="LLFF: metric rays instead of normalized device coordinates")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue the run in --out")
    mode.add_argument("--overwrite", action="store_true",
                      help="replace the run or folder in --out (once the new run's first "
                           "checkpoint is written)")
    parser.add_argument("--tensorboard", action="store_true",
                        help="also log to RUN/tensorboard (needs the tensorboard package)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a method or training config field, e.g. --set width=64 "
                             "--set lr=1e-3 (repeatable)")
    parser.add_argument("--viewer", action="store_true",
                        help="serve the live web viewer (as `quadfree view`) on the model while "
                             "it trains; it renders its own copy of the weights")
    parser.add_argument("--viewer-port", type=int, default=8080, metavar="P",
                        help="viewer port (default 8080; loopback only)")
    parser.add_argument("--viewer-every", type=float, default=1.0, metavar="S",
                        help="copy the weights into the viewer every S seconds (default 1)")
    add_runtime_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from quadfree.config import parse_assignments, typed_overrides
    from quadfree.device import resolve_device
    from quadfree.errors import QuadfreeError
    from quadfree.radiance.registry import default_config
    from quadfree.train import TrainConfig
    from quadfree.train.trainer import route_overrides, train_run

    apply_threads(args)
    method = args.method or (None if args.resume else "nerf")
    method_over, train_over = route_overrides(method, parse_assignments(args.set),
                                              resume_run=args.out if args.resume else None)
    # typed here, once: the library never sees the command line's strings
    train_over = typed_overrides(TrainConfig(), train_over)
    if method_over and not args.resume:      # (resuming refuses method changes anyway)
        method_over = typed_overrides(default_config(method), method_over)
    if args.iters is not None:
        train_over["iters"] = args.iters
    if args.tensorboard:
        train_over["tensorboard"] = True
    if not args.resume and not args.data:
        raise QuadfreeError("--data is required (unless --resume)")
    from quadfree.train.distributed import init_distributed, shutdown_distributed

    # under torchrun: one process group (gloo on CPU, NCCL on GPU), DDP inside the trainer
    dist, device = init_distributed(resolve_device(args.device))
    live = None
    try:
        if args.viewer and dist.is_main:         # rank 0 alone serves the viewer
            from quadfree.apps.liveview import LiveViewer

            def ready(url: str) -> None:
                if not args.quiet:
                    print(f"viewer at {url} (shows the model while it trains)", flush=True)

            live = LiveViewer(port=args.viewer_port, every_seconds=args.viewer_every,
                              on_ready=ready)
        summary = train_run(method or "", args.data, args.out, method_overrides=method_over,
                            train_overrides=train_over, downscale=args.downscale,
                            near=args.near, far=args.far, ndc=args.ndc, resume=args.resume,
                            seed=args.seed, device=device,
                            progress=not args.quiet and dist.is_main, dist=dist,
                            overwrite=args.overwrite, on_step=live)
    finally:
        if live is not None:
            live.close()                          # also on errors and Ctrl-C
        shutdown_distributed()
    if not dist.is_main:
        return 0
    val = f", val PSNR {summary['val_psnr']:.2f} dB" if "val_psnr" in summary else ""
    print(f"trained {summary['method']} for {summary['step']} steps "
          f"({summary['train_seconds']:.1f} s){val}; run in {summary['out']}")
    return 0
