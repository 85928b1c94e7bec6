"""Dot tests of the wave LinearOperators (2D and 3D, space orders 4 and 8, free surface on/off)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from geolearn.operators import dot_test
from geolearn.wave import BornOperator, Geometry, Model, PointInterpolation, SourceModeling

F64 = torch.float64


def layered(shape, dtype=F64, so=8, fs=False, nbl=8):
    v = np.full(shape, 2000.0)
    v[..., shape[-1] // 2 :] = 2500.0
    return Model(v, (10.0,) * len(shape), nbl=nbl, space_order=so, free_surface=fs, dtype=dtype)


def survey(model, n_shots=2, tn=0.15, f0=15.0):
    ext = model.extent
    if model.ndim == 2:
        src = np.stack([np.linspace(0.2, 0.8, n_shots) * ext[0], np.full(n_shots, 20.0)], 1)
        recs = [
            np.stack([np.linspace(0, ext[0], 5 + 2 * i), np.full(5 + 2 * i, 30.0)], 1) for i in range(n_shots)
        ]
    else:
        src = np.array([[ext[0] / 2, ext[1] / 2, 20.0]] * n_shots)
        xs, ys = np.meshgrid(np.linspace(0, ext[0], 3), np.linspace(0, ext[1], 2))
        recs = np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, 30.0)], 1)
    return Geometry(model, src, recs, tn=tn, f0=f0)


CASES_2D = [(so, fs) for so in (4, 8) for fs in (False, True)]


@pytest.mark.parametrize(
    ("so", "fs"), CASES_2D, ids=[f"so{so}-{'fs' if fs else 'abc'}" for so, fs in CASES_2D]
)
def test_born_dot_2d(so, fs):
    model = layered((40, 30), so=so, fs=fs)
    J = BornOperator(model, survey(model))
    assert J.range_shape == (2, 7, J.geometry.nt)  # padded to the larger receiver count
    assert dot_test(J, n_trials=1, tol=1e-6) < 1e-6


@pytest.mark.parametrize(
    ("so", "fs"), CASES_2D, ids=[f"so{so}-{'fs' if fs else 'abc'}" for so, fs in CASES_2D]
)
def test_source_receiver_dot_2d(so, fs):
    model = layered((40, 30), so=so, fs=fs)
    assert dot_test(SourceModeling(model, survey(model)), n_trials=1, tol=1e-6) < 1e-6


@pytest.mark.filterwarnings("ignore:only .* points per wavelength")
@pytest.mark.parametrize("so", [4, 8])
@pytest.mark.parametrize("fs", [False, True])
def test_dot_3d(so, fs):
    model = layered((16, 14, 16), so=so, fs=fs, nbl=4)
    geo = survey(model, n_shots=1, tn=0.1, f0=20.0)
    assert dot_test(BornOperator(model, geo), n_trials=1, tol=1e-6) < 1e-6
    assert dot_test(SourceModeling(model, geo), n_trials=1, tol=1e-6) < 1e-6


@pytest.mark.parametrize("shape", [(40, 30), (12, 10, 14)])
def test_interpolation_injection_dot(shape):
    model = layered(shape)
    rng = np.random.default_rng(3)
    pts = rng.uniform(0, 1, (7, len(shape))) * np.array(model.extent)
    P = PointInterpolation(model, pts)
    assert dot_test(P, n_trials=2, tol=1e-10) < 1e-10
    # Interpolating a linear function is exact for multilinear weights.
    grid = np.meshgrid(*[np.arange(n) * 10.0 for n in shape], indexing="ij")
    lin = torch.as_tensor(sum((i + 1) * g for i, g in enumerate(grid)))
    expect = sum((i + 1) * pts[:, i] for i in range(len(shape)))
    np.testing.assert_allclose(P(lin).numpy(), expect, rtol=1e-10)


BORN_CACHES = {"auto": "auto", "none": None, "one-shot-budget": "one shot"}


@pytest.mark.parametrize("cache", list(BORN_CACHES), ids=list(BORN_CACHES))
def test_born_dot_every_background_mode(cache):
    """Kept, not kept, and kept for only some shots: J and Jᵀ stay exact adjoints."""
    model = layered((40, 30), fs=True)
    geo = survey(model)
    one_shot = (geo.nt + 1) * int(np.prod(model.padded_shape)) * 8
    budget = one_shot if BORN_CACHES[cache] == "one shot" else BORN_CACHES[cache]
    J = BornOperator(model, geo, cache=budget)
    assert dot_test(J, n_trials=2, tol=1e-6) < 1e-6
    assert J.background.shots == {"auto": [0, 1], "none": [], "one-shot-budget": [0]}[cache]
    assert J.background.nbytes == len(J.background.shots) * one_shot


def test_kept_background_gives_the_same_born_records_and_images():
    model = layered((40, 30))
    geo = survey(model, n_shots=1)
    kept, fresh = BornOperator(model, geo), BornOperator(model, geo, cache=None)
    dv = torch.zeros(model.shape, dtype=F64)
    dv[15:25, 12:20] = 50.0
    first, again, reference = kept(dv), kept(dv), fresh(dv)
    torch.testing.assert_close(first, reference, rtol=1e-12, atol=1e-12 * float(reference.abs().max()))
    assert torch.equal(first, again)
    image, image_ref = kept.T(reference), fresh.T(reference)
    torch.testing.assert_close(image, image_ref, rtol=1e-12, atol=1e-12 * float(image_ref.abs().max()))
    # Kept: one propagation per call (the first J also stored the background); not kept: two.
    kinds = [r.kernel for r in kept.performance]
    assert kinds == ["geolearn_forward", "geolearn_born", "geolearn_born", "geolearn_adjoint"]
    assert [r.kernel for r in fresh.performance] == ["geolearn_born", "geolearn_forward", "geolearn_adjoint"]


KEPT_STORES_FREED = """
import gc, sys, weakref
import numpy as np, torch
sys.path.insert(0, "tests")
from test_wave_operators import layered, survey
import geolearn.wave.background
from geolearn.wave import BornOperator

