"""Entry point of the ``quadfree`` command.

Each command lives in its own module under ``quadfree.cli`` exposing ``HELP`` (one line) and
``register(subparsers)``; the parser it adds sets ``func(args) -> int``. Only the command being
run is registered in full (its module imports torch and the library lazily), so
``quadfree --help`` and mistakes in the command name answer at once.

A :class:`~quadfree.errors.QuadfreeError`, or a disk error (no space, read-only, permission),
becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

from quadfree import __version__
from quadfree.errors import QuadfreeError
from quadfree.threads import passive_wait

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
    "surface",
    "view",
]


# A value such as "-1,-0.2" (numbers separated by commas, the first negative): argparse would
# take it for an option; it can never be one.
_NUMBER_LIST = re.compile(r"^-(\d|\.\d)[^,\s]*(,[^,\s]+)+$")


def join_negative_values(argv: list[str]) -> list[str]:
    """Attach a comma-separated value that starts with a minus sign to its option, so that
    ``--interval -1,-0.2`` parses as written (argparse alone would read ``-1,-0.2`` as an
    unknown option).

    Example:
        >>> join_negative_values(["integrate", "--interval", "-1,-0.2", "--steps", "5"])
        ['integrate', '--interval=-1,-0.2', '--steps', '5']
    """
    out: list[str] = []
    for token in argv:
        if (out and out[-1].startswith("--") and "=" not in out[-1]
                and _NUMBER_LIST.match(token)):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


def _selected(argv: list[str]) -> str | None:
    """The command named on the command line (the first word that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser: every command listed, the one named in ``argv`` registered in full
    (all of them when ``argv`` is None).

    Example:
        >>> build_parser(["--help"]).prog
        'quadfree'
    """
    parser = argparse.ArgumentParser(
        prog="quadfree",
        description="Integrals through fields, fast: AutoInt and FC²T² (Taylor) engines.")
    parser.add_argument("--version", action="version", version=f"quadfree {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = None if argv is None else _selected(argv)
    for name in COMMANDS:
        module = importlib.import_module(f"quadfree.cli.{name}")
        if name == "bench" and name == chosen:
            module.register(sub, argv)            # registers only the benchmark named
        elif argv is None or name == chosen:
            module.register(sub)
        else:
            sub.add_parser(name, help=module.HELP, add_help=False)
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
    message = " ".join(str(exc).split())          # one line, whatever the message holds
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
    from quadfree.cli.common import check_seed
    from quadfree.outputs import os_error_message

    passive_wait()
    argv = join_negative_values(sys.argv[1:] if argv is None else list(argv))
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        check_seed(args)
        return int(args.func(args) or 0)
    except QuadfreeError as exc:
        print(error_line(args.command, exc, parser), file=sys.stderr)
        return 2
    except OSError as exc:
        where = getattr(args, "out", None) or getattr(args, "json", None)
        message = os_error_message(exc, where)
        if message is None:
            raise
        print(f"quadfree {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        detail = f" ({exc}; continue with --resume)" if str(exc) else ""
        print(f"quadfree {args.command}: interrupted{detail}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
