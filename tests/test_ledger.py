"""The cost ledger: wave-equation solves actually performed, counted where the wave layer runs them."""

from __future__ import annotations

import threading

import distributed
import numpy as np
import pytest
import torch

from geolearn import ledger
from geolearn.fwi import fwi_gradient
from geolearn.imaging import ShotProblem, model_problem
from geolearn.parallel import ShotExecutor
from geolearn.wave import BornOperator, Geometry, Model, WaveModeling, fwi_objective

F64 = torch.float64


def small_model() -> Model:
    v = np.full((40, 30), 2000.0)
    v[:, 15:] = 2500.0
    return Model(v, (10.0, 10.0), nbl=8, space_order=4, dtype=F64)


def small_survey(model: Model, n_shots: int = 2) -> Geometry:
    src = np.stack([np.linspace(100.0, 300.0, n_shots), np.full(n_shots, 20.0)], 1)
    rec = np.stack([np.linspace(0.0, 390.0, 9), np.full(9, 30.0)], 1)
    return Geometry(model, src, rec, tn=0.15, f0=15.0)


@pytest.fixture(scope="module")
def problem() -> tuple[Model, Geometry]:
    model = small_model()
    return model, small_survey(model)


def perturbation(model: Model) -> torch.Tensor:
    dv = torch.zeros(model.shape, dtype=F64)
    dv[15:25, 12:20] = 50.0
    return dv


# ------------------------------------------------------------------ the ledger itself
def test_count_solves_nests_freezes_and_measured_returns_the_count():
    with ledger.count_solves() as outer:
        ledger.record(1.5)
        with ledger.count_solves() as inner:
            ledger.record(0.25)
            assert inner.solves == pytest.approx(0.25)
        ledger.record(2.0)
    assert (outer.solves, inner.solves) == (pytest.approx(3.75), pytest.approx(0.25))
    ledger.record(1.0)  # after the block: not counted any more
    assert outer.solves == pytest.approx(3.75)
    # Exact: a count does not depend on the total before it ((2⁴⁰ + 0.1) - 2⁴⁰ is 0.09998 in floats).
    ledger.record(2.0**40)
    with ledger.count_solves() as small:
        ledger.record(0.1)
    assert small.solves == 0.1
    result, solves = ledger.measured(lambda a, b=0: (ledger.record(a + b), "done")[1], 1.0, b=2.0)
    assert (result, solves) == ("done", pytest.approx(3.0))


