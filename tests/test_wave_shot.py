"""ShotPropagator (the per-shot NumPy API) against the torch wave operators, a dot test, the
per-shot gradient (Taylor test, memory modes, kept snapshots), errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geolearn.errors import ConfigError, GeometryError, ModelError, ShapeError
from geolearn.operators import taylor_test
from geolearn.wave import (
    BornOperator,
    Geometry,
    Model,
    PerformanceLog,
    ShotPropagator,
    WaveModeling,
    fwi_objective,
)


def problem(dtype=torch.float32):
    """A 40 x 30 two-layer grid and two shots with 5 and 7 receivers."""
    v = np.full((40, 30), 2000.0)
    v[:, 15:] = 2500.0
    model = Model(v, (10.0, 10.0), nbl=8, space_order=4, dtype=dtype)
    src = np.array([[100.0, 20.0], [300.0, 20.0]])
    recs = [np.stack([np.linspace(0, 390, n), np.full(n, 30.0)], 1) for n in (5, 7)]
    geometry = Geometry(model, src, recs, tn=0.15, f0=15.0)
    # A smooth velocity away from the reference, so that records and gradients are non-trivial.
    velocity = v * 0.97 + np.linspace(0.0, 30.0, 30)[None, :]
    return model, geometry, velocity


def test_forward_and_born_equal_the_torch_operators():
    model, geo, v = problem()
    vt = torch.as_tensor(v, dtype=model.dtype)
    dv = np.random.default_rng(0).standard_normal(model.shape).astype(np.float32)
    d = WaveModeling(model, geo)(vt).numpy()
    born = BornOperator(model, geo, vt)(torch.as_tensor(dv, dtype=model.dtype)).numpy()
    for shot, n in enumerate(geo.n_receivers):
        prop = ShotPropagator(model, geo, vt, shot)  # the float32-rounded velocity, like F's
        records, snaps = prop.forward()
        assert snaps is None
        assert records.shape == (n, geo.nt) and records.dtype == np.float32
        # Same solver calls on the same arrays: equal bit for bit.
        np.testing.assert_array_equal(records, d[shot, :n])
        np.testing.assert_array_equal(prop.born(dv), born[shot, :n])
        assert np.abs(records).max() > 0 and np.abs(born[shot, :n]).max() > 0


def test_adjoint_sums_to_the_fwi_gradient():
    model, geo, v = problem()
    rng = np.random.default_rng(1)
    observed = rng.standard_normal(geo.record_shape).astype(np.float32)
    observed[0, 5:] = 0.0  # shot 0 has 5 receivers: padded traces are zero
    vt = torch.as_tensor(v, dtype=model.dtype)
    value, gradient = fwi_objective(vt, geo, torch.as_tensor(observed))
    total_value, total_gradient = 0.0, np.zeros(model.shape)
    for shot, n in enumerate(geo.n_receivers):
        prop = ShotPropagator(model, geo, vt, shot)
        d, snaps = prop.forward(save=1)
        residual = d - observed[shot, :n]
        total_value += 0.5 * float(np.sum(residual.astype(np.float64) ** 2))
        total_gradient += prop.adjoint(residual, snaps)
    # The same per-shot gradients summed in float64; fwi_objective returns them in float32
    # (measured: value 1.4e-8, gradient 2.7e-8 relative).
    assert total_value == pytest.approx(float(value), rel=1e-6)
    g = gradient.numpy().astype(np.float64)
    assert np.linalg.norm(total_gradient - g) / np.linalg.norm(g) < 1e-6


def test_born_adjoint_dot_one_shot():
    model, geo, v = problem(torch.float64)
    prop = ShotPropagator(model, geo, v, 1)
    rng = np.random.default_rng(2)
    dv = rng.standard_normal(model.shape)
    r = rng.standard_normal((prop.n_receivers, prop.nt))
    _, snaps = prop.forward(save=1)
    lhs = float(np.sum(prop.born(dv) * r))
    rhs = float(np.sum(dv * prop.adjoint(r, snaps)))
    assert abs(lhs - rhs) / max(abs(lhs), 1e-30) < 1e-6


def test_illumination_peaks_at_the_source():
    model, geo, v = problem()
    prop = ShotPropagator(model, geo, v, 0)
    _, snaps = prop.forward(save=1)
    illum = prop.illumination(snaps)
    assert illum.shape == model.shape and illum.dtype == np.float64
    assert illum.min() >= 0.0
    peak = np.array(np.unravel_index(np.argmax(illum), illum.shape)) * np.array(model.spacing)
    assert np.linalg.norm(peak - geo.src_positions[0]) <= 15.0  # within about one cell


def test_wavelet_override_scales_records():
    model, geo, v = problem()
    default = ShotPropagator(model, geo, v, 0).forward()[0]
    doubled = ShotPropagator(model, geo, v, 0, wavelet=2.0 * geo.wavelets[0].numpy()).forward()[0]
    np.testing.assert_allclose(doubled, 2.0 * default, rtol=1e-5, atol=1e-6 * np.abs(default).max())


@pytest.mark.parametrize("shot", [2, -1])
def test_shot_out_of_range(shot):
    model, geo, v = problem()
    with pytest.raises(GeometryError, match=rf"shot index {shot} .* shots 0\.\.1"):
        ShotPropagator(model, geo, v, shot)


def test_nan_velocity():
    model, geo, v = problem()
    v[3, 4] = np.nan
    with pytest.raises(ModelError, match=r"nan.*index \(3, 4\)"):
        ShotPropagator(model, geo, v, 0)


def test_bad_shapes_and_missing_snapshots():
    model, geo, v = problem()
    with pytest.raises(ShapeError, match="wavelet has shape"):
        ShotPropagator(model, geo, v, 0, wavelet=np.zeros(geo.nt + 1))
    prop = ShotPropagator(model, geo, v, 0)
    with pytest.raises(ShapeError, match="perturbation has shape"):
        prop.born(np.zeros((40, 29)))
    d, snaps = prop.forward(save=1)
    with pytest.raises(ShapeError, match=r"residual has shape \(7, "):
        prop.adjoint(np.zeros((7, geo.nt)), snaps)
    with pytest.raises(ConfigError, match="snapshots"):
        prop.adjoint(d, None)
    with pytest.raises(ConfigError, match="save must be"):
        prop.forward(save=0)


def weighted_l2(observed, weights):
    """½ Σ w (d - d_obs)²: a misfit other than fwi_objective's, to check ShotPropagator.gradient."""

    def misfit(d):
        r = d - observed
        return 0.5 * float(np.sum(weights * r**2)), weights * r

    return misfit


