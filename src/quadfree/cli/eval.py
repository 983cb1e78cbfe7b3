"""``quadfree eval --run RUN --json OUT``: PSNR/SSIM per image and mean, speed, evals per ray."""

from __future__ import annotations

import argparse
import json

from quadfree.cli.common import add_runtime_options, apply_threads

HELP = "evaluate a trained run on its test views"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("eval", help=HELP,
                            description="Render the test split and write PSNR and SSIM per "
                                        "image and mean, seconds per frame and network "
                                        "evaluations per ray as JSON.")
    parser.add_argument("--run", required=True, metavar="RUN", help="run directory")
    parser.add_argument("--json", required=True, metavar="OUT", help="where to write the JSON")
    parser.add_argument("--split", choices=["train", "val", "test"], default="test")
    parser.add_argument("--data", metavar="DIR", help="dataset (default: the run's)")
    parser.add_argument("--max-frames", type=int, default=None, help="only the first N views")
    parser.add_argument("--chunk", type=int, default=4096, help="rays per forward pass")
    parser.add_argument("--save-images", metavar="DIR", help="also write predicted PNGs here")
    add_runtime_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from quadfree.apps.runs import evaluate_run
    from quadfree.atomic import write_text
    from quadfree.device import resolve_device
    from quadfree.outputs import check_output_file, check_writable

    check_output_file(args.json, "--json")
    if args.save_images:
        check_writable(args.save_images, "--save-images")
    apply_threads(args)
    result = evaluate_run(args.run, split=args.split, data=args.data, max_frames=args.max_frames,
                          chunk=args.chunk, device=resolve_device(args.device),
                          progress=not args.quiet, save_dir=args.save_images)
    write_text(args.json, json.dumps(result, indent=2) + "\n")
    print(f"{result['method']} on {result['num_images']} {args.split} views: "
          f"PSNR {result['psnr']:.2f} dB, SSIM {result['ssim']:.4f}, "
          f"{result['s_per_frame']:.3f} s/frame, {result['evals_per_ray']} evals/ray "
          f"-> {args.json}")
    return 0
