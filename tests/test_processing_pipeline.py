"""Mutes, trace editing, line projection and the declarative [preprocess] pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from geolearn.errors import ConfigError, GeometryError, NonFiniteError, ShapeError
from geolearn.io import read_survey, write_survey
from geolearn.io.line import StraightLine, fit_line
from geolearn.processing import (
    STEPS,
    ShotGeometry,
    bandpass,
    edit_traces,
    mute,
    noisy_traces,
    parse_steps,
    process_survey,
    project_to_line,
    resample,
)

DT, NT = 0.004, 500
T = DT * np.arange(NT)


def line_geometry(n=41, spacing=25.0, source_x=0.0, depth=0.0):
    rec = np.column_stack([spacing * np.arange(n), np.zeros(n), np.full(n, -depth)])
    return ShotGeometry(np.array([source_x, 0.0, 0.0]), rec)


@pytest.mark.parametrize("kind", ["top", "direct"])
def test_top_and_direct_mutes_zero_everything_before_the_line(kind):
    geom = line_geometry(depth=300.0)  # receivers 300 m below the source
    v, taper, delay = 1500.0, 0.05, 0.02
    out = mute(np.ones((41, NT)), DT, geom, v, kind=kind, taper=taper, delay=delay)
    distance = geom.offsets() if kind == "top" else np.hypot(geom.offsets(), 300.0)
    line = delay + distance[:, None] / v
    assert np.all(out[T[None, :] <= line - taper] == 0)
    assert np.all(out[T[None, :] >= line] == 1)
    ramp = (T[None, :] > line - taper) & (T[None, :] < line)
    phase = ((T[None, :] - line + taper) / taper)[ramp]
    np.testing.assert_allclose(out[ramp], 0.5 - 0.5 * np.cos(np.pi * phase), atol=1e-12)  # cosine taper
    assert np.all(np.diff(out, axis=1) >= 0)  # rises monotonically through the taper
    # the direct kind follows the straight path: later than the top mute at near offsets
    if kind == "direct":
        first_kept = (out > 0).argmax(axis=1)
        assert first_kept[0] * DT == pytest.approx(delay + 300.0 / v - taper, abs=DT)


def test_turning_mute_keeps_only_the_early_arrivals():
    geom = line_geometry()
    out = mute(np.ones((41, NT)), DT, geom, 2500.0, kind="turning", taper=0.04)
    line = geom.distances()[:, None] / 2500.0
    assert np.all(out[T[None, :] <= line] == 1) and np.all(out[T[None, :] >= line + 0.04] == 0)
    no_taper = mute(np.ones((41, NT)), DT, geom, 2500.0, kind="turning", taper=0.0)
    assert set(np.unique(no_taper)) == {0.0, 1.0}
    with pytest.raises(ConfigError, match="kind='bottom' must be one of"):
        mute(np.ones((41, NT)), DT, geom, 2500.0, kind="bottom")
    with pytest.raises(ConfigError, match="velocity=-1500"):
        mute(np.ones((41, NT)), DT, geom, -1500.0)
    with pytest.raises(ShapeError, match="41 receivers, the gather 40"):
        mute(np.ones((40, NT)), DT, geom, 1500.0)


def test_edit_drops_dead_and_noisy_traces():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((12, NT))
    x[3] = 0.0
    x[7] *= 20.0
    assert noisy_traces(x).tolist() == [i == 7 for i in range(12)]
    kept, keep = edit_traces(x)
    assert keep.tolist() == [i not in (3, 7) for i in range(12)] and kept.shape == (10, NT)
    np.testing.assert_array_equal(kept, x[keep])
    zeroed, _ = edit_traces(x, action="zero")
    assert zeroed.shape == x.shape and not zeroed[7].any()
    _, only_dead = edit_traces(x, noisy=None)
    assert (~only_dead).sum() == 1
    with pytest.raises(NonFiniteError, match="step 'edit'"):
        edit_traces(np.full((2, 10), np.inf))


def test_projection_recovers_offsets_along_an_oblique_crooked_line():
    azimuth = np.radians(30.0)
    along_dir = np.array([np.sin(azimuth), np.cos(azimuth)])  # 30 deg east of north
    across_dir = np.array([-along_dir[1], along_dir[0]])
    s = 25.0 * np.arange(40)  # true distances along the line
    wiggle = np.where(np.arange(40) % 2, 7.5, -7.5)  # feathering, symmetric about the line
    origin = np.array([5000.0, 2000.0])
    rec = origin + s[:, None] * along_dir + wiggle[:, None] * across_dir
    src = origin - 100.0 * along_dir
    geom = ShotGeometry(np.r_[src, 3.0], np.column_stack([rec, np.full(40, -8.0)]))
    projected, moved = project_to_line(geom, StraightLine(origin, along_dir, 7.5))
    offsets = projected.receivers[:, 0] - projected.source[0]
    np.testing.assert_allclose(offsets, s + 100.0, atol=1e-9)
    assert moved == pytest.approx(7.5, abs=1e-9)
    # without feathering, the least-squares line is the true one: offsets recovered exactly
    straight = ShotGeometry(
        geom.source, np.column_stack([origin + s[:, None] * along_dir, np.full(40, -8.0)])
    )
    line = fit_line(np.vstack([src, straight.receivers[:, :2]]))
    assert line.azimuth == pytest.approx(30.0, abs=1e-9) and line.max_distance < 1e-9
    fitted, moved = project_to_line(straight)  # no line given: fitted to the shot itself
    np.testing.assert_allclose(fitted.receivers[:, 0] - fitted.source[0], s + 100.0, atol=1e-9)
    assert moved < 1e-9
    # feathering: the fitted line stays within the wiggle and offsets within its size
    feathered, moved = project_to_line(geom)
    assert 7.0 < moved < 8.0
    np.testing.assert_allclose(feathered.receivers[:, 0] - feathered.source[0], s + 100.0, atol=0.01)
    np.testing.assert_array_equal(projected.receivers[:, 1], 0.0)
    np.testing.assert_array_equal(projected.receivers[:, 2], -8.0)  # elevations untouched
    src2, rec2 = projected.model_positions(datum=0.0)
    assert src2[1] == -3.0 and rec2[0, 1] == 8.0
    # a line parallel to x keeps x as its coordinate
    flat = line_geometry(source_x=60.0)
    same, moved = project_to_line(flat)
    np.testing.assert_allclose(same.receivers[:, 0], flat.receivers[:, 0], atol=1e-9)
    assert moved < 1e-9


def test_parse_steps_from_toml_dicts_and_apply():
    entries = [
        {"step": "bandpass", "low": 3, "high": 25},
        {"step": "mute", "kind": "direct", "velocity": 1500, "taper": 0.05},
        {"step": "edit"},
        {"step": "gain", "power": 1.5},
        {"step": "resample", "dt": 0.008},
    ]
    pipeline = parse_steps(entries)
    assert [s.name for s in pipeline] == ["bandpass", "mute", "edit", "gain", "resample"]
    assert parse_steps(pipeline.as_dicts()) == pipeline
    assert pipeline.steps[1].params == {"velocity": 1500.0, "kind": "direct", "taper": 0.05, "delay": 0.0}
    rng = np.random.default_rng(0)
    x = rng.standard_normal((41, NT))
    x[5] = 0.0
    geom = line_geometry()
    pipeline.check(DT, NT)
    shot = pipeline.apply(x, geom, DT, t0=0.1)
    expected = mute(bandpass(x, DT, low=3, high=25), DT, geom, 1500.0, kind="direct", t0=0.1)
    expected = np.delete(expected, 5, axis=0) * (0.1 + T) ** 1.5
    assert shot.dt == 0.008 and shot.data.shape == (40, NT // 2) and shot.geometry.n_receivers == 40
    np.testing.assert_allclose(shot.data, resample(expected, DT, 0.008)[0])
    assert shot.notes == ("edit: drop 1 of 41 traces [5]",)


@pytest.mark.parametrize(
    "entries, message",
    [
        (
            [{"step": "bandpas", "low": 3}],
            r"preprocess\[0\]: step='bandpas' is not a known step; valid steps: \['3d_to_2d', 'agc'",
        ),
        ([{"low": 3}], r"step=None is not a known step"),
        (
            [{"step": "mute", "velocty": 1500}],
            r"preprocess\[0\] \(mute\): unknown key\(s\) \['velocty'\]; valid keys: \['delay', 'kind', 'taper', 'velocity'\]",
        ),
        ([{"step": "agc"}, {"step": "mute"}], r"preprocess\[1\] \(mute\): 'velocity' is required \(m/s\)"),
        ([{"step": "mute", "velocity": -1500}], r"velocity=-1500 must be > 0 \(m/s\)"),
        ([{"step": "mute", "velocity": "fast"}], r"velocity='fast' must be a finite number \(m/s\)"),
        (
            [{"step": "mute", "velocity": 1500, "kind": "bottom"}],
            r"kind='bottom' must be one of \['top', 'direct', 'turning'\]",
        ),
        ([{"step": "bandpass", "low": 30, "high": 20}], r"low=30 must be below high=20"),
        ([{"step": "bandpass"}], r"give low and/or high"),
        ([{"step": "bandpass", "high": 20, "order": 2.5}], r"order=2.5 must be an integer"),
        ([{"step": "edit", "noisy": 0.5}], r"noisy=0.5 must be > 1"),
        (["bandpass"], r"preprocess\[0\]: each step must be a table"),
        ({"step": "bandpass"}, r"preprocess must be a list of steps"),
    ],
)
def test_parse_steps_errors_name_the_entry_key_and_value(entries, message):
    with pytest.raises(ConfigError, match=message):
        parse_steps(entries)


def test_check_catches_what_depends_on_the_sample_interval():
    with pytest.raises(ConfigError, match=r"preprocess\[1\] \(bandpass\): .*Nyquist = 62.5 Hz"):
        parse_steps([{"step": "resample", "dt": 0.008}, {"step": "bandpass", "high": 80}]).check(DT, NT)
    parse_steps([{"step": "bandpass", "high": 80}]).check(DT, NT)  # 80 Hz is fine at 4 ms
    with pytest.raises(ConfigError, match=r"preprocess\[0\] \(agc\): AGC window=3 s is 750 samples"):
        parse_steps([{"step": "agc", "window": 3.0}]).check(DT, NT)
    assert set(STEPS) == {
        "bandpass",
        "mute",
        "gain",
        "3d_to_2d",
        "normalize",
        "agc",
        "edit",
        "resample",
        "project",
    }


def test_process_survey_projects_every_shot_onto_the_survey_line(tmp_path):
    # a crooked line: each shot projected onto the one survey line, so a receiver shared by two
    # shots gets the same along-line coordinate in both
    x = 25.0 * np.arange(30)
    y = 12.0 * np.sin(x / 150.0)
    src = np.array([[x[3], y[3], 5.0], [x[20], y[20], 5.0]])
    rec = [np.column_stack([x, y, np.full(30, 10.0)])] * 2
    data = np.random.default_rng(3).standard_normal((2, 30, 400)).astype(np.float32)
    survey = read_survey(write_survey(tmp_path / "c.sgy", data, src, rec, 0.002))
    pipeline = parse_steps([{"step": "project"}, {"step": "mute", "velocity": 1500.0, "taper": 0.0}])
    shots = dict(process_survey(survey, pipeline))
    a, b = shots[0].geometry.receivers, shots[1].geometry.receivers
    np.testing.assert_allclose(a, b)
    assert np.all(a[:, 1] == 0) and shots[0].notes[0].startswith("project: positions moved up to")
    expected = survey.line.along(np.column_stack([x, y]))
    np.testing.assert_allclose(a[:, 0], expected)
    # the mute ran on the projected geometry
    first = (np.abs(shots[1].data) > 0).argmax(axis=1)
    offsets = np.abs(expected - survey.line.along(src[1:, :2]))
    np.testing.assert_array_equal(first, np.ceil(np.round(offsets / 1500.0 / 0.002, 9)).astype(int))
    # angles cannot be processed as distances
    angular = read_survey(survey.path, coordinate_units="deg")
    with pytest.raises(GeometryError, match="coordinates are in 'deg', not metres"):
        next(process_survey(angular, pipeline))
