"""Survey modelling and RTM: SEG-Y round trip with geometry, image quality, errors."""

from __future__ import annotations

import numpy as np
import pytest
from _workflow_helpers import PROPAGATION, SPACING, layered, single_thread_kernels, smooth

from geolearn.errors import GeometryError, ModelError, StabilityError
from geolearn.imaging import choose_dt, model_survey, problem_from_survey, rtm
from geolearn.imaging.rtm import laplacian_filter
from geolearn.io import read_survey, read_volume
from geolearn.wave import Model

__all__ = ["single_thread_kernels"]


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
