"""inspect() reports and the acquisition / gather figures it writes."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pytest

from geolearn.errors import ShapeError
from geolearn.io import inspect, load_dataset, read_survey
from geolearn.viz import save_figure
from geolearn.viz.acquisition import plot_acquisition
from geolearn.viz.gather import plot_gather


@pytest.fixture(scope="module")
def judi(data_dir):
    return load_dataset("judi-shots", data_dir=data_dir, download=False)


def test_report_on_judi(judi, tmp_path):
    r = inspect(judi.path("unit_test_shot_records_2.segy"), z_positive="down")
    assert (r.n_traces, r.n_shots, r.receivers_per_shot, r.nt) == (240, 2, (120, 120), 501)
    assert r.dt == pytest.approx(0.002) and r.source_extent == (100.0, 1100.0, 0.0, 0.0)
    assert r.receiver_extent == (50.0, 1150.0, 0.0, 0.0)
    assert r.coordinate_scalars == [-1000] and r.elevation_scalars == [-1000]
    assert (r.dead_traces, r.nonfinite_traces, r.reversed_traces, r.duplicate_traces) == (0, 0, 0, 0)
    assert r.findings == [] and (r.coordinate_units, r.z_positive) == ("m", "down")
    text = str(r)
    assert "shots           2 (120..120 receivers per shot)" in text and "IEEE float" in text
    assert "findings\n  - none" in text
    assert repr(r).startswith("InspectionReport(") and "shots=2" in repr(r)
    # the caller draws the figures from the report's survey (io knows nothing of plotting)
    fig = plot_acquisition(r.survey)
    shot = r.survey[1]
    gather = plot_gather(shot.data, dt=shot.dt, t0=shot.t0, positions=shot.receivers[:, 0])
    for name, f in (("acquisition", fig), ("gather", gather)):
        img = mpimg.imread(save_figure(f, tmp_path / f"{name}.png"))
        assert img.shape[0] > 200 and img.std() > 0.01  # a drawn figure, not a blank canvas


def test_report_findings_on_reference_files(judi, data_dir):
    dead = inspect(judi.path("unit_test_shot_records_1.segy"))
    assert dead.dead_traces == 120 and dead.dt_source == "trace"
    (f,) = dead.findings
    assert f.topic == "dead_traces" and len(f.traces) == 120 and "every sample is zero" in f.evidence
    f3 = inspect(data_dir / "segyio-testdata" / "f3.sgy", key="cdp")
    stale = [f for f in f3.findings if f.topic == "sample_count"]
    assert len(stale) == 1 and "462" in stale[0].claimed and stale[0].chosen.startswith("75 samples")
    assert "findings\n  - sample_count: headers claim 462" in str(f3)
    assert f3.reversed_traces == 0  # real post-stack traces: no false polarity flags
    sg = inspect(data_dir / "segyio-testdata" / "shot-gather.sgy")
    assert [f.topic for f in sg.findings] == ["no_geometry"]


def test_inspect_and_read_survey_report_the_same_findings(judi, data_dir):
    for path, options in (
        (judi.path("unit_test_shot_records_1.segy"), {}),
        (data_dir / "segyio-testdata" / "f3.sgy", {"key": "cdp"}),
        (data_dir / "segyio-testdata" / "delay-scalar.sgy", {"key": "inline"}),
    ):
        assert inspect(path, **options).findings == read_survey(path, **options).findings


def test_plot_gather_modes_and_errors():
    data = np.outer(np.hanning(6), np.sin(np.linspace(0, 6, 40)))
    fig = plot_gather(data, dt=0.004, t0=0.1, positions=np.arange(6) * 25.0, mode="wiggle")
    ax = fig.axes[0]
    assert ax.get_ylim() == pytest.approx((0.1 + 39 * 0.004, 0.1))  # time increases downwards
    assert len(ax.lines) == 6
    img = plot_gather(data).axes[0].images[0]
    np.testing.assert_array_equal(img.get_array(), data.T)
    with pytest.raises(ShapeError, match="n_receivers, nt"):
        plot_gather(np.zeros(5))
    with pytest.raises(ShapeError, match="positions"):
        plot_gather(data, positions=[1, 2])


def test_plot_acquisition_map_view():
    src = np.array([[0.0, 0.0, 0.0], [100.0, 50.0, 0.0]])
    rec = [np.array([[10.0, 5.0, 0.0], [20.0, 5.0, 0.0]]), np.array([[30.0, 60.0, 0.0]])]
    ax = plot_acquisition(sources=src, receivers=rec).axes[0]
    assert ax.get_ylabel() == "y (m)"
    offsets = np.vstack([c.get_offsets() for c in ax.collections])
    assert offsets.shape == (5, 2) and offsets[:, 1].max() == 60.0
    with pytest.raises(ShapeError):
        plot_acquisition(sources=src, receivers=rec[:1])
