"""Benchmarks behind ``quadfree bench NAME --json OUT``.

Each module ``quadfree.bench.<name>`` exposes ``add_arguments(parser)`` and
``run(args) -> dict`` (a JSON-serialisable result that includes ``machine``); it may also write
a PNG plot next to the JSON. The CLI only parses, calls ``run`` and writes the JSON atomically.
"""

# Registered benchmarks: name -> one-line description.
BENCHMARKS: dict[str, str] = {
    "integrate": "AutoInt 1-D integrals vs Gauss–Legendre quadrature of the grad network",
    "taylor": "FC²T² Taylor expansion vs the exact dense kernel sum (3-D Gaussian, N = M)",
    "nerf": "train the small CPU NeRF on the objects scene for a fixed time; test PSNR/SSIM",
    "tomo": "sparse-view CT: AutoInt-completed sinograms vs linear interpolation, FBP, SART",
    "autoint": "AutoInt volume rendering (N = 8, 16, 32 sections) vs NeRF: PSNR, render speed",
    "threads": "render s/frame of NeRF and AutoInt per torch thread count (the thread policy)",
}