def test_gradient_of_a_misfit_passes_the_taylor_test_in_every_memory_mode():
    model, geo, v = problem(torch.float64)
    rng = np.random.default_rng(3)
    observed = ShotPropagator(model, geo, v * 1.02, 1).forward()[0]
    misfit = weighted_l2(observed, rng.uniform(0.5, 2.0, observed.shape))
    full = ShotPropagator(model, geo, v, 1).gradient(misfit)
    assert full.value > 0 and full.gradient.shape == model.shape and full.gradient.dtype == np.float64
    assert full.wavelet_gradient.shape == (geo.nt,) and full.snapshots.factor == 1
    x, z = np.meshgrid(*[np.arange(n) for n in model.shape], indexing="ij")
    dv = torch.as_tensor(20.0 * np.exp(-(((x - 20) / 5.0) ** 2 + ((z - 12) / 4.0) ** 2)))

    def f(vt):
        return torch.tensor(ShotPropagator(model, geo, vt, 1).gradient(misfit).value, dtype=torch.float64)

    res = taylor_test(f, torch.as_tensor(v), dv, grad=torch.as_tensor(full.gradient), n_halvings=6, n_fit=4)
    assert res.passed, res.table()
    # Checkpointing recomputes the same steps with the same arithmetic (measured: equal here in float64).
    ckpt = ShotPropagator(model, geo, v, 1).gradient(misfit, memory="checkpoint", n_checkpoints=3)
    assert ckpt.value == pytest.approx(full.value, rel=1e-13) and ckpt.snapshots is None
    for a, b in ((ckpt.gradient, full.gradient), (ckpt.wavelet_gradient, full.wavelet_gradient)):
        assert np.linalg.norm(a - b) / np.linalg.norm(b) < 1e-13
    # Subsampled snapshots: approximate (every 2nd of the 2 ms steps; measured 1.4e-3, 1.4e-2 for 4).
    sub = ShotPropagator(model, geo, v, 1).gradient(misfit, memory="snapshots", snapshot_factor=2)
    rel = np.linalg.norm(sub.gradient - full.gradient) / np.linalg.norm(full.gradient)
    assert sub.snapshots.factor == 2 and 0 < rel < 1e-2, rel


