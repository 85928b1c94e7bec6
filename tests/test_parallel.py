"""Shot-parallel execution: serial loop vs a 2-process LocalCluster, reductions, retries, bad input."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from geolearn.parallel import ShotExecutor, StreamingFold, map_shots, tree_sum
from geolearn.threads import ThreadBudget, thread_budget, usable_cores

N_SHOTS = 8


def gradient_like(shot: int, model: np.ndarray) -> tuple[float, np.ndarray]:
    """A (misfit, gradient) pair whose magnitudes span many decades, so summation order shows."""
    rng = np.random.default_rng(shot)
    scale = np.float32(10.0 ** (3 * (shot % 4)))
    grad = (rng.standard_normal(model.shape).astype(np.float32) * model) * scale
    return float(np.sum(grad.astype(np.float64) ** 2)), grad


def which_process(shot: int) -> tuple[int, int]:
    time.sleep(0.1)
    return shot, os.getpid()


def flaky(shot: int, attempts_dir: str) -> int:
    """Fails on the first attempt of shot 3, succeeds afterwards (attempts counted on disk)."""
    marker = Path(attempts_dir) / f"shot{shot}"
    n = int(marker.read_text()) if marker.exists() else 0
    marker.write_text(str(n + 1))
    if shot == 3 and n == 0:
        raise OSError(f"transient failure on shot {shot}")
    return shot * 10


def first_element(shot: int, big: np.ndarray) -> float:
    return float(big[shot])


@pytest.fixture(scope="module")
def cluster_executor():
    with ShotExecutor("local", n_workers=2, progress=False) as ex:
        yield ex


@pytest.fixture(scope="module")
def model() -> np.ndarray:
    return np.linspace(1.0, 2.0, 64 * 48, dtype=np.float32).reshape(64, 48)


def test_local_cluster_gradient_equals_serial(cluster_executor, model):
    serial_misfit, serial_grad = map_shots(gradient_like, range(N_SHOTS), model, reduce="sum", progress=False)
    # The serial sum itself, by an explicit loop in shot order.
    expected = [gradient_like(s, model) for s in range(N_SHOTS)]
    loop_grad = expected[0][1].copy()
    for _, g in expected[1:]:
        loop_grad += g
    assert np.array_equal(serial_grad, loop_grad)
    assert serial_misfit == pytest.approx(sum(m for m, _ in expected), rel=1e-15)

    assert cluster_executor.parallel and cluster_executor.n_workers == 2
    misfit, grad = cluster_executor.map_reduce(gradient_like, range(N_SHOTS), model, ordered=True)
    assert grad.dtype == np.float32 and grad.shape == model.shape
    assert np.array_equal(grad, serial_grad)  # ordered fold: bitwise equal to the serial loop
    assert misfit == serial_misfit

    misfit_u, grad_u = cluster_executor.map_reduce(gradient_like, range(N_SHOTS), model, ordered=False)
    scale = np.abs(serial_grad).max()
    assert np.max(np.abs(grad_u - serial_grad)) / scale < 1e-6  # arrival order: equal to float32 rounding
    assert misfit_u == pytest.approx(serial_misfit, rel=1e-12)


def test_shots_run_on_both_worker_processes(cluster_executor):
    results = cluster_executor.map(which_process, range(N_SHOTS))
    assert [shot for shot, _ in results] == list(range(N_SHOTS))  # map returns shot order
    pids = {pid for _, pid in results}
    assert len(pids) == 2 and os.getpid() not in pids


def test_streaming_fold_ordered_matches_serial_order_not_arrival_order():
    values = {0: 1e16, 1: -1e16, 2: 0.5, 3: 0.25}
    arrival = [2, 3, 1, 0]
    ordered = StreamingFold(tree_sum, ordered=True)
    ordered.expect([0, 1, 2, 3])
    unordered = StreamingFold(tree_sum, ordered=False)
    for i, key in enumerate(arrival):
        ordered.add(key, values[key])
        unordered.add(key, values[key])
        assert ordered.n_buffered == [1, 2, 3, 0][i]
    assert ordered.result() == 0.75  # ((1e16 - 1e16) + 0.5) + 0.25
    assert unordered.result() == 0.0  # ((0.5 + 0.25) - 1e16) + 1e16 loses the small terms


def test_streaming_fold_reports_missing_shots():
    fold = StreamingFold(tree_sum, ordered=True)
    fold.expect([0, 1, 2])
    fold.add(1, 1.0)
    with pytest.raises(RuntimeError, match=r"shots \[0, 2\]"):
        fold.result()


def test_tree_sum_nested_numpy_torch_and_errors():
    a = {"misfit": 1.5, "grad": (np.ones(3), torch.ones(2, dtype=torch.float64))}
    b = {"misfit": 2.0, "grad": (np.full(3, 2.0), torch.full((2,), 3.0, dtype=torch.float64))}
    s = tree_sum(a, b)
    assert s["misfit"] == 3.5
    assert np.array_equal(s["grad"][0], [3.0, 3.0, 3.0])
    assert torch.equal(s["grad"][1], torch.tensor([4.0, 4.0], dtype=torch.float64))
    with pytest.raises(ValueError, match=r"result\[1\].*\(3,\) and \(4,\)"):
        tree_sum((1.0, np.ones(3)), (1.0, np.ones(4)))
    with pytest.raises(ValueError, match="keys"):
        tree_sum({"a": 1.0}, {"b": 1.0})
    with pytest.raises(TypeError, match="str"):
        tree_sum("x", "y")


def test_accumulator_does_not_alias_first_result():
    first = np.ones(4)
    total = map_shots(lambda s, x: x, range(3), first, reduce="sum", progress=False)
    assert np.array_equal(total, np.full(4, 3.0)) and np.array_equal(first, np.ones(4))


def test_raising_shot_is_retried_serial_and_dask(cluster_executor, tmp_path):
    serial_dir, dask_dir, none_dir = (tmp_path / d for d in ("serial", "dask", "none"))
    for d in (serial_dir, dask_dir, none_dir):
        d.mkdir()
    assert map_shots(flaky, range(5), str(serial_dir), retries=1, progress=False) == [0, 10, 20, 30, 40]
    assert (serial_dir / "shot3").read_text() == "2"
    assert cluster_executor.map(flaky, range(5), str(dask_dir)) == [0, 10, 20, 30, 40]
    assert (dask_dir / "shot3").read_text() == "2"
    with pytest.raises(OSError, match="transient failure on shot 3"):
        map_shots(flaky, range(5), str(none_dir), retries=0, progress=False)


def test_large_arrays_are_scattered_and_results_correct(cluster_executor):
    big = np.arange(100_000, dtype=np.float64)  # 800 kB: shipped once per call, not once per task
    handle = cluster_executor.scatter(big)
    assert type(handle).__name__ == "Future"
    assert cluster_executor.map(first_element, [5, 99_999], handle) == [5.0, 99_999.0]
    assert cluster_executor.map(first_element, [7, 8], big) == [7.0, 8.0]
    with ShotExecutor(progress=False) as serial:
        assert serial.scatter(big) is big


def test_existing_scheduler_address_is_used_and_not_closed(cluster_executor):
    address = cluster_executor.client.scheduler.address
    with ShotExecutor(address, progress=False) as remote:
        assert remote.n_workers == 2
        assert remote.map(which_process, [0, 1])[1][0] == 1
    # closing the address-based executor must leave the shared cluster running
    assert cluster_executor.map(which_process, [2])[0][0] == 2
    shared = ShotExecutor(cluster_executor.client, progress=False)
    shared.close()
    assert cluster_executor.client.status == "running"


class _FakeDevitoFunction:
    pass


_FakeDevitoFunction.__module__ = "devito.types.dense"


def test_devito_objects_are_refused_in_tasks(cluster_executor):
    with pytest.raises(TypeError, match=r"argument args\[0\] is a Devito _FakeDevitoFunction"):
        cluster_executor.map(first_element, [0], _FakeDevitoFunction())


def test_kwargs_clashing_with_dask_submit_are_refused(cluster_executor):
    with pytest.raises(TypeError, match=r"\['priority'\] of the shot function clash"):
        cluster_executor.map(first_element, [0], np.ones(2), priority=1)


def test_bad_arguments_name_the_value():
    with pytest.raises(TypeError, match="got int"):
        ShotExecutor(3)
    with pytest.raises(ValueError, match="retries must be an integer >= 0, got -1"):
        ShotExecutor(retries=-1)
    with pytest.raises(ValueError, match="n_workers must be an integer >= 1, got 0"):
        ShotExecutor("local", n_workers=0)
    with pytest.raises(ValueError, match="'mean'"):
        map_shots(first_element, [0], np.ones(2), reduce="mean")
    with pytest.raises(ValueError, match="empty shot list"):
        ShotExecutor().map_reduce(first_element, [], np.ones(2))


def test_workers_share_the_cores_and_drop_malloc_trim(cluster_executor):
    # Dask's MALLOC_TRIM_THRESHOLD_ made NumPy time stepping ~10x slower in workers (see ShotExecutor).
    budgets = cluster_executor.client.run(lambda: (os.environ.get("MALLOC_TRIM_THRESHOLD_"), thread_budget()))
    share = max(1, usable_cores() // 2)
    assert sorted(budgets.values()) == [(None, ThreadBudget(share, "share"))] * 2


def test_worker_threads_are_set_and_checked():
    with ShotExecutor("local", n_workers=1, worker_threads=3, progress=False) as ex:
        budgets = ex.client.run(thread_budget)
        assert list(budgets.values()) == [ThreadBudget(3, "share")]
        ex.client.restart()  # a restarted worker gets the plugin again
        assert list(ex.client.run(thread_budget).values()) == [ThreadBudget(3, "share")]
    with pytest.raises(ValueError, match="worker_threads must be an integer >= 1, got 0"):
        ShotExecutor("local", n_workers=1, worker_threads=0)
