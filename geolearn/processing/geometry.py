"""The geometry of one shot as processing sees it, and projection of crooked lines onto a straight one.

Positions are x, y, elevation in metres (elevation positive up), as :class:`geolearn.io.Survey`
returns them. A 2D wave solver needs every source and receiver on one straight line; the
least-squares line of the whole survey (``Survey.line``, :func:`geolearn.io.line.fit_line`) is that line,
and projecting onto it keeps the distance along it and drops the perpendicular one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from geolearn.errors import GeometryError, ShapeError
from geolearn.io.line import StraightLine, fit_line
from geolearn.io.survey import to_model_frame

__all__ = ["ShotGeometry", "project_to_line", "shot_geometry"]


@dataclass(frozen=True)
class ShotGeometry:
    """Source and receivers of one shot gather.

    Attributes
    ----------
    source : numpy.ndarray of float64, shape (3,)
        x, y, elevation of the source, metres (elevation positive up).
    receivers : numpy.ndarray of float64, shape (n_receivers, 3)
        x, y, elevation of each receiver, metres, in the gather's trace order.
    line : StraightLine, optional
        The survey's straight line, used by the ``project`` step (fitted to this shot alone when
        absent, which gives each shot its own frame: pass the survey's line for a survey).
    """

    source: np.ndarray
    receivers: np.ndarray
    line: StraightLine | None = None

    def __post_init__(self) -> None:
        src = np.asarray(self.source, dtype=np.float64)
        rec = np.asarray(self.receivers, dtype=np.float64)
        if src.shape != (3,) or rec.ndim != 2 or rec.shape[1] != 3:
            raise ShapeError(
                f"source must be (3,) and receivers (n_receivers, 3): x, y, elevation; got {src.shape}, {rec.shape}"
            )
        object.__setattr__(self, "source", src)
        object.__setattr__(self, "receivers", rec)

    @property
    def n_receivers(self) -> int:
        return self.receivers.shape[0]

    def distances(self) -> np.ndarray:
        """Straight-line source-receiver distance (x, y and elevation), metres, shape (n_receivers,)."""
        return np.linalg.norm(self.receivers - self.source, axis=1)

    def offsets(self) -> np.ndarray:
        """Horizontal source-receiver distance, metres, shape (n_receivers,)."""
        return np.hypot(*(self.receivers[:, :2] - self.source[:2]).T)

    def select(self, keep: np.ndarray) -> ShotGeometry:
        """The geometry of the receivers where ``keep`` (bool, (n_receivers,)) is True."""
        return replace(self, receivers=self.receivers[np.asarray(keep, dtype=bool)])

    def model_positions(self, *, ndim: int = 2, datum: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Positions in the wave operators' frame, depth positive down (:func:`geolearn.io.survey.to_model_frame`)."""
        return to_model_frame(self.source, self.receivers, ndim=ndim, datum=datum)


def shot_geometry(survey: Any, i: int) -> ShotGeometry:
    """The :class:`ShotGeometry` of shot ``i`` of a :class:`geolearn.io.Survey`, carrying the survey's line.

    Raises
    ------
    GeometryError
        The survey's coordinates were read as angles (distances in metres cannot be formed).
    """
    if survey.coordinate_units not in ("m", "ft"):
        raise GeometryError(
            f"{survey.path}: coordinates are in {survey.coordinate_units!r}, not metres; processing needs "
            "metres: project them first, or read the survey with coordinate_units='m' if they are metres"
        )
    return ShotGeometry(survey.source_positions[i], survey.receiver_positions(i), line=survey.line)


def project_to_line(geometry: ShotGeometry, line: StraightLine | None = None) -> tuple[ShotGeometry, float]:
    """Project a shot's source and receivers onto a straight 2D line.

    Each position becomes (distance along the line, 0, elevation): the along-line coordinate is
    measured from the point of the line closest to (0, 0), so a line parallel to x keeps x.

    Parameters
    ----------
    geometry : ShotGeometry
    line : StraightLine, optional
        The line to project onto; default ``geometry.line``, else the least-squares line of this
        shot's own positions.

    Returns
    -------
    projected : ShotGeometry
        y = 0 everywhere; ``line`` kept.
    max_distance : float
        Largest perpendicular distance (metres) any of this shot's positions moved.
    """
    pts = np.vstack([geometry.source, geometry.receivers])
    line = line or geometry.line or fit_line(pts)
    along = line.along(pts)
    moved = float(np.abs(line.across(pts)).max())
    out = np.column_stack([along, np.zeros(len(pts)), pts[:, 2]])
    return ShotGeometry(out[0], out[1:], line=line), moved
