"""ShotProblem's one serialisable form: lossless through numpy.savez and torch.save, and to/from the wave layer."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from geolearn.errors import ConfigError, GeometryError, ShapeError
from geolearn.fwi import FwiSettings, load_inputs, save_inputs
from geolearn.imaging import ShotProblem


def ragged_problem(dtype: str = "float64") -> ShotProblem:
    """Three shots with 2, 3 and 4 receivers, off-grid positions and wavelets no float32 can hold."""
    rng = np.random.default_rng(3)
    vp = 1500.0 + 1000.0 * rng.random((30, 20))
    sources = np.array([[52.5, 10.25], [150.0, 12.5], [231.125, 10.0]])
    receivers = [np.column_stack([np.linspace(5.0, 280.0, n) + 0.1 * n, np.full(n, 7.5)]) for n in (2, 3, 4)]
    problem = ShotProblem.create(vp, (10.0, 10.0), sources, receivers, record_length=0.2, origin=(0.0, 0.0),
                                 f0=10.0, nbl=12, space_order=4, boundary="poly", dtype=dtype)  # fmt: skip
    return problem.with_wavelets(rng.standard_normal((3, problem.nt)) / 3.0)


def assert_same(a: ShotProblem, b: ShotProblem) -> None:
    da, db = a.to_dict(), b.to_dict()
    assert da.keys() == db.keys()
    for key, value in da.items():
        if isinstance(value, np.ndarray):
            assert value.dtype == db[key].dtype and np.array_equal(value, db[key]), key
        else:
            assert type(value) is type(db[key]) and value == db[key], key
    assert [r.shape for r in a.rec_positions] == [r.shape for r in b.rec_positions]


def test_dict_form_round_trips_bitwise_through_numpy_savez_without_pickle():
    problem = ragged_problem()
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **problem.to_dict())
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as archive:
        back = ShotProblem.from_dict({k: archive[k] for k in archive.files})
    assert_same(problem, back)
    assert back.n_receivers == [2, 3, 4] and back.boundary == "poly" and back.dtype == "float64"


def test_dict_form_round_trips_bitwise_through_torch_save_with_weights_only():
    problem = ragged_problem("float32")
    buffer = io.BytesIO()
    torch.save({"problem": problem.to_dict(tensors=True), "weights": torch.ones(2)}, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    assert isinstance(loaded["problem"]["wavelets"], torch.Tensor)
    assert_same(problem, ShotProblem.from_dict(loaded["problem"]))


def test_wave_objects_round_trip_exactly_in_float64_and_to_float32_precision_in_float32():
    problem = ragged_problem("float64")
    model, geometry = problem.to_wave()
    assert model.dtype == torch.float64 and geometry.n_receivers == [2, 3, 4]
    assert_same(problem, ShotProblem.from_wave(model, geometry))
    single = ragged_problem("float32")
    back = ShotProblem.from_wave(*single.to_wave())
    # The wave layer holds the reference velocity and the wavelets in its dtype: exact to float32.
    np.testing.assert_array_equal(back.reference, single.reference.astype(np.float32))
    np.testing.assert_array_equal(back.wavelets, single.wavelets.astype(np.float32))
    np.testing.assert_array_equal(back.src_positions, single.src_positions)
    assert back.dt == single.dt and back.nt == single.nt and back.dtype == "float32"


def test_from_wave_refuses_a_geometry_over_another_grid():
    problem = ragged_problem()
    model, _ = problem.to_wave()
    other = ShotProblem.create(np.full((40, 20), 2000.0), (10.0, 10.0), np.array([[50.0, 10.0]]),
                               np.array([[100.0, 10.0]]), record_length=0.3, f0=10.0)  # fmt: skip
    with pytest.raises(GeometryError, match=r"\(40, 20\).*\(30, 20\)"):
        ShotProblem.from_wave(model, other.to_wave()[1])


def test_from_dict_names_missing_unknown_and_inconsistent_entries():
    d = ragged_problem().to_dict()
    with pytest.raises(ConfigError, match=r"missing keys \['wavelets'\]"):
        ShotProblem.from_dict({k: v for k, v in d.items() if k != "wavelets"})
    with pytest.raises(ConfigError, match=r"unknown keys \['observed'\]"):
        ShotProblem.from_dict({**d, "observed": np.zeros(3)})
    with pytest.raises(ConfigError, match="version 99"):
        ShotProblem.from_dict({**d, "version": 99})
    with pytest.raises(ShapeError, match=r"add up to 10, but 9"):
        ShotProblem.from_dict({**d, "n_receivers": np.array([2, 3, 5])})
    with pytest.raises(ShapeError, match=r"sources positions have shape \(3, 3\)"):
        ShotProblem.from_dict({**d, "src_positions": np.zeros((3, 3))})


def test_fwi_inputs_store_the_problem_in_its_dict_form(tmp_path):
    problem = ragged_problem()
    observed = np.random.default_rng(0).standard_normal(problem.record_shape)
    initial = np.full(problem.shape, 2000.0)
    settings = FwiSettings(iterations=2, bands=(5.0, 8.0))
    save_inputs(tmp_path, problem, observed, initial, None, settings)
    with np.load(tmp_path / "fwi_inputs.npz", allow_pickle=False) as archive:
        stored = {k.removeprefix("problem."): archive[k] for k in archive.files if k.startswith("problem.")}
    assert_same(problem, ShotProblem.from_dict(stored))
    back, obs, init, true, back_settings = load_inputs(tmp_path)
    assert_same(problem, back)
    assert np.array_equal(obs, observed) and np.array_equal(init, initial) and true is None
    assert back_settings == settings
