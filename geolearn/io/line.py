"""The straight line through a 2D survey's positions (total least squares), and distances to it.

A 2D line is rarely straight in the field: streamers feather, land lines follow roads. The best
straight line minimises the sum of squared perpendicular distances (the principal axis of the
x/y positions); :class:`StraightLine` gives the distance along it (the 2D modelling coordinate) and
across it (how far each point is from the 2D assumption). ``read_survey`` fits it over every source
and receiver to report crooked lines; :mod:`geolearn.processing` projects shots onto it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geolearn.errors import GeometryError, ShapeError

__all__ = ["StraightLine", "fit_line"]


@dataclass(frozen=True)
class StraightLine:
    """A straight line in the horizontal (x, y) plane, in metres.

    Attributes
    ----------
    origin : numpy.ndarray of float64, shape (2,)
        The point of the line closest to (0, 0): distances along the line are measured from it, so a
        line parallel to the x axis keeps x as its along-line coordinate.
    direction : numpy.ndarray of float64, shape (2,)
        Unit vector along the line, pointing towards increasing x (towards increasing y when the line
        runs north-south).
    max_distance : float
        Largest perpendicular distance of the fitted points from the line, metres.
    """

    origin: np.ndarray
    direction: np.ndarray
    max_distance: float

    @property
    def azimuth(self) -> float:
        """Direction of the line in degrees clockwise from the +y axis (north), in [0, 180)."""
        return float(np.degrees(np.arctan2(self.direction[0], self.direction[1])) % 180.0)

    def along(self, xy: np.ndarray) -> np.ndarray:
        """Signed distance along the line from :attr:`origin`, metres, shape (n,), for points (n, >=2)."""
        return (_xy(xy) - self.origin) @ self.direction

    def across(self, xy: np.ndarray) -> np.ndarray:
        """Signed perpendicular distance from the line (positive to its left), metres, shape (n,)."""
        normal = np.array([-self.direction[1], self.direction[0]])
        return (_xy(xy) - self.origin) @ normal


def _xy(points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] < 2:
        raise ShapeError(f"points must be (n, >=2) with x, y first; got shape {pts.shape}")
    return pts[:, :2]


def fit_line(points: np.ndarray) -> StraightLine:
    """Least-squares (orthogonal) straight line through the x, y of ``points``.

    Parameters
    ----------
    points : numpy.ndarray, shape (n, >=2)
        Positions in metres; only the first two columns (x, y) are used.

    Returns
    -------
    StraightLine

    Raises
    ------
    GeometryError
        Fewer than two distinct points (no line is defined), or non-finite coordinates.
    """
    xy = _xy(points)
    if not np.all(np.isfinite(xy)):
        raise GeometryError("cannot fit a line: positions contain non-finite coordinates")
    centre = xy.mean(axis=0)
    _, sing, vt = np.linalg.svd(xy - centre, full_matrices=False)
    if sing[0] <= 1e-12 * max(1.0, np.abs(xy).max()):
        raise GeometryError(
            f"cannot fit a line through {len(xy)} positions that all lie at ({centre[0]:g}, {centre[1]:g}) m"
        )
    direction = vt[0] / np.linalg.norm(vt[0])
    if direction[0] < 0 or (direction[0] == 0 and direction[1] < 0):
        direction = -direction
    origin = centre - (centre @ direction) * direction
    normal = np.array([-direction[1], direction[0]])
    max_distance = float(np.abs((xy - origin) @ normal).max())
    return StraightLine(origin=origin, direction=direction, max_distance=max_distance)
