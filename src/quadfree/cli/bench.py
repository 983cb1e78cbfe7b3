"""``quadfree bench NAME --json OUT``: run a registered benchmark and write its JSON."""

from __future__ import annotations

import argparse
import importlib
import json

from quadfree.cli.common import add_runtime_options, apply_threads

HELP = "run a benchmark and write its JSON"

# Every benchmark's flags live in the CLI (``quadfree.cli.bench_<name>``: ``add_arguments`` and
# ``options(args)``); its library entry point takes those typed options
# (``quadfree.apps.bench.<name>.run_benchmark``).
TYPED: dict[str, str] = {"autoint": "quadfree.cli.bench_autoint",
                         "integrate": "quadfree.cli.bench_integrate",
                         "nerf": "quadfree.cli.bench_nerf",
                         "sdf": "quadfree.cli.bench_sdf",
                         "surface": "quadfree.cli.bench_surface",
                         "taylor": "quadfree.cli.bench_taylor",
                         "threads": "quadfree.cli.bench_threads",
                         "tomo": "quadfree.cli.bench_tomo",
                         "volrend": "quadfree.cli.bench_volrend"}

# library parameters whose names differ from the benchmarks' flags
PARAM_FLAGS = {"run_dir": "--run"}


def register(sub: argparse._SubParsersAction, argv: list[str] | None = None) -> None:
    """Add ``bench NAME`` for every benchmark; only the one named in ``argv`` (all when None)
    imports its module (and torch) to add its options."""
    from quadfree.apps.bench import BENCHMARKS

    words = [a for a in (argv or []) if not a.startswith("-")]
    chosen = words[1] if argv is not None and len(words) > 1 else None

    parser = sub.add_parser("bench", help=HELP,
                            description="Run a benchmark; every number in the README comes "
                                        "from one of these JSON files.")
    names = parser.add_subparsers(dest="bench", metavar="NAME", required=True)
    for name, summary in BENCHMARKS.items():
        if argv is not None and name != chosen:
            names.add_parser(name, help=summary, add_help=False)
            continue
        p = names.add_parser(name, help=summary, description=summary)
        p.add_argument("--json", required=True, metavar="OUT", help="where to write the JSON")
        add_runtime_options(p)
        importlib.import_module(TYPED[name]).add_arguments(p)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from quadfree.atomic import write_text
    from quadfree.outputs import check_output_file

    check_output_file(args.json, "--json")
    module = importlib.import_module(f"quadfree.apps.bench.{args.bench}")
    apply_threads(args)
    result = module.run_benchmark(importlib.import_module(TYPED[args.bench]).options(args))
    write_text(args.json, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0
