"""Benchmarks behind ``quadfree bench NAME --json OUT``.

Each module ``quadfree.apps.bench.<name>`` exposes a typed options dataclass and
``run_benchmark(options) -> dict`` (a JSON-serialisable result that includes ``machine``); it
may also write a PNG plot. Its flags live in ``quadfree.cli.bench_<name>`` (``add_arguments``,
``options(args)``): the CLI only parses, calls and writes the JSON atomically. ``autoint``,
``nerf`` and ``tomo`` have moved to that shape; ``integrate`` and ``taylor`` still take their
flags from their own ``add_arguments(parser)`` / ``run(args)`` (see ``cli/bench.py``).
"""

# Registered benchmarks: name -> one-line description.
BENCHMARKS: dict[str, str] = {
    "integrate": "AutoInt integrals vs quadrature, spline antiderivatives and summed-volume "
                 "tables (1-D intervals, 2-D/3-D boxes)",
    "taylor": "FC²T² Taylor expansion vs the exact dense kernel sum (3-D Gaussian, N = M)",
    "nerf": "train the small CPU NeRF on the objects scene for a fixed time; test PSNR/SSIM",
    "tomo": "sparse-view CT: Taylor image, AutoInt-completed sinograms, MBIR, FBP, SART",
    "autoint": "AutoInt volume rendering (N = 8, 16, 32 sections) vs NeRF: PSNR, render speed",
    "sdf": "signed-distance fitting: explicit Taylor layer (levels 4, 5) vs a DeepSDF-style MLP",
}
