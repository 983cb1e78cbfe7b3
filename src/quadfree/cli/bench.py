"""``quadfree bench NAME --json OUT``: run a registered benchmark and write its JSON."""

from __future__ import annotations

import argparse
import importlib
import json

from quadfree.apps.bench import BENCHMARKS
from quadfree.atomic import write_text
from quadfree.cli.common import add_runtime_options, apply_threads

# Benchmarks whose flags live in the CLI (``quadfree.cli.bench_<name>``: ``add_arguments`` and
# ``options(args)``) and whose library entry point takes typed options (``run_benchmark``).
# The others still declare their flags in ``quadfree.apps.bench.<name>`` (``add_arguments``,
# ``run(args)``) until they move the same way.
TYPED: dict[str, str] = {"autoint": "quadfree.cli.bench_autoint",
                         "nerf": "quadfree.cli.bench_nerf",
                         "tomo": "quadfree.cli.bench_tomo",
                         "surface": "quadfree.cli.bench_surface"}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="run a benchmark and write its JSON",
                            description="Run a benchmark; every number in the README comes "
                                        "from one of these JSON files.")
    names = parser.add_subparsers(dest="bench", metavar="NAME", required=True)
    for name, summary in BENCHMARKS.items():
        p = names.add_parser(name, help=summary, description=summary)
        p.add_argument("--json", required=True, metavar="OUT", help="where to write the JSON")
        module = importlib.import_module(f"quadfree.apps.bench.{name}")
        add_runtime_options(p, threads=getattr(module, "DEFAULT_THREADS", 0))
        if name in TYPED:
            importlib.import_module(TYPED[name]).add_arguments(p)
        else:
            module.add_arguments(p)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"quadfree.apps.bench.{args.bench}")
    apply_threads(args)
    if args.bench in TYPED:
        result = module.run_benchmark(importlib.import_module(TYPED[args.bench]).options(args))
    else:
        result = module.run(args)
    write_text(args.json, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0
