"""Declarative preprocessing: a list of steps (as in a TOML ``[preprocess]`` list) applied shot by shot.

>>> pipeline = parse_steps([
...     {"step": "bandpass", "low": 3, "high": 25},
...     {"step": "mute", "kind": "direct", "velocity": 1500, "taper": 0.05},
... ])
>>> pipeline.check(dt=0.004, nt=1000)                      # before any wave solve
>>> shot = pipeline.apply(data, geometry, dt=0.004)         # doctest: +SKIP

Every step is one function of :mod:`geolearn.processing`; :data:`STEPS` lists them with their
parameters. :func:`parse_steps` checks names, keys, types and signs without data; :meth:`Pipeline.check`
checks what depends on the sample interval (corners below Nyquist, resampling ratios, AGC windows) by
running the steps on a two-trace probe, so the messages are the functions' own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from geolearn.errors import ConfigError, GeolearnError
from geolearn.processing.editing import EDIT_ACTIONS, edit_traces
from geolearn.processing.filters import bandpass, resample
from geolearn.processing.gains import agc, correct_3d_to_2d, normalize_traces, time_power_gain
from geolearn.processing.geometry import ShotGeometry, project_to_line, shot_geometry
from geolearn.processing.mutes import MUTE_KINDS, mute

__all__ = ["STEPS", "Pipeline", "ProcessedShot", "Step", "parse_steps", "process_survey"]


@dataclass(frozen=True)
class ProcessedShot:
    """A shot gather after a :class:`Pipeline`.

    Attributes
    ----------
    data : numpy.ndarray of float64, shape (n_receivers, nt)
    geometry : ShotGeometry
        Positions of the remaining receivers (projected when a ``project`` step ran).
    dt, t0 : float
        Sample interval and first-sample time, seconds (``resample`` changes ``dt``).
    notes : tuple of str
        What steps changed beyond the samples (traces dropped, distance projected).
    """

    data: np.ndarray
    geometry: ShotGeometry
    dt: float
    t0: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Param:
    kind: str  # 'number', 'integer', 'choice'
    default: Any = ...  # ... = required; None = optional and absent
    sign: str = ""  # '>0', '>=0', '>1' for numbers
    choices: tuple[str, ...] = ()
    unit: str = ""

    def validate(self, where: str, key: str, value: Any) -> Any:
        bad = f"{where}: {key}={value!r}"
        if self.kind == "choice":
            if value not in self.choices:
                raise ConfigError(f"{bad} must be one of {list(self.choices)}")
            return value
        integral = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if self.kind == "integer" and not integral:
            raise ConfigError(f"{bad} must be an integer")
        if not (integral or isinstance(value, (float, np.floating))) or not np.isfinite(value):
            raise ConfigError(f"{bad} must be a finite number{f' ({self.unit})' if self.unit else ''}")
        limit = {">0": value > 0, ">=0": value >= 0, ">1": value > 1, "": True}[self.sign]
        if not limit:
            raise ConfigError(
                f"{bad} must be {self.sign[:-1]} {self.sign[-1]}{f' ({self.unit})' if self.unit else ''}"
            )
        return int(value) if self.kind == "integer" else float(value)


#: The preprocessing steps a ``[[preprocess]]`` table may name, with their parameters and defaults.
STEPS: dict[str, dict[str, _Param]] = {
    "bandpass": {"low": _Param("number", None, ">0", unit="Hz"), "high": _Param("number", None, ">0", unit="Hz"),
                 "order": _Param("integer", 4, ">0")},
    "mute": {"velocity": _Param("number", ..., ">0", unit="m/s"), "kind": _Param("choice", "top", choices=MUTE_KINDS),
             "taper": _Param("number", 0.05, ">=0", unit="s"), "delay": _Param("number", 0.0, unit="s")},
    "gain": {"power": _Param("number", 2.0)},
    "3d_to_2d": {"velocity": _Param("number", None, ">0", unit="m/s"), "delay": _Param("number", 0.0, unit="s")},
    "normalize": {"kind": _Param("choice", "rms", choices=("rms", "max"))},
    "agc": {"window": _Param("number", 0.5, ">0", unit="s")},
    "edit": {"noisy": _Param("number", 5.0, ">1"), "action": _Param("choice", "drop", choices=EDIT_ACTIONS)},
    "resample": {"dt": _Param("number", ..., ">0", unit="s")},
    "project": {},
}  # fmt: skip


@dataclass(frozen=True)
class Step:
    """One validated step: its name (a key of :data:`STEPS`) and its parameters, defaults filled in."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The step as a TOML-ready dict (``{"step": name, **params}``, absent options left out)."""
        return {"step": self.name, **{k: v for k, v in self.params.items() if v is not None}}


