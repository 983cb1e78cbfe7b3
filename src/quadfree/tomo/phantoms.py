"""Test images for tomography: the Shepp–Logan phantom and user images (PNG or NPY)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from quadfree.errors import QuadfreeError
from quadfree.safeio import load_npy, one_line, read_image, read_text
from quadfree.tomo.geometry import circle_mask

PHANTOMS = ("shepp-logan",)
MAX_SIZE = 4096            # largest image side (pixels) or detector count accepted
MAX_ANGLES = 4096          # most projection angles in a scan or an angle list


def shepp_logan(size: int = 128) -> np.ndarray:
    """The modified Shepp–Logan phantom shipped with scikit-image, resized to ``size×size``
    (anti-aliased) and zero outside the reconstruction circle. Values in [0, 1].

    Shapes: → ``(size, size)`` float64.

    Example:
        >>> img = shepp_logan(64)
        >>> img.shape, float(img.max()) <= 1.0, float(img[0, 0])
        ((64, 64), True, 0.0)
    """
    from skimage.data import shepp_logan_phantom
    from skimage.transform import resize

    if size < 8:
        raise QuadfreeError(f"size {size}: must be at least 8", param="size")
    img = resize(shepp_logan_phantom(), (size, size), anti_aliasing=True, order=1)
    return np.clip(img, 0.0, None) * circle_mask(size)


def phantom(name: str, size: int = 128) -> np.ndarray:
    """A phantom by name (one of :data:`PHANTOMS`).

    Example:
        >>> phantom("shepp-logan", 32).shape
        (32, 32)
    """
    if name != "shepp-logan":
        raise QuadfreeError(f"phantom {name!r}: unknown; choose from {list(PHANTOMS)}",
                            param="phantom")
    return shepp_logan(size)


def check_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Validate an attenuation image: 2-D, square, at least 8×8, finite, non-negative.

    Returns it as float64 with everything outside the reconstruction circle set to zero (the
    parallel-beam geometry only sees the disc; :func:`pixels_outside_circle` tells how much was
    there).

    Example:
        >>> check_image(np.ones((8, 8))).shape
        (8, 8)
    """
    img = np.asarray(image)
    if img.ndim != 2:
        raise QuadfreeError(f"{name}: expected a 2-D grey image, got shape {img.shape}")
    if img.shape[0] != img.shape[1]:
        raise QuadfreeError(f"{name}: image must be square, got {img.shape[0]}×{img.shape[1]}")
    if not 8 <= img.shape[0] <= MAX_SIZE:
        raise QuadfreeError(f"{name}: image side must be in [8, {MAX_SIZE}], got {img.shape}")
    if not np.issubdtype(img.dtype, np.number) or np.issubdtype(img.dtype, np.complexfloating):
        raise QuadfreeError(f"{name}: expected real numbers, got dtype {img.dtype}")
    img = img.astype(np.float64)
    if not np.isfinite(img).all():
        raise QuadfreeError(f"{name}: {int((~np.isfinite(img)).sum())} non-finite value(s)")
    if (img < 0).any():
        raise QuadfreeError(f"{name}: attenuation must be non-negative, found minimum "
                            f"{img.min():.4g}")
    return img * circle_mask(img.shape[0])


def pixels_outside_circle(image: np.ndarray) -> int:
    """How many non-zero pixels of ``image`` lie outside the reconstruction circle.

    Example:
        >>> pixels_outside_circle(np.ones((8, 8)))
        17
    """
    return int((np.asarray(image)[~circle_mask(np.asarray(image).shape[0])] != 0).sum())


def load_image(path: str | Path, notes: list[str] | None = None) -> np.ndarray:
    """Read a PNG (grey, or RGB(A) averaged to grey, scaled to [0, 1]) or NPY image, at most
    :data:`MAX_SIZE` pixels a side. A colour image's conversion is appended to ``notes``.

    The raw array is returned unvalidated so callers can report what was outside the circle;
    pass it through :func:`check_image`.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "im.npy"; np.save(p, np.eye(8))
        >>> load_image(p).shape
        (8, 8)
    """
    path = Path(path)
    name = f"image {path}"
    if not path.is_file():
        raise QuadfreeError(f"{name}: no such file", param="image")
    try:
        if path.suffix.lower() == ".npy":
            return load_npy(path, name, max_bytes=MAX_SIZE * MAX_SIZE * 8, kinds="biuf")
        arr = read_image(path, name, max_pixels=MAX_SIZE * MAX_SIZE)
    except QuadfreeError as exc:               # the message starts with "image PATH"
        raise QuadfreeError(str(exc), param="image") from None
    scale = float(np.iinfo(arr.dtype).max) if np.issubdtype(arr.dtype, np.integer) else 1.0
    arr = arr.astype(np.float64) / scale
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        if notes is not None:
            alpha = " (alpha ignored)" if arr.shape[-1] == 4 else ""
            notes.append(f"colour image converted to grey by averaging its R, G, B "
                         f"channels{alpha}, then scaled to [0, 1]")
        arr = arr[..., :3].mean(-1)
    elif arr.ndim == 3 and arr.shape[-1] in (1, 2):      # grey (+ alpha)
        arr = arr[..., 0]
    return arr


