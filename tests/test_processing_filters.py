"""Filters and amplitude corrections do what they must physically (geolearn.processing)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import hankel2

from geolearn.errors import ConfigError, NonFiniteError, ShapeError
from geolearn.processing import (
    agc,
    bandpass,
    correct_3d_to_2d,
    fractional_derivative,
    normalize_traces,
    resample,
    time_power_gain,
)


def ricker(t, f0):
    a = (np.pi * f0 * t) ** 2
    return (1 - 2 * a) * np.exp(-a)


def test_bandpass_is_flat_in_band_zero_outside_and_zero_phase():
    dt, nt = 0.002, 2001
    impulse = np.zeros((1, nt))
    impulse[0, nt // 2] = 1.0
    h = bandpass(impulse, dt, low=5.0, high=40.0)[0]
    f = np.fft.rfftfreq(nt, dt)
    spectrum = np.fft.rfft(np.roll(h, -(nt // 2)))  # impulse response centred at t = 0
    amp = np.abs(spectrum)
    band, far = (f >= 10) & (f <= 20), (f <= 1) | (f >= 150)
    assert np.all(np.abs(amp[band] - 1) < 0.01)
    assert amp[far].max() < 1e-3
    # -6 dB at both corners: the squared Butterworth response of a forward-backward pass
    assert np.interp([5.0, 40.0], f, amp) == pytest.approx([0.5, 0.5], abs=0.01)
    # zero phase: a symmetric impulse response, a real spectrum
    np.testing.assert_allclose(h[nt // 2 + 1 :], h[: nt // 2][::-1], atol=1e-9 * np.abs(h).max())
    assert np.abs(spectrum.imag).max() < 1e-8
    # low- and high-pass forms
    assert np.abs(np.fft.rfft(np.roll(bandpass(impulse, dt, high=40.0)[0], -(nt // 2))))[0] == pytest.approx(
        1.0
    )
    assert np.abs(np.fft.rfft(bandpass(impulse, dt, low=5.0)[0]))[0] == pytest.approx(0.0, abs=1e-6)


def test_bandpass_refuses_bad_corners():
    x = np.zeros((2, 100))
    with pytest.raises(ConfigError, match="Nyquist = 125 Hz"):
        bandpass(x, 0.004, low=3.0, high=130.0)
    with pytest.raises(ConfigError, match="low < high"):
        bandpass(x, 0.004, low=30.0, high=20.0)
    with pytest.raises(ConfigError, match="low and/or high"):
        bandpass(x, 0.004)
    with pytest.raises(ConfigError, match="low=-3"):
        bandpass(x, 0.004, low=-3, high=20)
    with pytest.raises(ShapeError, match="n_receivers, nt"):
        bandpass(np.zeros(100), 0.004, high=20.0)
    with pytest.raises(NonFiniteError):
        bandpass(np.full((1, 100), np.nan), 0.004, high=20.0)


def test_resample_keeps_band_limited_signal_and_removes_alias():
    dt, nt, new_dt = 0.001, 4000, 0.004  # new Nyquist 125 Hz
    t = dt * np.arange(nt)
    keep = np.sin(2 * np.pi * 30.0 * t)
    alias = np.sin(2 * np.pi * 300.0 * t)  # folds to 50 Hz when decimated naively
    out, got_dt = resample((keep + alias)[None], dt, new_dt)
    assert got_dt == new_dt and out.shape == (1, nt // 4)
    t_new = new_dt * np.arange(nt // 4)
    inner = slice(50, -50)  # away from the filter's edge transients
    np.testing.assert_allclose(out[0, inner], np.sin(2 * np.pi * 30.0 * t_new)[inner], atol=0.01)

    def amplitude_at(x, f_hz):
        f = np.fft.rfftfreq(x.size, new_dt)
        return np.abs(np.fft.rfft(x * np.hanning(x.size)))[np.argmin(np.abs(f - f_hz))]

    signal_amp = amplitude_at(out[0], 30.0)
    assert amplitude_at(out[0], 50.0) < 1e-3 * signal_amp
    naive = (keep + alias)[::4]  # what the test guards against: decimation without a filter
    assert amplitude_at(naive, 50.0) > 0.5 * signal_amp
    up, _ = resample(out, new_dt, 0.002)  # finer again: band-limited interpolation
    np.testing.assert_allclose(
        up[0, 100:-100], np.sin(2 * np.pi * 30 * 0.002 * np.arange(2000))[100:-100], atol=0.02
    )
    with pytest.raises(ConfigError, match="ratio p/q"):
        resample(out, 0.004, 0.004 * np.pi)


def test_fractional_derivative_orders():
    dt, nt = 0.001, 2000
    t = dt * np.arange(nt) - 1.0
    sigma = 0.02
    g = np.exp(-(t**2) / (2 * sigma**2))[None]
    d1 = fractional_derivative(g, dt, 1.0)[0]
    np.testing.assert_allclose(d1, -t / sigma**2 * g[0], atol=1e-9 * np.abs(d1).max())
    # compositions, on a zero-mean pulse (whose fractional integrals have short tails, so cutting
    # the trace at nt samples loses nothing): half + half = one, half-integral undone by half-derivative
    pulse = ricker(t + 0.8, 15.0)[None]
    half_twice = fractional_derivative(fractional_derivative(pulse, dt, 0.5), dt, 0.5)[0]
    d1 = fractional_derivative(pulse, dt, 1.0)[0]
    np.testing.assert_allclose(half_twice, d1, atol=1e-6 * np.abs(d1).max())  # measured 9e-8
    back = fractional_derivative(fractional_derivative(pulse, dt, -0.5), dt, 0.5)[0]
    np.testing.assert_allclose(back, pulse[0], atol=1e-4)  # measured 7e-6
    # the half-integral is causal: nothing before the pulse starts
    assert np.abs(fractional_derivative(pulse, dt, -0.5)[0, :100]).max() < 1e-6


def test_3d_to_2d_turns_a_point_source_into_a_line_source():
    # constant velocity: 3D Green's function delta(t - r/c) / (4 pi r) and 2D -(i/4) H0^(2)(omega r / c),
    # both convolved with a 15 Hz Ricker (numpy's e^{-i omega t} forward transform)
    c, dt, nt, f0, lag = 2000.0, 0.001, 4000, 15.0, 0.1
    t = dt * np.arange(nt)
    n = 2 * nt
    omega = 2 * np.pi * np.fft.rfftfreq(n, dt)
    wavelet = np.fft.rfft(ricker(t - lag, f0), n=n)
    peaks = {}
    for r in (500.0, 1000.0, 2000.0):
        g3 = ricker(t - lag - r / c, f0) / (4 * np.pi * r)
        g2_spec = np.zeros_like(wavelet)
        g2_spec[1:] = wavelet[1:] * (-0.25j) * hankel2(0, omega[1:] * r / c)
        g2 = np.fft.irfft(g2_spec, n=n)[:nt]
        out = correct_3d_to_2d(g3[None], dt, velocity=c, delay=lag)[0]
        err = np.linalg.norm(out - g2) / np.linalg.norm(g2)
        # measured 0.031, 0.0155, 0.0077: sqrt(t) varies across the wavelet and the far-field form of
        # the Hankel function is approximate, both errors falling like 1/r
        assert err < 0.035 * 500.0 / r, (r, err)
        # ignoring the wavelet's delay overstates amplitudes by sqrt(1 + lag / (r / c))
        late = correct_3d_to_2d(g3[None], dt, velocity=c)[0]
        assert np.abs(late).max() / np.abs(out).max() == pytest.approx(np.sqrt(1 + lag / (r / c)), rel=0.01)
        assert np.argmax(np.abs(out)) == np.argmax(np.abs(g2))  # same phase: peak at the same sample
        peaks[r] = np.abs(out).max()
    # line sources decay like 1/sqrt(r), point sources like 1/r
    assert peaks[500.0] / peaks[2000.0] == pytest.approx(2.0, rel=0.02)
    # without a velocity the shape is the same, the scale c sqrt(2 pi) missing
    g3 = ricker(t - lag - 0.5, f0)[None] / (4 * np.pi * 1000.0)
    np.testing.assert_allclose(
        correct_3d_to_2d(g3, dt) * c * np.sqrt(2 * np.pi), correct_3d_to_2d(g3, dt, velocity=c), rtol=1e-12
    )


def test_time_power_gain_normalisation_and_agc():
    dt, nt = 0.004, 500
    t = 0.1 + dt * np.arange(nt)
    ones = np.ones((3, nt))
    np.testing.assert_allclose(time_power_gain(ones, dt, power=2.0, t0=0.1), np.tile(t**2, (3, 1)))
    np.testing.assert_allclose(time_power_gain(ones, dt, power=1.0, t0=-0.1)[0, :25], 0.0)  # before the shot
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, nt)) * np.array([[0.1], [1.0], [10.0], [0.0]])
    rms = np.sqrt(np.mean(normalize_traces(x) ** 2, axis=1))
    np.testing.assert_allclose(rms, [1, 1, 1, 0])
    np.testing.assert_allclose(np.abs(normalize_traces(x, kind="max")).max(axis=1), [1, 1, 1, 0])
    # AGC flattens an envelope rising a hundredfold
    envelope = np.logspace(0, 2, nt)
    y = (np.sin(2 * np.pi * 20 * t) * envelope)[None]
    out = agc(y, dt, window=0.2)
    window_rms = [np.sqrt(np.mean(out[0, i : i + 50] ** 2)) for i in range(50, nt - 100, 50)]
    np.testing.assert_allclose(window_rms, 1.0, rtol=0.1)
    with pytest.raises(ConfigError, match="AGC window=5 s is 1250 samples"):
        agc(y, dt, window=5.0)
    with pytest.raises(ConfigError, match="'rms' or 'max'"):
        normalize_traces(x, kind="l1")