def test_the_total_is_shared_by_the_threads_of_a_process():
    before = ledger.solves_performed()
    with ledger.count_solves() as cost:
        threads = [
            threading.Thread(target=lambda: [ledger.record(0.5) for _ in range(200)]) for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert cost.solves == pytest.approx(400.0)
    assert ledger.solves_performed() - before == pytest.approx(400.0)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_a_negative_or_nan_count_is_refused(bad):
    with pytest.raises(ValueError, match="solves must be a finite number >= 0"):
        ledger.record(bad)


# ------------------------------------------------------------------ what the wave layer records
def test_a_forward_modelling_is_one_solve_per_shot(problem):
    model, geo = problem
    F = WaveModeling(model, geo)
    with ledger.count_solves() as cost:
        F(model.vp)
    assert cost.solves == pytest.approx(geo.n_shots)
    assert F.performance.solves == pytest.approx(cost.solves)
    assert [r.wavefields for r in F.performance] == [1] * geo.n_shots


def test_born_costs_two_solves_with_its_background_propagated_and_one_with_it_kept(problem):
    model, geo = problem
    dv = perturbation(model)
    fresh = BornOperator(model, geo, cache=None)
    with ledger.count_solves() as cost:
        fresh(dv)
    assert cost.solves == pytest.approx(2 * geo.n_shots)
    assert {r.wavefields for r in fresh.performance} == {2}

    kept = BornOperator(model, geo)
    with ledger.count_solves() as first:
        kept(dv)  # stores each shot's background (1 forward) and reads it (1 Born sweep)
    with ledger.count_solves() as again:
        records = kept(dv)
    with ledger.count_solves() as adjoint:
        kept.T(records)
    assert first.solves == pytest.approx(2 * geo.n_shots)
    assert again.solves == pytest.approx(geo.n_shots)
    assert adjoint.solves == pytest.approx(geo.n_shots)  # the adjoint reads the kept background
    assert {r.wavefields for r in kept.performance if r.kernel == "geolearn_born"} == {1}
    assert kept.performance.solves == pytest.approx(first.solves + again.solves + adjoint.solves)


def test_a_gradient_is_two_solves_per_shot_and_checkpointing_counts_its_recomputation(problem):
    model, geo = problem
    observed = WaveModeling(model, geo)(model.vp)
    v0 = torch.full(model.shape, 2200.0, dtype=F64)
    with ledger.count_solves() as full:
        fwi_objective(v0, geo, observed)
    assert full.solves == pytest.approx(2 * geo.n_shots)
    for n_checkpoints in (1, 3, 7):
        with ledger.count_solves() as checkpointed:
            fwi_objective(v0, geo, observed, memory="checkpoint", n_checkpoints=n_checkpoints)
        # One forward giving the records and the states, the forward recomputed segment by
        # segment (together one whole sweep), one adjoint: 3 per shot, between 2 and 4.
        assert checkpointed.solves == pytest.approx(3 * geo.n_shots), n_checkpoints


# ------------------------------------------------------------------ shots on Dask workers
def costly(shot: int) -> int:
    """A shot task that records ``shot + 0.5`` solves where it runs."""
    ledger.record(shot + 0.5)
    return shot


@pytest.fixture(scope="module")
def cluster():
    with ShotExecutor("local", n_workers=2, progress=False) as ex:
        yield ex


def test_solves_of_worker_processes_come_home_once(cluster):
    with ledger.count_solves() as serial:
        ShotExecutor(progress=False).map(costly, range(4))
    with ledger.count_solves() as parallel:
        assert cluster.map(costly, range(4)) == [0, 1, 2, 3]
    assert serial.solves == parallel.solves == pytest.approx(8.0)
    # Workers that are threads of this process record into its ledger themselves: not added twice.
    with (
        distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as threads_cluster,
        distributed.Client(threads_cluster, set_as_default=False) as client,
        ledger.count_solves() as threaded,
    ):
        ShotExecutor(client, progress=False).map(costly, range(4))
    assert threaded.solves == pytest.approx(8.0)


def test_a_shot_workflow_on_a_two_process_cluster_counts_the_serial_solves(cluster):
    vp = np.full((40, 30), 1500.0)
    vp[:, 15:] = 2000.0
    src = np.array([[100.0, 10.0], [200.0, 10.0], [300.0, 10.0]])
    rec = np.column_stack([np.arange(0.0, 400.0, 20.0), np.full(20, 10.0)])
    problem = ShotProblem.create(
        vp, (10.0, 10.0), src, rec, record_length=0.3, f0=12.0, nbl=20, space_order=4
    )
    with ledger.count_solves() as modelling:
        observed = model_problem(problem, vp).records
    v0 = np.full_like(vp, 1700.0)
    with ledger.count_solves() as serial:
        value, _ = fwi_gradient(problem, v0, observed)
    with ledger.count_solves() as parallel:
        value_dask, _ = fwi_gradient(problem, v0, observed, client=cluster)
    assert modelling.solves == pytest.approx(3.0)  # one forward per shot
    assert serial.solves == parallel.solves == pytest.approx(6.0)  # a forward and an adjoint per shot
    assert value_dask == pytest.approx(value, rel=1e-6)


# ------------------------------------------------------------------ operators count themselves
def test_operators_count_their_applications_and_a_zero_input_costs_nothing(problem):
    model, geo = problem
    J = BornOperator(model, geo, cache=None)
    dv = perturbation(model)
    with ledger.count_solves() as cost:
        zero_records = J(torch.zeros(3, *model.shape, dtype=F64))
        zero_image = J.T(torch.zeros(J.range_shape, dtype=F64))
    assert cost.solves == 0 and J.applications == {"forward": 0, "adjoint": 0}
    assert zero_records.shape == (3, *J.range_shape) and not zero_records.any() and not zero_image.any()
    with ledger.count_solves() as cost:
        d = J(torch.stack([dv, 2 * dv]))  # a batch of two: two applications
        (J.T @ J)(dv)  # a composite applies its children: counted on J
    assert J.applications == {"forward": 3, "adjoint": 1}
    assert cost.solves == pytest.approx(3 * 2 * geo.n_shots + 2 * geo.n_shots)  # Born 2, adjoint 2 (fresh)
    torch.testing.assert_close(d[1], 2 * d[0])
