"""geolearn.imaging: the shot problem, survey input and modelling, RTM and LSRTM.

- :class:`ShotProblem` — the one serialisable description of a survey over a grid (grid,
  acquisition, time axis, wavelets), plain data that travels to Dask workers, into FWI state
  and into learned-network files (``to_dict``/``from_dict``, ``from_wave``/``to_wave``);
  :func:`choose_dt`, :func:`surface_acquisition`.
- :func:`problem_from_survey` / :func:`resolve_survey` — SEG-Y surveys (or modelled surveys)
  to a :class:`ShotProblem` and data ``(n_shots, max_receivers, nt)``.
- :func:`model_survey` — synthetic SEG-Y shots from a velocity model (:func:`survey_problem`
  builds the problem, :func:`model_problem` models it).
- :func:`preflight` — the checks every workflow runs before its first wave-equation solve
  (outputs writable, free disk, coverage, stable ``dt``, grid fine enough for the wavelet).
- :func:`rtm` — reverse-time migration, conditioned by :func:`compensate_illumination`,
  :func:`laplacian_filter` and :func:`water_mute` (sea bed from the velocity, :func:`seabed_depth`);
  :func:`display_gain` for figures only.
- :func:`lsrtm` — least-squares RTM by CG or FISTA on :class:`geolearn.wave.BornOperator`
  run shot by shot through the executor.
- :func:`estimate_wavelet` — source wavelet from the data by frequency-domain least squares on
  the modelled early arrivals; the FWI loop uses it too, and :func:`fit_wavelet` (amplitude or
  spectrum) before RTM/LSRTM.
- :class:`SurveyResult`, :class:`ImageResult` — what the workflows return (with ``plot()``).
- :func:`executor` — the shot-parallel executor the workflows share.

Also in submodules (their public home):

- :mod:`geolearn.imaging.discretisation` — :func:`~geolearn.imaging.discretisation.as_velocity`
  (a velocity in m/s from an array, tensor or ``VelocityModel``), ``stability_limit``;
- :mod:`geolearn.imaging.modeling` — :func:`~geolearn.imaging.modeling.model_records` (records of a
  problem, no SEG-Y);
- :mod:`geolearn.imaging.wavelet` — :func:`~geolearn.imaging.wavelet.early_arrival_window`,
  ``WAVELET_FITS``;
- :mod:`geolearn.imaging.conditioning` — ``DISPLAY_GAINS``;
- :mod:`geolearn.imaging.rtm` — :func:`~geolearn.imaging.rtm.migrate` (the per-shot RTM sum on an
  executor), :func:`~geolearn.imaging.rtm.write_image_file`;
- :mod:`geolearn.imaging.shots` — the per-shot tasks the executor runs;
- :mod:`geolearn.imaging.preflight` — ``segy_bytes`` and the limits the checks use.
"""

from geolearn.imaging.acquisition import surface_acquisition
from geolearn.imaging.conditioning import (
    compensate_illumination,
    display_gain,
    laplacian_filter,
    seabed_depth,
    water_mute,
)
from geolearn.imaging.discretisation import choose_dt
from geolearn.imaging.lsrtm import lsrtm
from geolearn.imaging.modeling import model_problem, model_survey, survey_problem
from geolearn.imaging.preflight import preflight
from geolearn.imaging.problem import ShotProblem
from geolearn.imaging.results import FwiResult, ImageResult, SurveyResult
from geolearn.imaging.rtm import rtm
from geolearn.imaging.shots import executor
from geolearn.imaging.survey_input import problem_from_survey, resolve_survey
from geolearn.imaging.wavelet import estimate_wavelet, fit_wavelet

__all__ = [
    "FwiResult",
    "ImageResult",
    "ShotProblem",
    "SurveyResult",
    "choose_dt",
    "compensate_illumination",
    "display_gain",
    "estimate_wavelet",
    "executor",
    "fit_wavelet",
    "laplacian_filter",
    "lsrtm",
    "model_problem",
    "model_survey",
    "preflight",
    "problem_from_survey",
    "resolve_survey",
    "rtm",
    "seabed_depth",
    "surface_acquisition",
    "survey_problem",
    "water_mute",
]
