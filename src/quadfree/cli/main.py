"""Entry point of the ``quadfree`` command.

Each command lives in its own module under ``quadfree.cli`` exposing
``register(subparsers)``; the parser it adds sets ``func(args) -> int``.
A :class:`~quadfree.errors.QuadfreeError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import re
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
    "view",
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


def _flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """``dest -> --flag`` of a parser and of every subcommand parser below it."""
    flags: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                flags = {**_flags(sub), **flags}
        elif action.option_strings:
            flags.setdefault(action.dest, action.option_strings[-1])
    return flags


def error_line(command: str, exc: QuadfreeError, parser: argparse.ArgumentParser) -> str:
    """The one stderr line for a user error: the library names a parameter (``chunk``); the
    command line shows its flag (``--chunk``) when the command has one.

    A command module may add ``PARAM_FLAGS = {"parameter": "--flag"}`` for parameters whose
    names differ from their flags' destinations.

    Example:
        >>> error_line("eval", QuadfreeError("chunk 0: bad", param="chunk"), build_parser())
        'quadfree eval: error: --chunk 0: bad'
    """
    message = str(exc)
    params = getattr(exc, "param", None) or ()
    if isinstance(params, str):
        params = (params,)
    if params:
        sub = next((a.choices[command] for a in parser._actions
                    if isinstance(a, argparse._SubParsersAction) and command in a.choices),
                   parser)
        module = sys.modules.get(f"quadfree.cli.{command}")
        flags = {**_flags(sub), **getattr(module, "PARAM_FLAGS", {})}
        for param in params:
            if param in flags:
                message = re.sub(rf"(?<![\w-]){re.escape(param)}(?![\w-])",
                                 lambda _m, f=flags[param]: f, message, count=1)
    return f"quadfree {command}: error: {message}"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 user error, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except QuadfreeError as exc:
        print(error_line(args.command, exc, parser), file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        detail = f" ({exc}; continue with --resume)" if str(exc) else ""
        print(f"quadfree {args.command}: interrupted{detail}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
