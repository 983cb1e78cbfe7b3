"""Benchmarks behind ``quadfree bench NAME --json OUT``.

Each module ``quadfree.apps.bench.<name>`` exposes a typed options dataclass and
``run_benchmark(options) -> dict`` (a JSON-serialisable result that includes ``machine``); it
may also write a PNG plot. Its flags live in ``quadfree.cli.bench_<name>`` (``add_arguments``,
``options(args)``): the CLI only parses, calls and writes the JSON atomically.
"""

# Registered benchmarks: name -> one-line description.
BENCHMARKS: dict[str, str] = {
    "integrate": "AutoInt integrals vs quadrature, spline antiderivatives and summed-volume "
                 "tables (1-D intervals, 2-D/3-D boxes)",
    "taylor": "FC²T² Taylor expansion vs the exact dense kernel sum (3-D Gaussian, N = M)",
    "nerf": "train the small CPU NeRF on the objects scene for a fixed time; test PSNR/SSIM",
    "tomo": "sparse-view CT: Taylor image, AutoInt-completed sinograms, MBIR, FBP, SART",
    "autoint": "AutoInt volume rendering (N = 8, 16, 32 sections) vs NeRF: PSNR, render speed",
    "volrend": "volume rendering side by side: NeRF, AutoInt N = 8 and TeRF (FC²T²) for the "
               "same training time; PSNR, render speed, forward/backward step, density CV",
    "sdf": "signed-distance fitting: explicit Taylor layer (levels 4, 5) vs a DeepSDF-style MLP",
    "threads": "render s/frame of NeRF and AutoInt per torch thread count (the thread policy)",
    "surface": "depth fields on objects: FC²T² root layer (levels 4, 5) vs an MLP surface at "
               "equal time; held-out depth MAE, normal error, forward/backward speed",
}
