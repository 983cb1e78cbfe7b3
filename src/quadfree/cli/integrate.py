"""``quadfree integrate``: fit AutoInt to a 1-D signal and report integrals with their errors.

    quadfree integrate --signal cos --interval 0,0.5 --out demo_out
    quadfree integrate --data samples.csv --interval 1,2 --out out
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from quadfree.cli.common import add_runtime_options, apply_threads
from quadfree.errors import QuadfreeError

HELP = "fit AutoInt to a 1-D signal and report its integrals"
OWN_FILES = ("integrate.png", "integrals.json")    # what integrate writes into --out
# Kept here so that `quadfree integrate --help` starts without torch; a test checks that they
# equal sorted(quadfree.apps.signals.BUILTINS) and quadfree.autoint.Fit1DConfig's defaults.
SIGNAL_NAMES = ["cos", "cosmix", "gauss", "poly", "step"]
FIT_DEFAULTS = {"steps": 1000, "hidden": 32, "depth": 3, "w0": 30.0, "lr": 5e-4}


def register(sub: argparse._SubParsersAction) -> None:
    d = FIT_DEFAULTS
    p = sub.add_parser(
        "integrate", help=HELP,
        description="Train the grad network of an integral network Φ on a 1-D signal, then "
                    "integrate with two evaluations: ∫_a^b f ≈ Φ(b) − Φ(a). Prints the integral "
                    "over the domain and each --interval with its error against the exact value "
                    "(built-in signals) or the trapezoid rule (--data); writes integrate.png "
                    "and integrals.json into --out (default ./integrate_out; replaced whole, "
                    "a non-empty folder holding anything else is refused unless --overwrite). "
                    "Negative intervals: --interval -1,-0.2 works as written.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--signal", default=None, metavar="NAME",
                     help=f"built-in signal: {', '.join(SIGNAL_NAMES)} (default cos)")
    src.add_argument("--data", default=None, metavar="FILE",
                     help="samples x,y: a CSV with two columns or an NPY array (N, 2)")
    p.add_argument("--interval", action="append", default=[], metavar="A,B",
                   help="also integrate over [A, B] (repeatable; e.g. --interval -1,-0.2)")
    p.add_argument("--domain", default=None, metavar="LO,HI",
                   help="domain of a built-in signal (default -1,1)")
    p.add_argument("--out", default="integrate_out", metavar="DIR",
                   help="output folder for integrate.png and integrals.json "
                        "(default %(default)s)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a non-empty --out that holds more than an earlier result")
    p.add_argument("--steps", type=int, default=d["steps"], help="training steps")
    p.add_argument("--hidden", type=int, default=d["hidden"], help="SIREN width")
    p.add_argument("--depth", type=int, default=d["depth"], help="SIREN hidden layers")
    p.add_argument("--w0", type=float, default=d["w0"], help="SIREN frequency w0")
    p.add_argument("--lr", type=float, default=d["lr"], help="initial Adam learning rate")
    add_runtime_options(p)
    p.set_defaults(func=run)


def parse_interval(text: str, flag: str = "interval") -> tuple[float, float]:
    """Parse ``"a,b"`` into two floats (``flag`` names the parameter in errors).

    Example:
        >>> parse_interval("-0.5,0.25")
        (-0.5, 0.25)
    """
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        a, b = float(parts[0]), float(parts[1])
    except ValueError:
        raise QuadfreeError(f"{flag} {text!r}: expected two numbers a,b", param=flag) from None
    return a, b


def run(args: argparse.Namespace) -> int:
    from quadfree.apps.integrate1d import integrate_signal, plot_report
    from quadfree.apps.signals import builtin_signal, load_samples
    from quadfree.atomic import atomic_dir
    from quadfree.autoint.fit1d import Fit1DConfig
    from quadfree.device import resolve_device
    from quadfree.outputs import prepare_output_dir
    from quadfree.seeding import seed_everything

    # Validate everything before any work or any file.
    if args.data is not None:
        if args.domain is not None:
            raise QuadfreeError("--domain: only for built-in signals (data set their own)")
        signal = load_samples(args.data)
    else:
        signal = builtin_signal(args.signal or "cos")
        if args.domain is not None:
            signal = signal.with_domain(*parse_interval(args.domain, flag="domain"))
    intervals = [parse_interval(text) for text in args.interval]
    out = prepare_output_dir(Path(args.out), "--out", overwrite=args.overwrite, own=OWN_FILES,
                             hint="--overwrite")
    config = Fit1DConfig(hidden=args.hidden, depth=args.depth, w0=args.w0, steps=args.steps,
                         lr=args.lr, lr_final=args.lr * 1e-3)
    apply_threads(args)
    device = resolve_device(args.device)
    seed_everything(args.seed)

    model, report = integrate_signal(signal, intervals, config, seed=args.seed, device=device,
                                     progress=not args.quiet)
    print(f"signal: {report.formula} on [{report.domain[0]:g}, {report.domain[1]:g}]")
    print(f"fit: {report.fit_steps} steps in {report.fit_seconds:.1f} s, "
          f"final MSE (standardized) {report.fit_final_loss:.2e}")
    print(report.table())
    with atomic_dir(out) as tmp:          # the folder appears complete, or not at all
        plot_report(signal, model, report, tmp / "integrate.png")
        (tmp / "integrals.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    print(f"wrote {out / 'integrate.png'} and {out / 'integrals.json'}")
    return 0
