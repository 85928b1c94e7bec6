"""FWI settings and the inputs a run directory keeps so that :func:`resume` needs nothing else.

``run_dir/fwi_inputs.npz`` (written once, atomically, when a run starts) holds the problem
(grid, positions, time axis, wavelets), the observed data, the starting and (optional) true
models and the settings as JSON. ``run_dir/state.npz`` (replaced after every iteration by
:func:`geolearn.io.state.save_state`) holds what changes. A run started from a TOML file
also has ``config.toml`` (:class:`geolearn.runs.RunDirectory`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geolearn.atomic import atomic_write
from geolearn.errors import ConfigError
from geolearn.fwi.misfits import MISFITS
from geolearn.fwi.preconditioning import PRECONDITIONERS
from geolearn.imaging.problem import ShotProblem

__all__ = ["INPUTS_FILE", "FwiSettings", "load_inputs", "save_inputs"]

INPUTS_FILE = "fwi_inputs.npz"
OPTIMIZERS = ("lbfgs", "adam")


@dataclass(frozen=True)
class FwiSettings:
    """Everything that steers an FWI run (validated; see :func:`geolearn.fwi.fwi`)."""

    misfit: str = "l2"
    optimizer: str = "lbfgs"
    iterations: int = 10
    bands: tuple[float, ...] = ()
    bounds: tuple[float, float] = (1400.0, 5000.0)
    learning_rate: float = 10.0
    lbfgs_memory: int = 10
    initial_step: float = 50.0
    max_update: float = 300.0
    max_backtracks: int = 5
    water_depth: float = 0.0
    precondition: str = "illumination"
    illumination_eps: float = 1e-3
    estimate_wavelet: bool = False
    shots_per_iteration: int | None = None
    seed: int = 0
    checkpoint_every: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "bands", tuple(float(b) for b in self.bands))
        object.__setattr__(self, "bounds", tuple(float(b) for b in self.bounds))
        checks = [
            ("misfit", self.misfit in MISFITS, f"one of {sorted(MISFITS)}"),
            ("optimizer", self.optimizer in OPTIMIZERS, f"one of {OPTIMIZERS}"),
            ("precondition", self.precondition in PRECONDITIONERS, f"one of {PRECONDITIONERS}"),
            ("iterations", self.iterations >= 1, "an integer >= 1"),
            ("bounds", len(self.bounds) == 2 and 0 < self.bounds[0] < self.bounds[1], "[v_min, v_max], 0 < v_min < v_max"),
            ("learning_rate", self.learning_rate > 0, "> 0 (m/s)"),
            ("lbfgs_memory", self.lbfgs_memory >= 1, ">= 1"),
            ("initial_step", self.initial_step > 0, "> 0 (m/s)"),
            ("max_update", self.max_update > 0, "> 0 (m/s)"),
            ("max_backtracks", self.max_backtracks >= 1, ">= 1"),
            ("water_depth", self.water_depth >= 0, ">= 0 (m)"),
            ("shots_per_iteration", self.shots_per_iteration is None or self.shots_per_iteration >= 1, ">= 1 or None"),
            ("checkpoint_every", self.checkpoint_every >= 1, ">= 1"),
        ]  # fmt: skip
        for name, ok, valid in checks:
            if not ok:
                raise ConfigError(f"fwi {name} = {getattr(self, name)!r} is invalid: must be {valid}")

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FwiSettings:
        d = dict(d)
        d["bands"], d["bounds"] = tuple(d["bands"]), tuple(d["bounds"])
        return cls(**d)


_PROBLEM_PREFIX = "problem."


def save_inputs(
    run_dir: str | os.PathLike, problem: ShotProblem, observed: np.ndarray, initial: np.ndarray,
    true: np.ndarray | None, settings: FwiSettings,
) -> Path:  # fmt: skip
    """Write ``run_dir/fwi_inputs.npz`` atomically (see the module docstring).

    The problem is stored in its own pickle-free form (:meth:`ShotProblem.to_dict`, keys
    prefixed ``problem.``), beside ``observed`` ``(n_shots, max_receivers, nt)``, ``initial``
    and ``true`` ``(nx, nz)`` m/s and the settings as JSON.
    """
    meta = {"settings": settings.to_dict(), "has_true": true is not None}
    arrays = {f"{_PROBLEM_PREFIX}{k}": v for k, v in problem.to_dict().items()}
    arrays.update(
        observed=observed, initial=initial, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    )
    if true is not None:
        arrays["true"] = true
    path = Path(run_dir) / INPUTS_FILE
    with atomic_write(path, "wb") as fh:
        np.savez(fh, allow_pickle=False, **arrays)
    return path


def load_inputs(
    run_dir: str | os.PathLike,
) -> tuple[ShotProblem, np.ndarray, np.ndarray, np.ndarray | None, FwiSettings]:
    """Read what :func:`save_inputs` wrote: problem, observed, initial, true (or None), settings."""
    path = Path(run_dir) / INPUTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not an FWI run directory: {INPUTS_FILE} is missing")
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(arrays["meta"].tobytes().decode())
    problem = ShotProblem.from_dict(
        {k.removeprefix(_PROBLEM_PREFIX): v for k, v in arrays.items() if k.startswith(_PROBLEM_PREFIX)}
    )
    true = arrays["true"] if meta["has_true"] else None
    return problem, arrays["observed"], arrays["initial"], true, FwiSettings.from_dict(meta["settings"])
