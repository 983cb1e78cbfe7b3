"""``quadfree demo --out DIR``: NeRF vs AutoInt on the ``objects`` scene, with a report."""

from __future__ import annotations

import argparse
from pathlib import Path

from quadfree.cli.common import add_runtime_options, apply_threads, typed_settings

HELP = "train NeRF and AutoInt on a procedural scene and compare them"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo", help=HELP,
        description="Generate the `objects` scene, train NeRF and AutoInt for a fixed time each "
                    "(CPU defaults), render the test views and an orbit with both, and write "
                    "DIR/report.md with a figure and a table (PSNR, SSIM, s/frame, network "
                    "evaluations per ray, speedup). About 10 minutes on a 2-core CPU.")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--res", type=int, default=64, help="image size R×R (default 64)")
    parser.add_argument("--minutes", type=float, default=4.0,
                        help="training time per method in minutes (default 4; longer = better)")
    parser.add_argument("--orbit-frames", type=int, default=24,
                        help="frames of the orbit animation (default 24; 0 = none)")
    parser.add_argument("--sections", type=int, default=None,
                        help="AutoInt sections per ray N (default: AutoInt's config default, "
                             "8, as in `train` and `bench autoint`; 16 and 32 also work)")
    parser.add_argument("--fresh", action="store_true",
                        help="retrain even if DIR/runs holds finished runs of this "
                             "configuration (by default they are reused, and the report says "
                             "from which machine and date)")
    parser.add_argument("--test-views", type=int, default=None,
                        help="evaluate only the first N test views (default all 20)")
    parser.add_argument("--nerf-set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a NeRF or training config field (repeatable)")
    parser.add_argument("--autoint-set", action="append", default=[], metavar="KEY=VALUE",
                        help="override an AutoInt or training config field (repeatable), "
                             "e.g. sections=32")
    parser.add_argument("--terf", action="store_true",
                        help="also train and show TeRF (FC²T² radiance field) beside NeRF and "
                             "AutoInt: a third training budget (default off)")
    parser.add_argument("--terf-set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a TeRF or training config field (repeatable)")
    add_runtime_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from quadfree.apps.demo import DemoOptions, run_demo
    from quadfree.device import resolve_device

    apply_threads(args)
    opts = DemoOptions(out=Path(args.out), res=args.res, minutes=args.minutes,
                       orbit_frames=args.orbit_frames, sections=args.sections,
                       test_views=args.test_views,
                       nerf_set=typed_settings("nerf", args.nerf_set),
                       autoint_set=typed_settings("autoint", args.autoint_set),
                       terf=args.terf, terf_set=typed_settings("terf", args.terf_set),
                       fresh=args.fresh, seed=args.seed,
                       device=resolve_device(args.device), progress=not args.quiet)
    result = run_demo(opts)
    if result.get("reused_note"):
        print(result["reused_note"])
    for row in result["rows"]:
        print(f"{row['label']:8s} PSNR {row['psnr']:.2f} dB  SSIM {row['ssim']:.3f}  "
              f"{row['render_s_per_frame']:.3f} s/frame  {row['evals_per_ray']} evals/ray  "
              f"speedup {row['speedup']:.1f}x")
    print(f"wrote {Path(args.out) / 'report.md'} in {result['total_seconds'] / 60:.1f} min")
    return 0
