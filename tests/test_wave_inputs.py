"""Bad input raises the documented errors; records container; dispersion warning; CFL."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geolearn.errors import GeometryError, ModelError, ShapeError, StabilityError
from geolearn.wave import Geometry, Model, ShotRecords, WaveModeling, ricker
from geolearn.wave.model import PPW_THRESHOLD


def model(**kw):
    return Model(np.full((30, 20), 2000.0), (10.0, 10.0), nbl=5, **kw)


@pytest.mark.parametrize(("value", "text"), [(np.nan, "nan"), (-1500.0, "-1500"), (0.0, "0.0")])
def test_bad_velocity(value, text):
    v = np.full((30, 20), 2000.0)
    v[4, 7] = value
    with pytest.raises(ModelError, match=rf"{text}.*\(4, 7\)"):
        Model(v, (10.0, 10.0))
    m = model()
    F = WaveModeling(m, Geometry(m, [[100.0, 20.0]], np.array([[200.0, 20.0]]), tn=0.2, f0=10.0))
    with pytest.raises(ModelError, match=r"\(4, 7\)"):
        F(torch.as_tensor(v, dtype=torch.float32))


@pytest.mark.parametrize("so", [3, 0, 18])
def test_bad_space_order(so):
    with pytest.raises(ModelError, match="space_order"):
        model(space_order=so)


def test_dt_above_cfl():
    m = model()
    limit = m.critical_dt()
    # The bound is exact: |symbol| at Nyquist of the order-8 stencil (weights -205/72, 8/5, -1/5, 8/315, -1/560).
    nyquist = 205 / 72 + 2 * (8 / 5 + 1 / 5 + 8 / 315 + 1 / 560)
    assert limit == pytest.approx(2 / (2000.0 * np.sqrt(2 * nyquist / 100.0)), rel=1e-12)
    with pytest.raises(StabilityError, match="exceeds the stability limit"):
        Geometry(m, [[100.0, 20.0]], np.array([[200.0, 20.0]]), tn=0.1, f0=10.0, dt=1.01 * limit)
    geo = Geometry(m, [[100.0, 20.0]], np.array([[200.0, 20.0]]), tn=0.1, f0=10.0, dt=0.99 * limit)
    with pytest.raises(StabilityError):  # a faster velocity makes the same dt unstable
        WaveModeling(m, geo)(m.vp * 1.1)


def test_source_outside_model():
    m = model()
    with pytest.raises(GeometryError, match=r"shot 1: source 0 at \(400.0, 20.0\)"):
        Geometry(m, [[100.0, 20.0], [400.0, 20.0]], np.array([[200.0, 20.0]]), tn=0.1, f0=10.0)
    with pytest.raises(GeometryError, match=r"shot 0: receiver 1 at \(200.0, -5.0\)"):
        Geometry(m, [[100.0, 20.0]], np.array([[200.0, 20.0], [200.0, -5.0]]), tn=0.1, f0=10.0)


def test_wavelet_length():
    m = model()
    geo = Geometry(m, [[100.0, 20.0]], np.array([[200.0, 20.0]]), tn=0.1, f0=10.0)
    with pytest.raises(ShapeError, match=f"nt = {geo.nt}"):
        Geometry(m, [[100.0, 20.0]], np.array([[200.0, 20.0]]), tn=0.1, wavelet=np.ones(geo.nt + 3))
    with pytest.raises(ShapeError):
        WaveModeling(m, geo)(m.vp, torch.ones(1, geo.nt - 1))
    # With its own sample interval a wavelet is resampled to the modelling dt.
    w = ricker(10.0, 201, 0.0005)
    g2 = Geometry(m, [[100.0, 20.0]], np.array([[200.0, 20.0]]), tn=0.1, wavelet=w, wavelet_dt=0.0005)
    np.testing.assert_allclose(g2.wavelets[0].numpy(), geo.wavelets[0].numpy(), atol=1e-3)


def test_dispersion_warning():
    m = model()
    with pytest.warns(UserWarning, match="points per wavelength"):
        Geometry(m, [[100.0, 20.0]], np.array([[200.0, 20.0]]), tn=0.1, f0=40.0)
    assert m.points_per_wavelength(2000.0 / (10.0 * PPW_THRESHOLD)) == pytest.approx(PPW_THRESHOLD)


def test_shot_records_padding_roundtrip():
    g = [torch.arange(6.0).reshape(2, 3), torch.ones(4, 3)]
    rec = ShotRecords(g)
    pad = rec.padded()
    assert pad.shape == (2, 4, 3) and float(pad[0, 2:].abs().sum()) == 0
    back = ShotRecords.from_padded(pad, rec.n_receivers)
    assert all(torch.equal(a, b) for a, b in zip(back, g))
    with pytest.raises(ShapeError):
        ShotRecords([torch.ones(2, 3), torch.ones(2, 4)])
