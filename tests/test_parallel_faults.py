"""A worker process killed (SIGKILL, by pid) mid-computation costs a retry, not the result."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from geolearn.parallel import ShotExecutor, map_shots

N_SHOTS = 6


def slow_gradient(shot: int, marker_dir: str, delay: float) -> tuple[float, np.ndarray]:
    """Records (shot, pid) on disk when it starts, then works for a while; deterministic result."""
    Path(marker_dir, f"start-{shot}-{os.getpid()}-{time.monotonic_ns()}").touch()
    time.sleep(delay)
    grad = np.random.default_rng(100 + shot).standard_normal((32, 24))
    return float(np.sum(grad**2)), grad


@pytest.fixture(scope="module")
def executor():
    with ShotExecutor("local", n_workers=2, retries=1, allowed_failures=3, progress=False) as ex:
        yield ex


def _markers(marker_dir: Path) -> list[tuple[int, int]]:
    return [(int(p.name.split("-")[1]), int(p.name.split("-")[2])) for p in marker_dir.iterdir()]


def test_killing_a_worker_by_pid_still_gives_the_serial_gradient(executor, tmp_path):
    serial_dir, dask_dir = tmp_path / "serial", tmp_path / "dask"
    serial_dir.mkdir()
    dask_dir.mkdir()
    expected_misfit, expected_grad = map_shots(
        slow_gradient, range(N_SHOTS), str(serial_dir), 0.0, reduce="sum", progress=False
    )

    worker_pids = set(executor.client.run(os.getpid).values())
    assert len(worker_pids) == 2
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = executor.map_reduce(slow_gradient, range(N_SHOTS), str(dask_dir), 0.6)
        except BaseException as exc:  # surfaced by the assertion below
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 30
    while not _markers(dask_dir) and time.monotonic() < deadline:
        time.sleep(0.02)
    started = _markers(dask_dir)
    assert started, "no shot started within 30 s"
    victim_shot, victim_pid = started[0]
    assert victim_pid in worker_pids
    os.kill(victim_pid, signal.SIGKILL)
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert "error" not in outcome, outcome.get("error")

    misfit, grad = outcome["value"]
    assert np.array_equal(grad, expected_grad)
    assert misfit == expected_misfit
    # The shot that was running on the killed worker ran again, in another process.
    reruns = [pid for shot, pid in _markers(dask_dir) if shot == victim_shot]
    assert len(reruns) == 2 and reruns.count(victim_pid) == 1
    with pytest.raises(ProcessLookupError):
        os.kill(victim_pid, 0)
