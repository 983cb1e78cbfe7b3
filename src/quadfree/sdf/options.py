"""Options shared by ``quadfree sdf`` and ``quadfree bench sdf`` and their translation into an
:class:`~quadfree.sdf.experiment.SdfConfig` (flag names live here and in the CLI only)."""

from __future__ import annotations

import argparse

from quadfree.errors import QuadfreeError
from quadfree.sdf.experiment import SdfConfig
from quadfree.sdf.fit import FitConfig


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Model and sampling options, shared with ``quadfree bench sdf``."""
    d = SdfConfig()
    parser.add_argument("--alpha-h2", type=float, default=d.alpha_h2,
                        help="Taylor: Gaussian α times h² (h: finest cell width; default "
                             "%(default)s)")
    parser.add_argument("--sources-per-cell", type=int, default=d.sources_per_cell,
                        help="Taylor: sources per cell and axis (default %(default)s)")
    parser.add_argument("--mlp-depth", type=int, default=d.mlp_depth,
                        help="MLP: hidden layers (default %(default)s)")
    parser.add_argument("--mlp-width", type=int, default=d.mlp_width,
                        help="MLP: hidden width (default %(default)s; DeepSDF: 512)")
    parser.add_argument("--samples", type=int, default=d.samples,
                        help="training samples (default %(default)s)")
    parser.add_argument("--test-samples", type=int, default=d.test_samples,
                        help="held-out samples (default %(default)s)")
    parser.add_argument("--resolution", type=int, default=d.resolution,
                        help="marching-cubes grid per axis (default %(default)s)")


def config_from(args: argparse.Namespace, model: str, level: int | None = None) -> SdfConfig:
    """An :class:`SdfConfig` from parsed options (used by ``bench sdf`` too)."""
    for name in ("samples", "test_samples", "resolution", "sources_per_cell", "mlp_depth",
                 "mlp_width"):
        if getattr(args, name) < 1:
            raise QuadfreeError(f"--{name.replace('_', '-')} {getattr(args, name)}: must be "
                                "at least 1")
    lr = getattr(args, "lr", None) or (3e-2 if model == "taylor" else 1e-3)
    fit = FitConfig(epochs=getattr(args, "epochs", FitConfig.epochs),
                    seconds=getattr(args, "seconds", 0.0), lr=lr,
                    lr_sources=getattr(args, "lr_sources", FitConfig.lr_sources),
                    batch=getattr(args, "batch", FitConfig.batch))
    return SdfConfig(model=model, level=level if level is not None else getattr(args, "level", 4),
                     alpha_h2=args.alpha_h2, sources_per_cell=args.sources_per_cell,
                     learn_sources=not getattr(args, "fixed_sources", False),
                     mlp_depth=args.mlp_depth, mlp_width=args.mlp_width, samples=args.samples,
                     test_samples=args.test_samples, resolution=args.resolution,
                     seed=args.seed, fit=fit.check())
