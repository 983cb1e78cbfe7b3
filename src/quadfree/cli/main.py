"""Entry point of the ``quadfree`` command.

Each command lives in its own module under ``quadfree.cli`` exposing
``register(subparsers)``; the parser it adds sets ``func(args) -> int``.
A :class:`~quadfree.errors.QuadfreeError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from quadfree import __version__
from quadfree.errors import QuadfreeError

# Command modules, in the order `quadfree --help` lists them.
COMMANDS: list[str] = [
    "integrate",
    "scene",
    "train",
    "render",
    "eval",
    "demo",
    "bench",
    "tomo",
    "sdf",
]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every command registered.

    Example:
        >>> build_parser().prog
        'quadfree'
    """
    parser = argparse.ArgumentParser(
        prog="quadfree",
        description="Integrals through fields, fast: AutoInt and FC²T² (Taylor) engines.")
    parser.add_argument("--version", action="version", version=f"quadfree {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"quadfree.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 user error, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except QuadfreeError as exc:
        print(f"quadfree {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"quadfree {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
