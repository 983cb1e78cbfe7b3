"""Parallel-beam geometry against scikit-image's radon, view selection and the linear baseline."""

import numpy as np
import pytest
from skimage.transform import radon

from quadfree.errors import QuadfreeError
from quadfree.tomo import (
    chord_half_length,
    circle_mask,
    detector_positions,
    interpolate_angles,
    line_params,
    line_points,
    mirror_view,
    radon_bilinear,
    scan_angles,
    select_views,
    shepp_logan,
    simulate,
)

ANGLES = np.array([0.0, 17.5, 45.0, 90.0, 133.0, 179.0])


@pytest.mark.parametrize("size", [32, 33])
def test_geometry_reproduces_skimage_radon_exactly(size):
    img = shepp_logan(size)
    ours = radon_bilinear(img, ANGLES)
    ref = radon(img, ANGLES, circle=True)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)


def test_chord_quadrature_matches_radon_to_one_percent():
    img = shepp_logan(64)
    ref = radon(img, ANGLES, circle=True)
    fine = radon_bilinear(img, ANGLES, samples_per_pixel=4)
    assert np.abs(fine - ref).max() < 0.01 * ref.max()


def test_line_parameters_round_trip_and_chords():
    rng = np.random.default_rng(0)
    rho, th, t = rng.uniform(-1, 1, 50), rng.uniform(0, 2 * np.pi, 50), rng.uniform(-1, 1, 50)
    X, Y = line_points(rho, th, t)
    r2, t2 = line_params(X, Y, th)
    np.testing.assert_allclose(r2, rho, atol=1e-12)
    np.testing.assert_allclose(t2, t, atol=1e-12)
    assert detector_positions(64)[32] == 0.0 and detector_positions(64)[0] == -1.0
    np.testing.assert_allclose(chord_half_length(np.array([0.0, 0.8, 1.0, 1.5])),
                               [1.0, 0.6, 0.0, 0.0])
    assert circle_mask(64).sum() == ((np.indices((64, 64)) - 32) ** 2).sum(0).__le__(
        32 ** 2).sum()


@pytest.mark.parametrize("size", [64, 33])
def test_mirror_view_is_the_view_180_degrees_on(size):
    img = shepp_logan(size)
    np.testing.assert_allclose(simulate(img, [210.0])[:, 0],
                               mirror_view(simulate(img, [30.0])[:, 0]), atol=1e-9)


def test_linear_interpolation_baseline():
    img = shepp_logan(32)
    angles = scan_angles(16)
    full = simulate(img, angles)
    idx = select_views(16, subsample=4)
    lin = interpolate_angles(full[:, idx], angles[idx], angles)
    np.testing.assert_array_equal(lin[:, idx], full[:, idx])            # measured views kept
    np.testing.assert_allclose(lin[:, 2], 0.5 * (full[:, 0] + full[:, 4]))
    wrap = 0.75 * full[:, 12] + 0.25 * mirror_view(full[:, 0])          # past the last view
    np.testing.assert_allclose(lin[:, 13], wrap)


def test_select_views_and_scan_angles():
    assert scan_angles(128)[8] == 8 * 180 / 128
    assert select_views(128, subsample=16).tolist() == list(range(0, 128, 16))
    assert select_views(128, views=10).size == 10
    for kwargs in ({"subsample": 1}, {"subsample": 65}, {"views": 128}, {"views": 1}, {}):
        with pytest.raises(QuadfreeError):
            select_views(128, **kwargs)
