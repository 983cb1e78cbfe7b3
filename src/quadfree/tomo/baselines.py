"""Classical reconstructions from scikit-image: filtered back-projection and SART."""

from __future__ import annotations

import numpy as np

from quadfree.tomo.geometry import check_angles


def fbp(sinogram: np.ndarray, angles_deg, filter_name: str = "ramp") -> np.ndarray:
    """Filtered back-projection (``skimage.transform.iradon``, ramp filter by default).

    Shapes: sinogram ``(N, A)``, angles ``(A,)`` → image ``(N, N)``.

    Example:
        >>> fbp(np.zeros((16, 4)), [0, 45, 90, 135]).shape
        (16, 16)
    """
    from skimage.transform import iradon

    sino = np.asarray(sinogram, dtype=np.float64)
    return iradon(sino, check_angles(angles_deg), output_size=sino.shape[0],
                  filter_name=filter_name, circle=True)


def sart(sinogram: np.ndarray, angles_deg, iterations: int = 5) -> np.ndarray:
    """SART (``skimage.transform.iradon_sart``) run for ``iterations`` sweeps.

    Shapes: sinogram ``(N, A)``, angles ``(A,)`` → image ``(N, N)``.

    Example:
        >>> sart(np.zeros((16, 4)), [0, 45, 90, 135], iterations=2).shape
        (16, 16)
    """
    from skimage.transform import iradon_sart

    sino = np.asarray(sinogram, dtype=np.float64)
    angles = check_angles(angles_deg)
    image = None
    for _ in range(iterations):
        image = iradon_sart(sino, angles, image=image)
    return image
