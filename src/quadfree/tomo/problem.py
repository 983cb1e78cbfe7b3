"""Turning user input (phantom, image file or measured sinogram) into a sparse-view problem,
and writing an experiment's outputs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quadfree.atomic import atomic_dir
from quadfree.errors import QuadfreeError
from quadfree.tomo.phantoms import (
    check_image,
    load_image,
    load_sinogram,
    phantom,
    pixels_outside_circle,
)
from quadfree.tomo.sinogram import scan_angles, simulate


@dataclass
class Problem:
    """A full sinogram at ``angles`` (degrees) and, when known, the true image.

    ``source`` says where it came from; ``notes`` lists anything changed on the way in.
    """

    sinogram: np.ndarray
    angles: np.ndarray
    reference: np.ndarray | None
    source: str
    notes: list[str]


def make_problem(*, phantom_name: str | None = None, image_path: str | Path | None = None,
                 sinogram_path: str | Path | None = None, angles_path: str | Path | None = None,
                 size: int = 64, num_angles: int = 128) -> Problem:
    """Build the problem from exactly one source.

    * ``phantom_name`` (size ``size``) or ``image_path``: projected with scikit-image's
      ``radon`` at ``num_angles`` angles over [0°, 180°);
    * ``sinogram_path`` + ``angles_path``: a measured sinogram, sorted by angle.

    Example:
        >>> p = make_problem(phantom_name="shepp-logan", size=32, num_angles=16)
        >>> p.sinogram.shape, p.angles[:2].tolist()
        ((32, 16), [0.0, 11.25])
    """
    given = [x is not None for x in (phantom_name, image_path, sinogram_path)]
    if sum(given) != 1:
        raise QuadfreeError("give exactly one of phantom, image or sinogram",
                            param=("phantom", "image", "sinogram"))
    notes: list[str] = []
    if sinogram_path is not None:
        if angles_path is None:
            raise QuadfreeError("sinogram needs angles_file with one angle per column",
                                param=("sinogram", "angles_file"))
        sino, angles = load_sinogram(sinogram_path, angles_path)
        order = np.argsort(angles)
        return Problem(sino[:, order], angles[order], None, f"sinogram {sinogram_path}", notes)
    scan_angles(num_angles)                     # checks the count before any work
    if phantom_name is not None:
        image = phantom(phantom_name, size)
        source = f"phantom {phantom_name} {size}×{size}"
    else:
        raw = load_image(image_path, notes)
        image = check_image(raw, name=f"image {image_path}")
        outside = pixels_outside_circle(raw)
        if outside:
            notes.append(f"{outside} non-zero pixel(s) outside the reconstruction circle were "
                         "set to zero")
        source = f"image {image_path}"
    angles = scan_angles(num_angles)
    return Problem(simulate(image, angles), angles, image, source, notes)


def write_outputs(result, out_dir: str | Path, problem: Problem, extra: dict | None = None
                  ) -> Path:
    """Write ``figure.png``, ``metrics.json`` and ``arrays.npz`` (sinograms, images, angles)
    into ``out_dir`` atomically (the directory appears complete or not at all).

    Returns the directory.
    """
    from quadfree.tomo.figure import plot_sparse_view

    out = Path(out_dir)
    metrics = dict(result.metrics)
    metrics["source"] = problem.source
    metrics["notes"] = problem.notes
    metrics.update(extra or {})
    with atomic_dir(out) as tmp:
        plot_sparse_view(result, tmp / "figure.png",
                         title=f"{problem.source}: {result.train_index.size} of "
                               f"{result.angles.size} views")
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        arrays = {f"sinogram_{k}": v for k, v in result.sinograms.items()}
        arrays.update({f"image_{k}": v for k, v in result.images.items()})
        np.savez_compressed(tmp / "arrays.npz", angles=result.angles,
                            train_index=result.train_index, **arrays)
    return out
