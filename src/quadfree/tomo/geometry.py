"""Parallel-beam geometry, identical to :func:`skimage.transform.radon` with ``circle=True``.

An ``N×N`` image lives in the unit disc: pixel ``(row, col)`` sits at
``(X, Y) = ((col − c)/R, (row − c)/R)`` with ``c = R = N // 2``. Detector ``j`` of the
sinogram has coordinate ``ρ_j = (j − c)/R``; a view at angle θ (degrees, as in scikit-image)
integrates along the line

    X = cos θ · ρ + sin θ · t,    Y = −sin θ · ρ + cos θ · t,

for ``t`` on the chord ``[−√(1−ρ²), √(1−ρ²)]``. Sinogram values are in pixel units:
``p(ρ, θ) = R · ∫ f(X, Y) dt``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from quadfree.errors import QuadfreeError


def radius(size: int) -> int:
    """Radius R of the reconstruction circle in pixels (``size // 2``, as scikit-image).

    Example:
        >>> radius(128)
        64
    """
    return size // 2


def detector_positions(size: int) -> np.ndarray:
    """Normalised detector coordinates ρ of the ``size`` sinogram rows.

    Shapes: → ``(size,)``.

    Example:
        >>> detector_positions(4).tolist()
        [-1.0, -0.5, 0.0, 0.5]
    """
    r = radius(size)
    return (np.arange(size) - r) / r


def chord_half_length(rho: np.ndarray) -> np.ndarray:
    """Half length ``√(1 − ρ²)`` of the chord of each line inside the unit circle (0 outside).

    Shapes: any → same.

    Example:
        >>> chord_half_length(np.array([0.0, 0.6, 1.0])).tolist()
        [1.0, 0.8, 0.0]
    """
    return np.sqrt(np.clip(1.0 - np.asarray(rho, dtype=np.float64) ** 2, 0.0, None))


def line_points(rho, theta_rad, t):
    """Image-plane point ``(X, Y)`` at parameter t on line (ρ, θ); works on numpy or torch.

    θ is in radians here. Shapes: broadcastable arrays → two arrays of the broadcast shape.

    Example:
        >>> X, Y = line_points(np.array(0.5), np.array(np.pi / 2), np.array(0.25))
        >>> round(float(X), 6), round(float(Y), 6)
        (0.25, -0.5)
    """
    lib = np if isinstance(rho, np.ndarray | float) else __import__("torch")
    c, s = lib.cos(theta_rad), lib.sin(theta_rad)
    return c * rho + s * t, -s * rho + c * t


def line_params(X, Y, theta_rad):
    """Inverse of :func:`line_points`: ``(ρ, t)`` of point ``(X, Y)`` seen at angle θ (radians).

    Example:
        >>> rho, t = line_params(np.array(0.25), np.array(-0.5), np.array(np.pi / 2))
        >>> round(float(rho), 6), round(float(t), 6)
        (0.5, 0.25)
    """
    lib = np if isinstance(X, np.ndarray | float) else __import__("torch")
    c, s = lib.cos(theta_rad), lib.sin(theta_rad)
    return c * X - s * Y, s * X + c * Y


def circle_mask(size: int) -> np.ndarray:
    """Boolean mask of the pixels inside the reconstruction circle (scikit-image's rule).

    Shapes: → ``(size, size)``.

    Example:
        >>> int(circle_mask(8).sum())
        47
    """
    c = size // 2
    rr, cc = np.ogrid[:size, :size]
    return (rr - c) ** 2 + (cc - c) ** 2 <= radius(size) ** 2


def check_angles(angles_deg, name: str = "angles") -> np.ndarray:
    """Validate a list of projection angles in degrees: 1-D, finite, not empty.

    Example:
        >>> check_angles([0, 45.0]).tolist()
        [0.0, 45.0]
    """
    a = np.asarray(angles_deg, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise QuadfreeError(f"{name}: expected a non-empty 1-D list of angles, got shape "
                            f"{a.shape}")
    if not np.isfinite(a).all():
        raise QuadfreeError(f"{name}: angles must be finite")
    return a


def radon_bilinear(image: np.ndarray, angles_deg, samples_per_pixel: int = 1) -> np.ndarray:
    """Line integrals of the bilinearly interpolated image along every (ρ_j, θ_i).

    With ``samples_per_pixel=1`` this sums the same points as scikit-image's ``radon``
    (one sample per pixel along the full detector width); larger values integrate the
    bilinear image more finely along each chord (midpoint rule on ``[−√(1−ρ²), √(1−ρ²)]``).
    Written from the geometry above, so it is an independent check of it.

    Shapes: image ``(N, N)``, angles ``(A,)`` → sinogram ``(N, A)``.

    Example:
        >>> img = np.zeros((16, 16)); img[8, 8] = 1.0
        >>> radon_bilinear(img, [0.0, 90.0]).sum(0).round(6).tolist()
        [1.0, 1.0]
    """
    image = np.asarray(image, dtype=np.float64)
    n = image.shape[0]
    c = r = radius(n)
    theta = np.deg2rad(check_angles(angles_deg))
    rho = detector_positions(n)
    if samples_per_pixel == 1:
        t = (np.arange(n) - c) / r                              # one sample per pixel row
        tt = np.broadcast_to(t, (n, n))
        weight = np.ones((n, n))
    else:
        m = samples_per_pixel * n
        u = (np.arange(m) + 0.5) / m * 2.0 - 1.0               # midpoints on [−1, 1]
        half = chord_half_length(rho)
        tt = half[:, None] * u[None, :]                        # (N, m)
        weight = np.broadcast_to(half[:, None] * 2.0 / m * r, (n, m))
    out = np.empty((n, theta.size))
    for i, th in enumerate(theta):
        X, Y = line_points(rho[:, None], th, tt)
        vals = ndimage.map_coordinates(image, [Y * r + c, X * r + c], order=1, mode="grid-constant",
                                       cval=0.0)
        out[:, i] = (vals * weight).sum(1)
    return out
