"""The model-based peer: svmbir (parallel-beam MBIR, qGGMRF prior, positivity), mapped onto
the project's radon geometry.

svmbir's conventions differ from scikit-image's ``radon`` in two ways, both measured with a
point source and the Shepp–Logan phantom (``tests/tomo/test_tomo_mbir.py``):

* its view angle φ projects onto ``ρ = Y cos φ − X sin φ``; scikit-image's θ onto
  ``ρ = X cos θ − Y sin θ``, so ``φ = −(θ + 90°)``;
* its centre of rotation is the middle of the image, ``(N − 1)/2``, not pixel ``N // 2``.
  For even N that is a half-pixel shift in *both* image axes (angle-dependent on the
  detector, so ``center_offset`` cannot fix it); the image is therefore embedded in an
  ``(N+1)×(N+1)`` grid (one zero row and column at the end), whose centre is pixel ``N // 2``,
  with ``N+1`` detector channels, the last one (ρ = 1, a zero-length chord) zero.

svmbir caches system matrices on disk; each call here uses its own temporary directory.
"""

from __future__ import annotations

import tempfile

import numpy as np

from quadfree.errors import QuadfreeError
from quadfree.tomo.geometry import check_angles


def svmbir_angles(angles_deg) -> np.ndarray:
    """svmbir view angles (radians) of scikit-image angles (degrees): ``−(θ + 90°)``.

    Example:
        >>> svmbir_angles([0.0]).round(6).tolist()
        [-1.570796]
    """
    return -np.deg2rad(check_angles(angles_deg) + 90.0)


def _padded(n: int, even: bool) -> int:
    return n + 1 if even else n


def mbir_project(image: np.ndarray, angles_deg, num_threads: int = 1) -> np.ndarray:
    """svmbir's own forward projector in the project's geometry (for checking it).

    Shapes: image ``(N, N)``, angles ``(A,)`` → ``(N, A)``.

    Example:
        >>> mbir_project(np.zeros((8, 8)), [0.0, 90.0]).shape
        (8, 2)
    """
    import svmbir

    img = np.asarray(image, dtype=np.float64)
    n = img.shape[0]
    m = _padded(n, n % 2 == 0)
    pad = np.zeros((1, m, m))
    pad[0, :n, :n] = img
    with tempfile.TemporaryDirectory(prefix="quadfree-svmbir-") as lib:
        s = svmbir.project(pad, svmbir_angles(angles_deg), m, svmbir_lib_path=lib,
                           num_threads=num_threads, verbose=0)
    return np.asarray(s[:, 0, :n], dtype=np.float64).T


def mbir(sinogram: np.ndarray, angles_deg, snr_db: float = 40.0, sharpness: float = 0.0,
         max_iterations: int = 100, num_threads: int = 1) -> np.ndarray:
    """svmbir's MBIR reconstruction (qGGMRF prior, positivity) of a sinogram.

    ``snr_db`` sets the assumed data noise: svmbir's default 30 dB assumes noisy data; 40 dB
    (the default here) suits the noise-free simulated scans of the benchmark at 64² and 128²,
    but its iterations did not settle on 32² images (use 30 dB there; measurements in
    ``docs/tomo.md``). ``sharpness`` is the prior's.

    Shapes: sinogram ``(N, A)``, angles ``(A,)`` → image ``(N, N)``.

    Example:
        >>> mbir(np.zeros((8, 4)), [0.0, 45.0, 90.0, 135.0]).shape
        (8, 8)
    """
    import svmbir

    sino = np.asarray(sinogram, dtype=np.float64)
    angles = check_angles(angles_deg)
    if sino.ndim != 2 or sino.shape[1] != angles.size:
        raise QuadfreeError(f"sinogram: shape {sino.shape} does not match {angles.size} angles",
                            param="sinogram")
    n = sino.shape[0]
    m = _padded(n, n % 2 == 0)
    data = np.zeros((angles.size, 1, m))
    data[:, 0, :n] = sino.T
    if not np.any(data):
        return np.zeros((n, n))
    with tempfile.TemporaryDirectory(prefix="quadfree-svmbir-") as lib:
        rec = svmbir.recon(data, svmbir_angles(angles), num_rows=m, num_cols=m, snr_db=snr_db,
                           sharpness=sharpness, max_iterations=max_iterations, positivity=True,
                           svmbir_lib_path=lib, num_threads=num_threads, verbose=0)
    return np.asarray(rec[0, :n, :n], dtype=np.float64)
