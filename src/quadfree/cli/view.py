"""``quadfree view --run RUN [--run RUN2 ...] [--port 8080]``: a live web viewer (viser)."""

from __future__ import annotations

import argparse
import time

from quadfree.cli.common import add_runtime_options, apply_threads

HELP = "live web viewer of trained runs (viser)"
PARAM_FLAGS = {"runs": "--run"}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "view", help=HELP,
        description="Serve a web viewer: the training cameras as frustums and a free camera "
                    "rendered by the run's method (a preview while moving, full resolution "
                    "when resting), the render time per frame, and a switch between runs. "
                    "Open the printed URL; Ctrl-C stops the server.")
    parser.add_argument("--run", dest="runs", action="append", required=True, metavar="RUN",
                        help="run directory (repeat to switch between runs)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--resolution", type=int, default=128, metavar="H",
                        help="image height when the camera rests (default 128)")
    parser.add_argument("--preview", type=int, default=64, metavar="H",
                        help="image height while the camera moves (default 64)")
    add_runtime_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from quadfree.apps.viewer import Viewer
    from quadfree.device import resolve_device

    apply_threads(args)
    viewer = Viewer(args.runs, host=args.host, port=args.port, resolution=args.resolution,
                    preview=args.preview, device=resolve_device(args.device))
    if not args.quiet:
        print(f"viewer at {viewer.url} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        viewer.close()
    return 0
