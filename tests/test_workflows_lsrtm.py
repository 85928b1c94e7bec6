"""LSRTM: the shot-parallel Born operator, CG misfit decrease at every iteration, FISTA, DCT."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _workflow_helpers import PROPAGATION, SPACING, default_threads, layered, smooth

from geolearn.errors import ConfigError
from geolearn.imaging import ShotProblem, lsrtm, model_survey, rtm
from geolearn.ledger import count_solves
from geolearn.operators import dot_test
from geolearn.operators.transforms import DCT2
from geolearn.parallel import ShotExecutor
from geolearn.wave import BornOperator

__all__ = ["default_threads"]

INTERIOR = (slice(5, -5), slice(8, -3))


@pytest.fixture(scope="module")
def survey():
    return model_survey(layered(), SPACING, source_spacing=100.0, receiver_spacing=10.0, record_length=0.6,
                        f0=12.0, **PROPAGATION)  # fmt: skip


def _corr(image, reference):
    return np.corrcoef(image[INTERIOR].ravel(), reference[INTERIOR].ravel())[0, 1]


def test_born_operator_through_the_shot_executor_passes_the_dot_test_and_equals_the_serial_one():
    vp = smooth(layered(40, 30))
    src = np.array([[100.0, 10.0], [300.0, 10.0]])
    rec = np.column_stack([np.arange(0.0, 400.0, 20.0), np.full(20, 10.0)])
    problem = ShotProblem.create(
        vp, SPACING, src, rec, record_length=0.3, f0=12.0, dtype="float64", **PROPAGATION
    )
    model = problem.model()
    geometry = problem.geometry(model)
    with ShotExecutor(progress=False) as ex:
        J = BornOperator(model, geometry, torch.as_tensor(vp), executor=ex)
        assert dot_test(J, n_trials=2, tol=1e-6) < 1e-6
        ref = BornOperator(model, geometry, torch.as_tensor(vp))
        dv = torch.randn(vp.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        np.testing.assert_allclose(J(dv).numpy(), ref(dv).numpy(), rtol=1e-10, atol=1e-12)
        d = ref(dv)
        np.testing.assert_allclose(
            J.T(d).numpy(), ref.T(d).numpy(), rtol=1e-10, atol=1e-12 * float(ref.T(d).abs().max())
        )
        assert J.applications == {"forward": 2 + 1, "adjoint": 2 + 1}  # two dot-test pairs, one J, one Jᵀ
    with pytest.raises(ConfigError, match="velocity parametrisation only"):
        BornOperator(model, geometry, torch.as_tensor(vp), executor=ex, parametrization="slowness2")


def test_cg_lsrtm_lowers_the_data_misfit_at_every_iteration(survey):
    v0 = smooth(survey.velocity)
    with count_solves() as cost:
        result = lsrtm(survey, v0, method="cg", iterations=6)
    misfit = np.asarray(result.history["misfit"])
    assert len(misfit) == 7
    assert np.all(np.diff(misfit) < 0), misfit
    assert misfit[-1] < 0.15 * misfit[0]  # measured 0.07
    # The inverted perturbation resembles the true one better than the RTM image does.
    truth = survey.velocity - v0
    assert _corr(result.image, truth) > 0.6  # measured 0.66
    assert _corr(result.image, truth) > _corr(rtm(survey, v0, laplacian=False).image, truth)
    # Measured: the background forward and the preconditioner's migration (1 + 2 per shot) before
    # CG; then its Aᵀd and 6 x (J, Jᵀ), 2 solves per shot each as no shot task keeps its
    # background (J 0 and Jᵀ 0 from the zero start cost nothing), read after every iteration (CG's
    # callback): the first holds Aᵀd as well.
    n_shots, n_solves = survey.problem.n_shots, result.history["n_solves"]
    assert n_solves[0] == 3 * n_shots
    assert np.diff(n_solves).tolist() == [(2 + 4) * n_shots] + [4 * n_shots] * 5
    assert n_solves[-1] == cost.solves == (3 + 2 + 6 * 4) * n_shots


def test_fista_lsrtm_is_sparse_in_the_dct_domain_and_lowers_the_objective(survey):
    v0 = smooth(survey.velocity)
    with count_solves() as cost:
        result = lsrtm(survey, v0, method="fista", iterations=4, sparsity=0.1, transform="dct", precondition=False,
                       power_iterations=5)  # fmt: skip
    # Read after every FISTA iteration: one J and one Jᵀ, 2 solves per shot each (J 0 at the start is free).
    n_solves = result.history["n_solves"]
    assert np.diff(n_solves).tolist() == [4 * survey.problem.n_shots] * 4 and n_solves[-1] == cost.solves
    objective = np.asarray(result.history["objective"])
    assert objective[-1] < 0.85 * objective[0], objective
    coeff = DCT2(survey.problem.shape, dtype=torch.float64).adjoint(torch.as_tensor(result.image)).abs()
    zero = float((coeff <= 1e-9 * coeff.max()).double().mean())
    assert zero > 0.9, zero  # soft thresholding zeroes most DCT coefficients


def test_lsrtm_rejects_bad_settings(survey):
    v0 = smooth(survey.velocity)
    with pytest.raises(ConfigError, match="method"):
        lsrtm(survey, v0, method="lsqr2")
    with pytest.raises(ConfigError, match="fista"):
        lsrtm(survey, v0, method="cg", sparsity=0.1)
    with pytest.raises(ConfigError, match="sparsity"):
        lsrtm(survey, v0, method="fista", sparsity=2.0)


def test_dct2_is_orthonormal_and_adjoint():
    op = DCT2((7, 5), dtype=torch.float64)
    assert dot_test(op, tol=1e-10) < 1e-10
    x = torch.randn(7, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(op.adjoint(op(x)), x, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(op(x).norm(), x.norm(), rtol=1e-12, atol=0)
