"""high_pass and band_limited_psnr: the recoverable band, truth and image filtered alike."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from geolearn.errors import ConfigError, ShapeError
from geolearn.learned_inversion.metrics import band_limited_psnr, high_pass, psnr

SHAPE, SPACING = (64, 40), (10.0, 10.0)


def _fields(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fine checkerboard-like detail (period 2-4 cells) and a smooth trend (period > 5 km)."""
    x, z = np.meshgrid(np.arange(SHAPE[0]) * SPACING[0], np.arange(SHAPE[1]) * SPACING[1], indexing="ij")
    rng = np.random.default_rng(seed)
    detail = 50.0 * np.cos(2 * np.pi * x / 20.0) * np.cos(2 * np.pi * z / (30.0 + 10 * rng.uniform()))
    trend = 300.0 + 200.0 * np.sin(2 * np.pi * (x + z) / 8000.0 + rng.uniform())
    return torch.as_tensor(detail), torch.as_tensor(trend)


def test_constant_maps_to_zero_and_fine_detail_passes():
    const = torch.full(SHAPE, 1234.5, dtype=torch.float64)
    assert float(high_pass(const, 100.0, SPACING).abs().max()) < 1e-9
    detail, _ = _fields(0)
    out = high_pass(detail, 100.0, SPACING)
    # A 20 m x 30-40 m pattern under a 100 m Gaussian: the smoothing removes nearly all of it.
    assert float((out - detail).norm() / detail.norm()) < 1e-3
    assert out.dtype == torch.float64 and out.shape == SHAPE


def test_smooth_error_does_not_count_in_the_band_but_does_in_plain_psnr():
    for seed in range(3):
        detail, trend = _fields(seed)
        truth = detail + trend
        image = detail  # the smooth part missing, as from Born imaging
        plain = float(psnr(image, truth))
        band = float(band_limited_psnr(image, truth, 100.0, SPACING))
        # Measured over seeds 0-2: plain -11.2 to -5.8 dB, band 28.0 to 35.2 dB (an 8 km trend
        # under a 100 m filter; what is left of it sits at the reflected edges).
        assert plain < 0.0
        assert band > 25.0


def test_batch_equals_single_and_matches_psnr_of_filtered_images():
    a, t = _fields(1)
    b, _ = _fields(2)
    est = torch.stack([a, b])
    ref = torch.stack([a + 0.1 * t, b - 0.2 * t])
    batch = band_limited_psnr(est, ref, 80.0, SPACING)
    assert batch.shape == (2,)
    for i in range(2):
        single = band_limited_psnr(est[i], ref[i], 80.0, SPACING)
        expected = psnr(high_pass(est[i], 80.0, SPACING), high_pass(ref[i], 80.0, SPACING))
        assert float(single) == pytest.approx(float(batch[i]), rel=1e-12)
        assert float(single) == pytest.approx(float(expected), rel=1e-12)


def test_sigma_is_in_metres_per_axis():
    """A coarser grid with the same sigma in metres smooths the same physical length."""
    x = np.arange(0, 2000.0, 10.0)
    fine = np.outer(np.cos(2 * np.pi * x / 400.0), np.ones(8))
    coarse = fine[::2]
    hp_fine = high_pass(torch.as_tensor(fine), 150.0, (10.0, 10.0))[::2]
    hp_coarse = high_pass(torch.as_tensor(coarse), 150.0, (20.0, 10.0))
    interior = slice(20, -20)
    diff = float((hp_fine[interior] - hp_coarse[interior]).abs().max())
    assert diff < 0.02 * float(hp_fine.abs().max())


@pytest.mark.parametrize(
    ("sigma", "spacing", "error"),
    [(0.0, SPACING, ConfigError), (math.nan, SPACING, ConfigError), (100.0, (10.0,), ConfigError),
     (100.0, (10.0, -1.0), ConfigError)],
)  # fmt: skip
def test_bad_arguments_are_named(sigma, spacing, error):
    with pytest.raises(error, match=r"sigma_m|spacing"):
        high_pass(torch.zeros(SHAPE), sigma, spacing)


def test_shape_errors():
    with pytest.raises(ShapeError, match="differ in shape"):
        band_limited_psnr(torch.zeros(4, 5), torch.zeros(5, 4), 10.0, SPACING)
    with pytest.raises(ShapeError, match=r"\(nx, nz\)"):
        high_pass(torch.zeros(5), 10.0, SPACING)


@pytest.mark.parametrize("sigma_m", [30.0, 150.0, 1000.0])
def test_high_pass_is_scipys_2d_gaussian_filter_and_differentiable(sigma_m):
    """The smoothing matrices reproduce ``scipy.ndimage.gaussian_filter`` (reflected edges, also for a
    kernel wider than the grid) to rounding, on a batch; the filter's gradient is its adjoint."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, *SHAPE))
    expected = x - gaussian_filter(x, (0.0, sigma_m / SPACING[0], sigma_m / SPACING[1]), mode="reflect")
    np.testing.assert_allclose(high_pass(torch.as_tensor(x), sigma_m, SPACING).numpy(), expected, atol=1e-12)
    small = torch.tensor(rng.normal(size=(6, 5)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: high_pass(a, sigma_m, SPACING), (small,))
