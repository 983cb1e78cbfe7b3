"""PSNR and SSIM against scikit-image on the same images."""

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from quadfree.errors import QuadfreeError
from quadfree.metrics import psnr, ssim


@pytest.mark.parametrize("shape", [(32, 40, 3), (24, 24), (11, 13, 3)])
def test_psnr_ssim_match_skimage(shape):
    rng = np.random.default_rng(sum(shape))
    ref = rng.random(shape)
    img = np.clip(ref + 0.05 * rng.standard_normal(shape), 0, 1)
    assert psnr(img, ref) == pytest.approx(peak_signal_noise_ratio(ref, img, data_range=1.0),
                                           abs=1e-9)
    kwargs = {"channel_axis": -1} if len(shape) == 3 else {}
    expected = structural_similarity(ref, img, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, **kwargs)
    assert ssim(img, ref) == pytest.approx(expected, abs=1e-9)


def test_identical_and_bad_images():
    x = np.random.default_rng(0).random((16, 16, 3))
    assert psnr(x, x) == math.inf
    assert ssim(x, x) == pytest.approx(1.0)
    with pytest.raises(QuadfreeError, match="differ"):
        psnr(x, x[:8])
    with pytest.raises(QuadfreeError, match="NaN"):
        ssim(np.full((16, 16), np.nan), x[..., 0])
    with pytest.raises(QuadfreeError, match="window"):
        ssim(x[:8, :8], x[:8, :8])
