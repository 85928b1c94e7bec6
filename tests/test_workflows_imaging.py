"""Survey modelling and RTM: SEG-Y round trip with geometry, time axes, image quality and conditioning, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _workflow_helpers import PROPAGATION, SPACING, default_threads, layered, smooth

from geolearn.errors import ConfigError, GeometryError, ModelError, ShapeError, StabilityError
from geolearn.imaging import (
    choose_dt,
    compensate_illumination,
    display_gain,
    executor,
    laplacian_filter,
    model_survey,
    problem_from_survey,
    rtm,
    seabed_depth,
    survey_problem,
    water_mute,
)
from geolearn.imaging.modeling import model_records
from geolearn.imaging.wavelet import early_arrival_window
from geolearn.io import read_survey, read_volume, write_survey, write_wavelet
from geolearn.processing import bandpass
from geolearn.wave import Model, ricker

__all__ = ["default_threads"]


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    path = tmp_path_factory.mktemp("survey") / "shots.sgy"
    vp = layered()
    result = model_survey(vp, SPACING, source_spacing=100.0, receiver_spacing=10.0, record_length=0.6, f0=12.0,
                          output=path, **PROPAGATION)  # fmt: skip
    return result


def test_modelled_survey_round_trips_through_segy(survey):
    p = survey.problem
    assert p.n_shots == 6 and p.n_receivers == [60] * 6
    assert round(p.dt * 1e6) == pytest.approx(p.dt * 1e6, abs=1e-9)  # whole microseconds
    back = read_survey(survey.path)
    assert back.n_shots == 6 and back.dt == pytest.approx(p.dt, abs=1e-12) and back.nt == p.nt
    for i in (0, 5):
        src, rec = back.model_positions(i)
        np.testing.assert_allclose(src, p.src_positions[i], atol=1e-6)
        np.testing.assert_allclose(rec, p.rec_positions[i], atol=1e-6)
        np.testing.assert_allclose(
            back.read(i), survey.records[i], rtol=1e-6, atol=1e-6 * np.abs(survey.records).max()
        )
    # The direct wave reaches the receiver 300 m from shot 0 after 0.2 s + the wavelet delay.
    shot0 = survey.records[0]
    src_x = p.src_positions[0, 0]
    far = int(np.argmin(np.abs(p.rec_positions[0][:, 0] - (src_x + 300.0))))
    t_peak = np.argmax(np.abs(shot0[far])) * p.dt
    assert t_peak == pytest.approx(300.0 / 1500.0 + 1.0 / 12.0, abs=0.012)


def test_choose_dt_is_whole_microseconds_and_divides_the_record_interval():
    dt = choose_dt(4500.0, (10.0, 10.0), 8)
    assert dt * 1e6 == pytest.approx(round(dt * 1e6), abs=1e-6) and dt > 0
    limit = 0.8 * Model(np.full((3, 3), 4000.0), (10.0, 10.0), nbl=0).critical_dt()
    refined = choose_dt(4000.0, (10.0, 10.0), 8, record_dt=0.002)
    assert refined <= limit < 2 * refined and round(0.002 / refined) == pytest.approx(0.002 / refined)
    with pytest.raises(GeometryError, match="microseconds"):
        choose_dt(2000.0, (10.0, 10.0), 8, record_dt=0.0020005)


def test_model_survey_rejects_bad_acquisition():
    with pytest.raises(GeometryError, match="source_spacing"):
        model_survey(layered(), SPACING, record_length=0.3)
    with pytest.raises(GeometryError, match="outside the model"):
        model_survey(layered(), SPACING, sources=np.array([[900.0, 10.0]]), receiver_spacing=10.0,
                     source_spacing=100.0, record_length=0.3, **PROPAGATION)  # fmt: skip
    with pytest.raises(StabilityError):
        model_survey(layered(), SPACING, source_spacing=100.0, receiver_spacing=10.0, record_length=0.3,
                     dt=0.004, **PROPAGATION)  # fmt: skip


def test_rtm_image_correlates_with_true_reflectivity(survey, tmp_path):
    vp = survey.velocity
    v0 = smooth(vp)
    out = tmp_path / "image.sgy"
    result = rtm(survey, v0, output=out)
    interior = (slice(5, -5), slice(8, -3))  # away from the sources' row and the lateral edges
    reflectivity = (vp - v0)[interior].ravel()
    corr = np.corrcoef(result.image[interior].ravel(), reflectivity)[0, 1]
    assert corr > 0.35, corr
    # Illumination compensation and the Laplacian both help: the raw adjoint correlates less.
    raw = rtm(survey, v0, illumination=False, laplacian=False)
    corr_raw = np.corrcoef(raw.image[interior].ravel(), reflectivity)[0, 1]
    assert corr > corr_raw + 0.05, (corr, corr_raw)
    # The written image keeps the depth axis and the coordinates.
    back = read_volume(out)
    assert back.data.shape == vp.shape
    assert back.dt * 1e3 == pytest.approx(SPACING[1])  # depth step stored in mm
    np.testing.assert_allclose(back.cdp_xy[:, 0], np.arange(vp.shape[0]) * SPACING[0])
    np.testing.assert_allclose(back.data, result.image.astype(np.float32), rtol=1e-6)


def test_rtm_from_segy_file_equals_rtm_from_arrays(survey):
    v0 = smooth(survey.velocity)
    from_arrays = rtm(survey, v0)
    from_file = rtm(survey.path, v0, SPACING, f0=12.0, **PROPAGATION)
    assert from_file.problem.dt == pytest.approx(survey.problem.dt)
    np.testing.assert_allclose(
        from_file.image, from_arrays.image, rtol=1e-4, atol=1e-4 * np.abs(from_arrays.image).max()
    )


def test_laplacian_filter_matches_the_analytic_laplacian():
    x, z = np.meshgrid(np.arange(20) * 5.0, np.arange(15) * 5.0, indexing="ij")
    field = np.sin(x / 30.0) * np.cos(z / 20.0)
    expected = (1 / 30.0**2 + 1 / 20.0**2) * field
    np.testing.assert_allclose(
        laplacian_filter(field, (5.0, 5.0))[1:-1, 1:-1], expected[1:-1, 1:-1], rtol=0.03
    )


def test_segy_survey_is_resampled_onto_a_finer_stable_step(survey):
    # A faster migration velocity needs a smaller step: an integer fraction of the recorded one.
    fast = np.full(survey.velocity.shape, 1.8 * survey.velocity.max())
    problem, observed = problem_from_survey(survey.path, fast, SPACING, f0=12.0, **PROPAGATION)
    k = round(survey.problem.dt / problem.dt)
    assert k >= 2 and problem.dt * k == pytest.approx(survey.problem.dt, abs=1e-9)
    assert round(problem.dt * 1e6) == pytest.approx(problem.dt * 1e6, abs=1e-6)
    np.testing.assert_allclose(observed[:, :, ::k], survey.records, atol=1e-6 * np.abs(survey.records).max())
    # Overrides replace header depths.
    moved, _ = problem_from_survey(survey.path, survey.velocity, SPACING, f0=12.0, source_depth=25.0,
                                   receiver_depth=35.0, **PROPAGATION)  # fmt: skip
    assert np.all(moved.src_positions[:, 1] == 25.0) and np.all(moved.rec_positions[0][:, 1] == 35.0)


def test_velocity_on_another_grid_is_refused(survey):
    with pytest.raises(ModelError, match="grid"):
        rtm(survey, np.full((50, 40), 1500.0))
    with pytest.raises(ModelError, match="finite and positive"):
        rtm(survey, np.zeros(survey.velocity.shape))


def test_laplacian_filter_leaves_a_constant_image_zero_up_to_the_edges():
    assert np.array_equal(laplacian_filter(np.full((6, 5), 3.0), (10.0, 5.0)), np.zeros((6, 5)))


def test_water_mute_zeroes_the_water_column_above_an_uneven_sea_bed():
    first_rock = [10, 12, 14, 12, 10]
    vp = np.full((5, 30), 2500.0)
    for i, k in enumerate(first_rock):
        vp[i, :k] = 1500.0 + 5.0 * np.sin(np.arange(k))  # sea water within the 2 % tolerance
    np.testing.assert_allclose(seabed_depth(vp, (10.0, 10.0)), 10.0 * np.array(first_rock))
    muted = water_mute(np.ones(vp.shape), vp, (10.0, 10.0))
    for i, k in enumerate(first_rock):  # zero down to two cells above the sea bed, kept from one cell above
        assert np.all(muted[i, : k - 1] == 0) and np.all(muted[i, k - 1 :] == 1)
    tapered = water_mute(np.ones(vp.shape), vp, (10.0, 10.0), taper=30.0)
    assert 0 < tapered[0, 7] < tapered[0, 8] < 1 and tapered[0, 6] == 0 and tapered[0, 9] == 1
    land = np.full((5, 30), 2000.0)  # no sea water on top: nothing is muted
    assert np.array_equal(water_mute(np.ones(land.shape), land, (10.0, 10.0)), np.ones(land.shape))


def test_illumination_compensation_and_display_gain():
    image, illum = np.ones((4, 50)), np.linspace(1.0, 2.0, 200).reshape(4, 50)
    np.testing.assert_allclose(compensate_illumination(image, illum, 0.5), 1 / (illum + 1.0))
    with pytest.raises(ShapeError, match="illumination has shape"):
        compensate_illumination(image, illum[:, :10])
    depth = 5.0 * np.arange(50)
    rising = np.sin(np.arange(50.0))[None, :] * np.exp(depth / 60.0)[None, :] * np.ones((4, 1))
    flat = display_gain(rising, (10.0, 5.0), kind="agc", window=40.0)
    rms = np.sqrt(np.mean(flat[:, 10:40] ** 2, axis=-1))
    np.testing.assert_allclose(rms, 1.0, rtol=0.1)  # a 4000-fold rise in amplitude evened out
    np.testing.assert_allclose(display_gain(image, (10.0, 5.0), kind="depth", power=2), image * depth**2)
    with pytest.raises(ConfigError, match="display gain 'loud'"):
        display_gain(image, (10.0, 5.0), kind="loud")


def test_delayed_records_and_an_acausal_wavelet_file_land_on_the_modelling_time_axis(survey, tmp_path):
    p = survey.problem
    k = round(0.1 / p.dt)
    gathers = [survey.records[i, :, k:] for i in range(p.n_shots)]
    delayed = write_survey(tmp_path / "delayed.sgy", gathers, p.src_positions, list(p.rec_positions), p.dt,
                           t0=k * p.dt)  # fmt: skip
    assert read_survey(delayed).t0 == pytest.approx(k * p.dt, abs=1e-5)  # the delay field holds 1/100 ms
    problem, observed = problem_from_survey(delayed, survey.velocity, SPACING, f0=12.0, **PROPAGATION)
    assert problem.nt == p.nt
    assert np.all(observed[:, :, :k] == 0)  # nothing before the first recorded sample
    np.testing.assert_allclose(
        observed[:, :, k + 1 :], survey.records[:, :, k + 1 :], atol=1e-3 * np.abs(survey.records).max()
    )
    # A zero-phase wavelet file from -0.1 s: the modelling axis starts 0.1 s before the shot, and the data
    # move with it.
    t = np.arange(-200, 201) * 0.0005
    ricker_at_zero = (1 - 2 * (np.pi * 12.0 * t) ** 2) * np.exp(-((np.pi * 12.0 * t) ** 2))
    wavelet_file = write_wavelet(tmp_path / "zero_phase.txt", ricker_at_zero, 0.0005, t0=-0.1)
    problem, observed = problem_from_survey(
        survey.path, survey.velocity, SPACING, wavelet=wavelet_file, **PROPAGATION
    )
    shift = int(np.ceil(0.1 / problem.dt))  # whole modelling steps before the shot
    assert problem.nt == p.nt + shift
    expected = ricker(12.0, problem.nt, problem.dt, shift * problem.dt, dtype=torch.float64).numpy()
    np.testing.assert_allclose(problem.wavelets[0], expected, atol=2e-3)
    np.testing.assert_allclose(
        observed[:, :, shift:], survey.records, atol=1e-6 * np.abs(survey.records).max()
    )


def test_survey_read_options_and_preprocessing_reach_the_problem(survey):
    with pytest.raises(GeometryError, match="coordinate_units='m'"):
        problem_from_survey(survey.path, survey.velocity, SPACING, coordinate_units="deg", **PROPAGATION)
    with pytest.raises(TypeError, match="coordinat_units"):
        problem_from_survey(survey.path, survey.velocity, SPACING, coordinat_units="m", **PROPAGATION)
    with pytest.raises(ConfigError, match=r"preprocess\[0\] \(bandpass\)"):
        problem_from_survey(survey.path, survey.velocity, SPACING, preprocess=[{"step": "bandpass", "high": 900.0}],
                            **PROPAGATION)  # fmt: skip
    steps = [{"step": "bandpass", "low": 4.0, "high": 20.0}]
    _, filtered = problem_from_survey(
        survey.path, survey.velocity, SPACING, f0=12.0, preprocess=steps, **PROPAGATION
    )
    np.testing.assert_allclose(filtered[2], bandpass(survey.records[2], survey.problem.dt, low=4.0, high=20.0),
                               atol=1e-5 * np.abs(survey.records).max())  # fmt: skip


def test_early_arrival_window_opens_at_the_direct_wave():
    vp = np.full((60, 30), 1500.0)
    problem = survey_problem(vp, SPACING, sources=np.array([[50.0, 20.0]]),
                             receivers=np.column_stack([np.arange(100.0, 550.0, 50.0), np.full(9, 20.0)]),
                             record_length=0.6, f0=12.0, **PROPAGATION)  # fmt: skip
    with executor() as ex:
        synthetic = model_records(problem, vp, ex)
    window = early_arrival_window(synthetic, problem.wavelets[0], problem.dt, 0.2, taper=0.04)
    arrival = (problem.rec_positions[0][:, 0] - 50.0) / 1500.0
    t = problem.time_axis
    for r, ta in enumerate(arrival):
        assert np.all(window[0, r, t < ta - 0.06] == 0)  # closed before the direct wave (one cell of slack)
        assert np.all(window[0, r, (t > ta + 0.01) & (t < ta + 0.19)] == 1)
        assert np.all(window[0, r, t > ta + 0.26] == 0)
