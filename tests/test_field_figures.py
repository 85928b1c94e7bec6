"""Figures of the field workflow: gathers on one colour scale, wavelets and their spectra, display gain."""

from __future__ import annotations

import numpy as np
import pytest

from geolearn.errors import ConfigError, ShapeError
from geolearn.viz import plot_gather, plot_wavelets


def test_gathers_side_by_side_share_the_colour_scale_given():
    rng = np.random.default_rng(0)
    loud, quiet = 10.0 * rng.standard_normal((5, 40)), rng.standard_normal((5, 40))
    limits = [plot_gather(g, dt=0.004, scale=7.5).axes[0].images[0].get_clim() for g in (loud, quiet)]
    assert limits == [(-7.5, 7.5), (-7.5, 7.5)]
    own = plot_gather(quiet, dt=0.004).axes[0].images[0].get_clim()  # without it, each its own percentile
    assert own[1] == pytest.approx(np.percentile(np.abs(quiet), 99))
    with pytest.raises(ConfigError, match="scale must be a positive amplitude"):
        plot_gather(quiet, dt=0.004, scale=0.0)


def test_plot_wavelets_draws_each_wavelet_and_its_spectrum_peak():
    dt = 0.002
    t = np.arange(300) * dt
    burst = np.sin(2 * np.pi * 12.0 * t) * np.exp(-(((t - 0.2) / 0.05) ** 2))
    fig = plot_wavelets({"12 Hz burst": burst, "half": 0.5 * burst}, dt, fmax=50.0)
    time_ax, freq_ax = fig.axes[:2]
    assert len(time_ax.lines) == 2 and len(freq_ax.lines) == 2
    f, db = freq_ax.lines[0].get_data()
    assert f[np.argmax(db)] == pytest.approx(12.0, abs=0.5)
    np.testing.assert_allclose(freq_ax.lines[1].get_data()[1], db)  # dB of each one's own peak
    with pytest.raises(ShapeError, match="1-D wavelets"):
        plot_wavelets({"bad": np.zeros((2, 3))}, dt)