def test_gradient_from_kept_snapshots_and_a_fixed_adjoint_source():
    """A fixed adjoint source r gives ∂⟨r, F(v)⟩/∂v: the adjoint (migration) of r, and with
    kept snapshots no forward is run again."""
    model, geo, v = problem(torch.float64)
    prop = ShotPropagator(model, geo, v, 0)
    r = np.random.default_rng(4).standard_normal((prop.n_receivers, prop.nt))
    d, snaps = prop.forward(save=1)
    solves_before = len(prop.performance.records)
    kept = prop.gradient(r, snapshots=snaps)
    assert len(prop.performance.records) == solves_before + 1  # the adjoint only
    assert kept.value is None and kept.records is None
    np.testing.assert_array_equal(kept.gradient, prop.adjoint(r, snaps))
    fresh = prop.gradient(r)
    np.testing.assert_array_equal(fresh.records, d)
    np.testing.assert_array_equal(fresh.gradient, kept.gradient)


def test_all_shots_validate_the_velocity_once_and_share_one_log(monkeypatch):
    model, geo, v = problem()
    calls = []
    validate = Model.validate
    monkeypatch.setattr(Model, "validate", lambda self, vp: calls.append(1) or validate(self, vp))
    log = PerformanceLog()
    props = ShotPropagator.all_shots(model, geo, v, performance=log)
    assert len(calls) == 1 and [p.shot for p in props] == [0, 1]
    assert [p.n_receivers for p in props] == list(geo.n_receivers)
    for prop in props:
        assert prop.performance is log
        np.testing.assert_array_equal(
            prop.forward()[0], ShotPropagator(model, geo, v, prop.shot).forward()[0]
        )
    assert len(log.records) == 2


def test_gradient_refuses_bad_settings_before_any_solve():
    model, geo, v = problem()
    prop = ShotPropagator(model, geo, v, 0)
    misfit = weighted_l2(np.zeros((prop.n_receivers, prop.nt)), 1.0)
    with pytest.raises(ConfigError, match="memory must be one of"):
        prop.gradient(misfit, memory="disk")
    with pytest.raises(ConfigError, match="n_checkpoints must be a positive integer, got 0"):
        prop.gradient(misfit, memory="checkpoint", n_checkpoints=0)
    with pytest.raises(ConfigError, match="snapshot_factor must be an integer >= 1"):
        prop.gradient(misfit, memory="snapshots", snapshot_factor=0)
    with pytest.raises(ShapeError, match=r"adjoint source has shape \(7, "):
        prop.gradient(np.zeros((7, prop.nt)))
    with pytest.raises(ConfigError, match="n_checkpoints must be a positive integer"):
        WaveModeling(model, geo, memory="checkpoint", n_checkpoints=-1)
    assert prop.performance.records == []
    _, snaps = prop.forward(save=2)
    r = np.zeros((prop.n_receivers, prop.nt))
    with pytest.raises(ConfigError, match="pass the adjoint source, not a misfit"):
        prop.gradient(misfit, memory="snapshots", snapshot_factor=2, snapshots=snaps)
    with pytest.raises(ConfigError, match=r"needs the snapshots of forward\(save=1\)"):
        prop.gradient(r, snapshots=snaps)
    with pytest.raises(ConfigError, match="pass no snapshots"):
        prop.gradient(r, memory="checkpoint", snapshots=snaps)
    with pytest.raises(ShapeError, match=r"the misfit's adjoint source has shape \(3, "):
        prop.gradient(lambda d: (0.0, d[:3]))
