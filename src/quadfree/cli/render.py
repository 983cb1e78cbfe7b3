"""``quadfree render --run RUN [--split test | --orbit N]``: PNG frames and a GIF/MP4."""

from __future__ import annotations

import argparse
from pathlib import Path

from quadfree.cli.common import add_runtime_options, apply_threads

HELP = "render a trained run's views or an orbit video"
OWN_FILES = ("frame_*.png", "video.gif", "video.mp4")   # what render writes into --out


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("render", help=HELP,
                            description="Render PNG frames and a video (MP4 through "
                                        "imageio-ffmpeg, or GIF) from a trained run into "
                                        "--out (default RUN/render_test, RUN/render_<split> or "
                                        "RUN/render_orbit<N>). The folder appears complete "
                                        "or not at all; an earlier render there is replaced, "
                                        "any other non-empty folder is refused unless "
                                        "--overwrite.")
    parser.add_argument("--run", required=True, metavar="RUN", help="run directory")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--split", choices=["train", "val", "test"], default=None,
                       help="render the dataset's views of this split (default test)")
    which.add_argument("--orbit", type=int, metavar="N", help="render N frames on an orbit")
    parser.add_argument("--elevation", type=float, default=30.0, help="orbit elevation, degrees")
    parser.add_argument("--out", metavar="DIR", help="output directory (default RUN/render_*)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a non-empty --out that is not an earlier render")
    parser.add_argument("--data", metavar="DIR", help="dataset (default: the run's)")
    parser.add_argument("--video", choices=["mp4", "gif"], default="mp4",
                        help="video format (default mp4; gif when imageio-ffmpeg is missing)")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=4096, help="rays per forward pass")
    parser.add_argument("--max-frames", type=int, default=None, help="only the first N views")
    add_runtime_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from quadfree.apps.runs import render_run
    from quadfree.device import resolve_device
    from quadfree.outputs import prepare_output_dir

    name = f"orbit{args.orbit}" if args.orbit is not None else (args.split or "test")
    out = Path(args.out) if args.out else Path(args.run) / f"render_{name}"
    prepare_output_dir(out, "--out", overwrite=args.overwrite, own=OWN_FILES,
                       hint="--overwrite")
    apply_threads(args)
    result = render_run(args.run, out, split=args.split, orbit=args.orbit,
                        elevation=args.elevation, data=args.data, video=args.video, fps=args.fps,
                        chunk=args.chunk, device=resolve_device(args.device),
                        progress=not args.quiet, max_frames=args.max_frames)
    print(f"wrote {len(result['frames'])} frames and {result['video']} to {out} "
          f"({result['s_per_frame']:.3f} s/frame)")
    return 0
