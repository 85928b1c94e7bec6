"""What the workflows return: outputs, per-iteration history and a ``plot()`` for each.

Histories are dicts of equal-length lists (one entry per iteration), so they serialise to
JSON and checkpoints as they are and plot with :func:`geolearn.viz.convergence.plot_convergence`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from geolearn.imaging.conditioning import display_gain
from geolearn.imaging.problem import ShotProblem
from geolearn.viz.convergence import plot_convergence
from geolearn.viz.gather import plot_gather
from geolearn.viz.model import plot_image, plot_model

__all__ = ["FwiResult", "ImageResult", "SurveyResult"]


@dataclass
class SurveyResult:
    """A modelled survey.

    Attributes
    ----------
    records : ndarray, shape (n_shots, max_receivers, nt)
        Shot records (float64), zero traces padding shots with fewer receivers.
    problem : ShotProblem
        Grid, positions, time axis and wavelets that produced them.
    velocity : ndarray, shape (nx, nz)
        The velocity modelled, m/s.
    path : Path or None
        The SEG-Y file written, if any.
    history : dict
        ``n_solves``: wave-equation solves used (one entry).
    """

    records: np.ndarray
    problem: ShotProblem
    velocity: np.ndarray
    path: Path | None = None
    history: dict[str, list[float]] = field(default_factory=dict)

    def plot(self, shot: int = 0) -> plt.Figure:
        """Velocity with the acquisition, and the records of ``shot``."""
        p = self.problem
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
        plot_model(self.velocity, p.spacing, p.origin, ax=axes[0], sources=p.src_positions,
                   receivers=p.rec_positions[shot])  # fmt: skip
        n = p.n_receivers[shot]
        plot_gather(self.records[shot, :n], dt=p.dt, positions=p.rec_positions[shot][:, 0], ax=axes[1],
                    title=f"shot {shot} (source x = {p.src_positions[shot, 0]:g} m)")  # fmt: skip
        return fig


@dataclass
class ImageResult:
    """A migrated image (RTM or LSRTM).

    Attributes
    ----------
    image : ndarray, shape (nx, nz)
        The image; for LSRTM a velocity perturbation in m/s.
    problem : ShotProblem
    velocity : ndarray, shape (nx, nz)
        Migration velocity, m/s.
    history : dict
        RTM: ``n_solves``. LSRTM: per iteration ``misfit`` (``½‖J δv − d‖²``), ``objective``,
        ``n_solves`` (cumulative), ``time`` (s).
    illumination : ndarray or None
        Source illumination ``Σ_t (∂²u/∂t²)²`` summed over shots (RTM).
    method : str
        ``"rtm"``, ``"lsrtm-cg"`` or ``"lsrtm-fista"``.
    path : Path or None
        SEG-Y image written, if any.
    """

    image: np.ndarray
    problem: ShotProblem
    velocity: np.ndarray
    history: dict[str, list[float]] = field(default_factory=dict)
    illumination: np.ndarray | None = None
    method: str = "rtm"
    path: Path | None = None

    def plot(self, gain: str = "none") -> plt.Figure:
        """The image, and the data misfit per iteration for LSRTM.

        ``gain`` evens out amplitudes with depth for the figure only (``'agc'``, ``'depth'`` or
        ``'none'``, see :func:`~geolearn.imaging.display_gain`); ``image`` is left as it is.
        """
        p = self.problem
        has_curve = len(self.history.get("misfit", [])) > 0
        fig, axes = plt.subplots(1, 2 if has_curve else 1, figsize=(11 if has_curve else 7, 4),
                                 constrained_layout=True, squeeze=False)  # fmt: skip
        shown = display_gain(self.image, p.spacing, p.origin, kind=gain)
        title = f"{self.method} image" + ("" if gain == "none" else f" ({gain} display gain)")
        plot_image(shown, p.spacing, p.origin, ax=axes[0, 0], title=title)
        if has_curve:
            plot_convergence({self.method: self.history["misfit"]}, ylabel="data misfit ½‖Jδv − d‖²",
                             ax=axes[0, 1])  # fmt: skip
        return fig


@dataclass
class FwiResult:
    """A full-waveform inversion.

    Attributes
    ----------
    velocity : ndarray, shape (nx, nz)
        Final model, m/s.
    initial : ndarray, shape (nx, nz)
        Starting model, m/s.
    history : dict of lists
        Per iteration: ``iteration`` (1-based, global), ``band`` (index), ``frequency``
        (low-pass corner, Hz; 0 = unfiltered), ``misfit`` (at the model the iteration started
        from, on that band's data), ``model_error`` (``‖v − v_true‖/‖v_true‖`` after the
        update, NaN without a true model), ``step`` (max ``|Δv|`` in m/s), ``n_solves``
        (cumulative wave-equation solves), ``time`` (s).
    problem : ShotProblem
    true : ndarray or None
        True model, if known.
    gradients : list of ndarray
        The (preconditioned) gradient of the first iteration of each band, ``(nx, nz)``.
    misfit_initial, misfit_final : float
        Misfit of the starting and the final model on the last band's data.
    run_dir : Path or None
        Run directory holding the checkpoints.
    wavelets : ndarray or None
        Wavelets of the last band (low-passed, or estimated), ``(n_shots, nt)`` or ``(nt,)``.
    """

    velocity: np.ndarray
    initial: np.ndarray
    history: dict[str, list[float]]
    problem: ShotProblem
    true: np.ndarray | None = None
    gradients: list[np.ndarray] = field(default_factory=list)
    misfit_initial: float = float("nan")
    misfit_final: float = float("nan")
    run_dir: Path | None = None
    wavelets: np.ndarray | None = None

    @property
    def model_error(self) -> float:
        """``‖v − v_true‖ / ‖v_true‖`` of the final model (NaN without a true model)."""
        return relative_error(self.velocity, self.true)

    def plot(self) -> plt.Figure:
        """Starting, final (and true) models, the first gradient, and convergence curves."""
        p = self.problem
        panels = [("initial model", self.initial), ("FWI model", self.velocity)]
        if self.true is not None:
            panels.append(("true model", self.true))
        n = len(panels) + 2
        fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.6), constrained_layout=True)
        lo = min(float(v.min()) for _, v in panels)
        hi = max(float(v.max()) for _, v in panels)
        for ax, (title, v) in zip(axes, panels):
            plot_model(np.clip(v, lo, hi), p.spacing, p.origin, ax=ax, title=title)
        if self.gradients:
            plot_image(self.gradients[0], p.spacing, p.origin, ax=axes[len(panels)], title="first gradient")
        else:
            axes[len(panels)].axis("off")
        curves = {"misfit / first": np.asarray(self.history["misfit"]) / self.history["misfit"][0]}
        if self.true is not None:
            curves["model error"] = self.history["model_error"]
        plot_convergence(curves, ylabel="relative value", ax=axes[-1], title="convergence")
        return fig


def relative_error(v: np.ndarray, true: np.ndarray | None) -> float:
    """``‖v − true‖ / ‖true‖`` (NaN when ``true`` is None)."""
    if true is None:
        return float("nan")
    return float(np.linalg.norm(v - true) / np.linalg.norm(true))