def _parse_one(i: int, entry: Any) -> Step:
    where = f"preprocess[{i}]"
    if not isinstance(entry, Mapping):
        raise ConfigError(
            f'{where}: each step must be a table like {{step = "bandpass", ...}}, got {entry!r}'
        )
    name = entry.get("step")
    if name not in STEPS:
        raise ConfigError(f"{where}: step={name!r} is not a known step; valid steps: {sorted(STEPS)}")
    where = f"{where} ({name})"
    spec = STEPS[name]
    unknown = sorted(set(entry) - set(spec) - {"step"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys: {sorted(spec)}")
    params = {}
    for key, param in spec.items():
        if key not in entry and param.default is ...:
            raise ConfigError(f"{where}: '{key}' is required{f' ({param.unit})' if param.unit else ''}")
        value = entry.get(key, param.default)
        params[key] = None if value is None else param.validate(where, key, value)
    if name == "bandpass":
        low, high = params["low"], params["high"]
        if low is None and high is None:
            raise ConfigError(f"{where}: give low and/or high (Hz)")
        if low is not None and high is not None and low >= high:
            raise ConfigError(f"{where}: low={low:g} must be below high={high:g} (Hz)")
    return Step(name, params)


def parse_steps(entries: Sequence[Mapping[str, Any]]) -> Pipeline:
    """Validate a ``[preprocess]`` list (of dicts with a ``step`` key) into a :class:`Pipeline`.

    Parameters
    ----------
    entries : sequence of mapping
        E.g. ``[{"step": "bandpass", "low": 3, "high": 25}, {"step": "mute", "kind": "direct",
        "velocity": 1500, "taper": 0.05}]``. Steps and their keys: :data:`STEPS`.

    Raises
    ------
    ConfigError
        Naming the entry (``preprocess[1] (mute)``), the key and the value, and what is valid.
    """
    if isinstance(entries, (str, bytes, Mapping)) or not isinstance(entries, Sequence):
        raise ConfigError(f"preprocess must be a list of steps, got {type(entries).__name__}")
    return Pipeline(tuple(_parse_one(i, e) for i, e in enumerate(entries)))


def _run(step: Step, shot: ProcessedShot) -> ProcessedShot:
    p, x, dt, t0 = step.params, shot.data, shot.dt, shot.t0
    if step.name == "bandpass":
        return replace(shot, data=bandpass(x, dt, low=p["low"], high=p["high"], order=p["order"]))
    if step.name == "mute":
        return replace(shot, data=mute(x, dt, shot.geometry, p["velocity"], kind=p["kind"], taper=p["taper"],
                                       delay=p["delay"], t0=t0))  # fmt: skip
    if step.name == "gain":
        return replace(shot, data=time_power_gain(x, dt, power=p["power"], t0=t0))
    if step.name == "3d_to_2d":
        return replace(shot, data=correct_3d_to_2d(x, dt, t0=t0, velocity=p["velocity"], delay=p["delay"]))
    if step.name == "normalize":
        return replace(shot, data=normalize_traces(x, kind=p["kind"]))
    if step.name == "agc":
        return replace(shot, data=agc(x, dt, window=p["window"]))
    if step.name == "resample":
        data, new_dt = resample(x, dt, p["dt"])
        return replace(shot, data=data, dt=new_dt)
    if step.name == "edit":
        data, keep = edit_traces(x, noisy=p["noisy"], action=p["action"])
        geometry = shot.geometry.select(keep) if p["action"] == "drop" else shot.geometry
        note = (
            f"edit: {p['action']} {int((~keep).sum())} of {keep.size} traces {np.flatnonzero(~keep).tolist()}"
        )
        return replace(shot, data=data, geometry=geometry, notes=(*shot.notes, note))
    geometry, moved = project_to_line(shot.geometry)
    return replace(
        shot, geometry=geometry, notes=(*shot.notes, f"project: positions moved up to {moved:.3g} m")
    )


@dataclass(frozen=True)
class Pipeline:
    """An ordered list of validated :class:`Step` (build it with :func:`parse_steps`)."""

    steps: tuple[Step, ...] = ()

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def as_dicts(self) -> list[dict[str, Any]]:
        """The steps as TOML-ready dicts; ``parse_steps(p.as_dicts()) == p``."""
        return [s.as_dict() for s in self.steps]

    def apply(self, data: np.ndarray, geometry: ShotGeometry, dt: float, *, t0: float = 0.0) -> ProcessedShot:
        """Run every step on one shot gather.

        Parameters
        ----------
        data : numpy.ndarray, shape (n_receivers, nt)
            The gather, time last (any float dtype; the result is float64).
        geometry : ShotGeometry
            Its source and receiver positions (with the survey's line for a ``project`` step).
        dt, t0 : float
            Sample interval and first-sample time, seconds.

        Raises
        ------
        GeolearnError
            The step function's own error (e.g. :class:`ConfigError` for a corner above Nyquist,
            :class:`ShapeError` for a geometry that does not match the gather), its message
            prefixed with the step (``preprocess[i] (name): ...``).
        """
        shot = ProcessedShot(np.asarray(data, dtype=np.float64), geometry, float(dt), float(t0))
        for i, step in enumerate(self.steps):
            try:
                shot = _run(step, shot)
            except GeolearnError as err:  # same error type, now naming the step
                raise type(err)(f"preprocess[{i}] ({step.name}): {err}") from err
        return shot

    def check(self, dt: float, nt: int, *, t0: float = 0.0) -> None:
        """Check the steps against a survey's time axis before any wave solve.

        Runs the pipeline on a two-trace probe of ``nt`` samples, so every dt-dependent limit
        (bandpass corners below Nyquist, resampling ratios, AGC windows) is checked by the same code
        that applies it.

        Raises
        ------
        ConfigError
            As :meth:`apply` would for real data.
        """
        probe = np.vstack([np.sin(np.arange(nt) * 0.3), np.cos(np.arange(nt) * 0.2)])
        geometry = ShotGeometry(np.zeros(3), np.array([[10.0, 0.0, 0.0], [20.0, 1.0, 0.0]]))
        self.apply(probe, geometry, dt, t0=t0)


def process_survey(survey: Any, pipeline: Pipeline) -> Iterator[tuple[int, ProcessedShot]]:
    """Apply ``pipeline`` to every shot of a :class:`geolearn.io.Survey`, lazily (one shot in memory).

    Yields
    ------
    (int, ProcessedShot)
        Shot index and the processed shot (its geometry carries ``survey.line``).
    """
    for i in range(len(survey)):
        yield i, pipeline.apply(survey.read(i), shot_geometry(survey, i), survey.dt, t0=survey.t0)
