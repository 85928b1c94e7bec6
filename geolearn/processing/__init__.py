"""geolearn.processing: field-data preprocessing on shot gathers, one shot at a time.

A layer above :mod:`geolearn.io` and below imaging/FWI: NumPy and SciPy only, no Devito, no
learning. Every function takes one shot gather ``(n_receivers, nt)`` (time last) with the geometry it
needs (positions in metres, ``dt`` and ``t0`` in seconds) and returns a new float64 array:

- :func:`bandpass` (zero-phase Butterworth), :func:`resample` (anti-aliased),
  :func:`fractional_derivative` (half-derivative / half-integral);
- :func:`mute` (top, direct-wave, turning-wave, tapered);
- :func:`time_power_gain`, :func:`correct_3d_to_2d` (sqrt(t) and half-integration),
  :func:`normalize_traces`, :func:`agc`;
- :func:`edit_traces` / :func:`noisy_traces` (dead and noisy traces);
- :func:`project_to_line` (crooked lines onto the survey's straight line).

:func:`parse_steps` turns a ``[preprocess]`` list of a TOML configuration into a :class:`Pipeline`;
:func:`process_survey` applies it to a :class:`geolearn.io.Survey` lazily.
"""

from geolearn.processing.editing import EDIT_ACTIONS, edit_traces, noisy_traces
from geolearn.processing.filters import bandpass, fractional_derivative, resample
from geolearn.processing.gains import agc, correct_3d_to_2d, normalize_traces, time_power_gain
from geolearn.processing.geometry import ShotGeometry, project_to_line, shot_geometry
from geolearn.processing.mutes import MUTE_KINDS, mute
from geolearn.processing.pipeline import STEPS, Pipeline, ProcessedShot, Step, parse_steps, process_survey

__all__ = [
    "EDIT_ACTIONS",
    "MUTE_KINDS",
    "STEPS",
    "Pipeline",
    "ProcessedShot",
    "ShotGeometry",
    "Step",
    "agc",
    "bandpass",
    "correct_3d_to_2d",
    "edit_traces",
    "fractional_derivative",
    "mute",
    "noisy_traces",
    "normalize_traces",
    "parse_steps",
    "process_survey",
    "project_to_line",
    "resample",
    "shot_geometry",
    "time_power_gain",
]
