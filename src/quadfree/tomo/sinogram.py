"""Sinograms: simulation with scikit-image's ``radon``, view selection and the linear
angular-interpolation baseline."""

from __future__ import annotations

import numpy as np

from quadfree.errors import QuadfreeError
from quadfree.tomo.geometry import check_angles, radius


def scan_angles(count: int) -> np.ndarray:
    """``count`` equally spaced angles over [0°, 180°): ``i · 180 / count``.

    Example:
        >>> scan_angles(4).tolist()
        [0.0, 45.0, 90.0, 135.0]
    """
    from quadfree.tomo.phantoms import MAX_ANGLES

    if not 2 <= count <= MAX_ANGLES:
        raise QuadfreeError(f"count {count}: must be in [2, {MAX_ANGLES}]", param="count")
    return np.arange(count) * (180.0 / count)


def simulate(image: np.ndarray, angles_deg) -> np.ndarray:
    """Parallel-beam projections of ``image`` (zero outside the circle) by scikit-image.

    Shapes: image ``(N, N)``, angles ``(A,)`` degrees → ``(N, A)``.

    Example:
        >>> simulate(np.zeros((16, 16)), [0.0, 90.0]).shape
        (16, 2)
    """
    from skimage.transform import radon

    return radon(np.asarray(image, dtype=np.float64), check_angles(angles_deg), circle=True)


def select_views(count: int, subsample: int | None = None, views: int | None = None
                 ) -> np.ndarray:
    """Indices of the measured views among ``count`` scan angles: every ``subsample``-th
    angle, or ``views`` angles as evenly spread as the grid allows. Exactly one is given.

    Example:
        >>> select_views(16, subsample=4).tolist()
        [0, 4, 8, 12]
        >>> select_views(16, views=3).tolist()
        [0, 5, 11]
    """
    if (subsample is None) == (views is None):
        raise QuadfreeError("give exactly one of subsample or views",
                            param=("subsample", "views"))
    if subsample is not None:
        if not 2 <= subsample <= count // 2:
            raise QuadfreeError(f"subsample {subsample}: must be between 2 and {count // 2} "
                                f"for {count} angles", param="subsample")
        return np.arange(0, count, subsample)
    assert views is not None
    if not 2 <= views < count:
        raise QuadfreeError(f"views {views}: must be between 2 and {count - 1} for {count} "
                            "angles", param="views")
    return np.unique(np.round(np.arange(views) * count / views).astype(int))


def mirror_view(view: np.ndarray) -> np.ndarray:
    """The projection at θ + 180°, i.e. detector ρ → −ρ (zero where −ρ is off the detector).

    Shapes: ``(N, ...)`` → same.

    Example:
        >>> mirror_view(np.arange(4.0)).tolist()
        [0.0, 3.0, 2.0, 1.0]
    """
    view = np.asarray(view)
    n = view.shape[0]
    c = radius(n)
    src = 2 * c - np.arange(n)
    out = np.zeros_like(view)
    ok = (src >= 0) & (src < n)
    out[ok] = view[src[ok]]
    return out


def interpolate_angles(sinogram: np.ndarray, angles_deg, query_deg) -> np.ndarray:
    """Linear interpolation in angle, per detector, between measured views — the baseline.

    Periodic over 180° with the mirror symmetry ``p(ρ, θ + 180°) = p(−ρ, θ)``, so angles past
    the last measured view interpolate towards the mirrored first one.

    Shapes: sinogram ``(N, K)``, angles ``(K,)``, query ``(Q,)`` → ``(N, Q)``.

    Example:
        >>> s = np.array([[0.0, 2.0]] * 4)
        >>> interpolate_angles(s, [0.0, 90.0], [45.0])[:, 0].tolist()
        [1.0, 1.0, 1.0, 1.0]
    """
    angles = check_angles(angles_deg)
    query = np.mod(check_angles(query_deg, "query angles"), 180.0)
    base = np.mod(angles, 180.0)
    order = np.argsort(base)
    base, views = base[order], np.asarray(sinogram, dtype=np.float64)[:, order]
    mirrored = mirror_view(views)
    ext_angles = np.concatenate([base - 180.0, base, base + 180.0])
    ext = np.concatenate([mirrored, views, mirrored], axis=1)
    return np.stack([np.interp(query, ext_angles, row) for row in ext])
