"""``quadfree integrate``: fit AutoInt to a 1-D signal and report integrals with their errors.

    quadfree integrate --signal cos --interval 0,0.5 --out demo_out
    quadfree integrate --data samples.csv --interval 1,2 --out out
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from quadfree.apps.integrate1d import integrate_signal, plot_report
from quadfree.apps.signals import BUILTINS, builtin_signal, load_samples, parse_interval
from quadfree.atomic import write_text
from quadfree.autoint.fit1d import Fit1DConfig
from quadfree.cli.common import add_runtime_options, apply_threads
from quadfree.device import resolve_device
from quadfree.errors import QuadfreeError
from quadfree.seeding import seed_everything


def register(sub: argparse._SubParsersAction) -> None:
    defaults = Fit1DConfig()
    p = sub.add_parser(
        "integrate", help="fit AutoInt to a 1-D signal and report its integrals",
        description="Train the grad network of an integral network Φ on a 1-D signal, then "
                    "integrate with two evaluations: ∫_a^b f ≈ Φ(b) − Φ(a). Prints the integral "
                    "over the domain and each --interval with its error against the exact value "
                    "(built-in signals) or the trapezoid rule (--data); writes integrate.png "
                    "and integrals.json into --out.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--signal", default=None, metavar="NAME",
                     help=f"built-in signal: {', '.join(sorted(BUILTINS))} (default cos)")
    src.add_argument("--data", default=None, metavar="FILE",
                     help="samples x,y: a CSV with two columns or an NPY array (N, 2)")
    p.add_argument("--interval", action="append", default=[], metavar="A,B",
                   help="also integrate over [A, B] (repeatable)")
    p.add_argument("--domain", default=None, metavar="LO,HI",
                   help="domain of a built-in signal (default -1,1)")
    p.add_argument("--out", default="integrate_out", metavar="DIR",
                   help="output folder for integrate.png and integrals.json")
    p.add_argument("--steps", type=int, default=defaults.steps, help="training steps")
    p.add_argument("--hidden", type=int, default=defaults.hidden, help="SIREN width")
    p.add_argument("--depth", type=int, default=defaults.depth, help="SIREN hidden layers")
    p.add_argument("--w0", type=float, default=defaults.w0, help="SIREN frequency w0")
    p.add_argument("--lr", type=float, default=defaults.lr, help="initial Adam learning rate")
    add_runtime_options(p, threads=1)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise QuadfreeError(f"--out {out}: exists and is not a folder")
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
    plot_report(signal, model, report, out / "integrate.png")
    write_text(out / "integrals.json", json.dumps(report.to_dict(), indent=2) + "\n")
    print(f"wrote {out / 'integrate.png'} and {out / 'integrals.json'}")
    return 0