def load_sinogram(path: str | Path, angles_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a user sinogram (NPY, detectors × angles) and its angle list in degrees
    (NPY, or text with one number per line / comma separated).

    Shapes: → sinogram ``(N, K)``, angles ``(K,)``.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> np.save(d / "s.npy", np.ones((8, 3))); _ = (d / "a.txt").write_text("0,60,120")
        >>> s, a = load_sinogram(d / "s.npy", d / "a.txt"); s.shape, a.tolist()
        ((8, 3), [0.0, 60.0, 120.0])
    """
    path, angles_path = Path(path), Path(angles_path)
    for p, flag in ((path, "sinogram"), (angles_path, "angles_file")):
        if not p.is_file():
            raise QuadfreeError(f"{flag} {p}: no such file", param=flag)
    try:
        sino = load_npy(path, f"sinogram {path}", max_bytes=2 * MAX_SIZE * MAX_ANGLES * 8)
    except QuadfreeError as exc:
        raise QuadfreeError(str(exc), param="sinogram") from None
    try:
        if angles_path.suffix.lower() == ".npy":
            angles = load_npy(angles_path, f"angles_file {angles_path}",
                              max_bytes=MAX_ANGLES * 8)
        else:
            text = read_text(angles_path, f"angles_file {angles_path}",
                             max_bytes=64 * MAX_ANGLES).replace(",", " ").split()
            try:
                angles = np.array([float(v) for v in text])
            except ValueError as exc:
                raise QuadfreeError(one_line(f"angles_file {angles_path}: not a list of "
                                             f"numbers ({exc})")) from None
        if np.issubdtype(np.asarray(angles).dtype, np.number):
            _check_scan_angles(np.asarray(angles, dtype=np.float64).ravel(),
                               f"angles_file {angles_path}")
    except QuadfreeError as exc:
        raise QuadfreeError(str(exc), param="angles_file") from None
    return check_sinogram(sino, angles, name=str(path))


def _check_scan_angles(angles: np.ndarray, name: str) -> None:
    """Refuse angles outside [0°, 180°), non-finite or repeated (``name`` leads the message)."""
    if not np.isfinite(angles).all() or (angles < 0).any() or (angles >= 180).any():
        raise QuadfreeError(f"{name}: angles must be finite degrees in [0, 180)")
    if np.unique(angles).size != angles.size:
        raise QuadfreeError(f"{name}: angles must be distinct")


def check_sinogram(sinogram: np.ndarray, angles: np.ndarray, name: str = "sinogram"
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Validate a sinogram ``(N, K)`` against its ``K`` angles (degrees in [0, 180)).

    Example:
        >>> check_sinogram(np.ones((8, 2)), np.array([0.0, 90.0]))[0].shape
        (8, 2)
    """
    sino = np.asarray(sinogram)
    a = np.asarray(angles)
    if sino.ndim != 2:
        raise QuadfreeError(f"{name}: expected a 2-D sinogram (detectors × angles), got shape "
                            f"{sino.shape}")
    if not np.issubdtype(sino.dtype, np.number) or not np.issubdtype(a.dtype, np.number):
        raise QuadfreeError(f"{name}: sinogram and angles must be numbers")
    sino, a = sino.astype(np.float64), a.astype(np.float64).ravel()
    if a.size != sino.shape[1]:
        raise QuadfreeError(f"{name}: {sino.shape[1]} sinogram columns but {a.size} angles")
    if sino.shape[0] < 8:
        raise QuadfreeError(f"{name}: at least 8 detector rows needed, got {sino.shape[0]}")
    if sino.shape[0] > 2 * MAX_SIZE or a.size > MAX_ANGLES:
        raise QuadfreeError(f"{name}: {sino.shape[0]} detectors × {a.size} angles; the limits "
                            f"are {2 * MAX_SIZE} detectors and {MAX_ANGLES} angles")
    if not np.isfinite(sino).all():
        raise QuadfreeError(f"{name}: {int((~np.isfinite(sino)).sum())} non-finite value(s)")
    if (sino < 0).any():
        raise QuadfreeError(f"{name}: projections of an attenuation image are non-negative, "
                            f"found minimum {sino.min():.4g}")
    _check_scan_angles(a, name)
    return sino, a