gc.disable()  # only the operator may collect: its stores must not wait for the collector
geolearn.wave.background.COLLECT_BYTES = 0  # these stores are small; the benchmark's are 0.3 GB
assert "devito" not in sys.modules  # imported by the first propagation, as in a user's script
model = layered((40, 30))
dv = torch.zeros(model.shape, dtype=torch.float64)
dv[15:25, 12:20] = 50.0
stores = []
for step in range(3):  # a training sampler: a new operator per step, cleared before the next
    J = BornOperator(model, survey(model), cache=2**30)
    J(dv)
    stores += [weakref.ref(J.background.get(shot).data) for shot in J.background.shots]
    if step == 1:
        J.background.clear()
    del J  # an operator out of scope returns its stores too (the last one: only so)
print(len(stores), sum(ref() is not None for ref in stores))
"""


def test_cleared_backgrounds_are_freed_at_once_in_a_fresh_process():
    """clear(), or dropping the operator, returns the stores' memory before the next operator
    allocates; the first propagation's store is not pinned by the frames that imported Devito
    (a fresh process)."""
    out = subprocess.run(
        [sys.executable, "-c", KEPT_STORES_FREED], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["6", "0"], out.stdout


def test_bad_cache_budget():
    from geolearn.errors import ConfigError

    model = layered((40, 30))
    with pytest.raises(ConfigError, match="cache must be 'auto', None or a budget in bytes >= 0, got -1"):
        BornOperator(model, survey(model), cache=-1)


def test_born_dot_float32():
    model = layered((40, 30), dtype=torch.float32)
    J = BornOperator(model, survey(model, n_shots=1))
    assert dot_test(J, n_trials=1, tol=1e-4) < 1e-4


def test_born_is_jacobian_of_modeling():
    """F(v + h dv) - F(v) - h J dv decays like h² (J is the linearisation of F)."""
    from geolearn.wave import WaveModeling

    model = layered((40, 30))
    geo = survey(model, n_shots=1)
    F, J = WaveModeling(model, geo), BornOperator(model, geo)
    dv = torch.zeros(model.shape, dtype=F64)
    dv[15:25, 12:20] = 50.0
    d0, jd = F(model.vp), J(dv)
    errs = [float(torch.linalg.norm(F(model.vp + h * dv) - d0 - h * jd)) for h in (1.0, 0.5, 0.25)]
    slopes = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(np.abs(slopes - 2) < 0.15), (errs, slopes)


@pytest.mark.parametrize("so", [2, 16])
def test_extreme_space_orders(so):
    model = layered((40, 30), so=so, fs=so == 16)
    geo = survey(model, n_shots=1)
    assert dot_test(SourceModeling(model, geo), n_trials=1, tol=1e-6) < 1e-6
