"""Acquisition geometry: per-shot source and receiver positions, time axis and wavelets."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

from geolearn.errors import GeometryError, ShapeError
from geolearn.wave.model import Model
from geolearn.wave.wavelet import max_frequency, resample, ricker

logger = logging.getLogger("geolearn.wave.geometry")

__all__ = ["DEFAULT_CFL_FRACTION", "Geometry"]

#: Default modelling time step as a fraction of :meth:`Model.critical_dt`.
DEFAULT_CFL_FRACTION = 0.8


class Geometry:
    """Sources, receivers, time axis and wavelets of a survey over a :class:`Model`.

    One point source per shot; each shot has its own receivers (counts may differ).
    Positions are off-grid (interpolated) and in metres, ``(x, z)`` or ``(x, y, z)``.

    Parameters
    ----------
    model : Model
        The model the geometry lives in (bounds, stability limit, sampling check).
    src_positions : array_like
        Shape ``(n_shots, ndim)`` in metres.
    rec_positions : array_like or sequence of array_like
        ``(n_receivers, ndim)`` shared by all shots, or one such array per shot.
    tn : float
        Recording length in seconds; ``nt = round(tn / dt) + 1`` samples from t = 0.
    dt : float, optional
        Modelling and recording interval in seconds; default ``0.8 * model.critical_dt()``.
        A value above the stability limit raises :class:`~geolearn.errors.StabilityError`.
    f0 : float, optional
        Ricker peak frequency in Hz, used when ``wavelet`` is not given.
    wavelet : array_like or torch.Tensor, optional
        ``(nt_w,)`` shared or ``(n_shots, nt_w)``. Without ``wavelet_dt`` it must already have
        ``nt`` samples; with ``wavelet_dt`` (s) it is resampled to ``dt``.
    wavelet_dt : float, optional
        Sample interval of ``wavelet`` in seconds.

    Attributes
    ----------
    wavelets : torch.Tensor
        ``(n_shots, nt)`` in the model's dtype.
    n_receivers : list of int
        Receivers per shot; padded tensors use ``max_receivers``.

    Raises
    ------
    GeometryError
        A position outside the model (naming shot and coordinate) or of the wrong dimension.
    ShapeError
        A wavelet with the wrong number of samples or shots.
    """

    def __init__(
        self,
        model: Model,
        src_positions: np.ndarray | Sequence[Sequence[float]],
        rec_positions: np.ndarray | Sequence[np.ndarray],
        tn: float,
        *,
        dt: float | None = None,
        f0: float | None = None,
        wavelet: np.ndarray | torch.Tensor | None = None,
        wavelet_dt: float | None = None,
    ) -> None:
        self.model = model
        src = np.atleast_2d(np.asarray(src_positions, dtype=np.float64))
        if src.shape[-1] != model.ndim:
            raise GeometryError(f"src_positions must have shape (n_shots, {model.ndim}); got {src.shape}")
        self.src_positions = src
        self.n_shots = src.shape[0]
        recs = self._per_shot(rec_positions)
        self.rec_positions: list[np.ndarray] = recs
        for shot in range(self.n_shots):
            self._check_inside(shot, "source", src[shot : shot + 1])
            self._check_inside(shot, "receiver", recs[shot])

        self.dt = float(dt) if dt is not None else DEFAULT_CFL_FRACTION * model.critical_dt()
        model.check_dt(self.dt)
        if not tn > 0:
            raise GeometryError(f"tn must be a positive recording time in seconds, got {tn}")
        self.nt = round(tn / self.dt) + 1
        self.tn = (self.nt - 1) * self.dt
        self.f0 = f0
        self.wavelets = self._wavelets(wavelet, wavelet_dt, f0)
        self.fmax = max_frequency(self.wavelets.numpy(), self.dt)
        model.check_sampling(self.fmax)

    # ------------------------------------------------------------------ construction helpers
    def _per_shot(self, rec_positions: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
        ndim = self.model.ndim
        if isinstance(rec_positions, (np.ndarray, torch.Tensor)) and np.asarray(rec_positions).ndim == 2:
            shared = np.asarray(rec_positions, dtype=np.float64)
            recs = [shared] * self.n_shots
        else:
            recs = [np.atleast_2d(np.asarray(r, dtype=np.float64)) for r in rec_positions]
            if len(recs) != self.n_shots:
                raise GeometryError(
                    f"got receiver positions for {len(recs)} shots but {self.n_shots} sources"
                )
        for shot, r in enumerate(recs):
            if r.ndim != 2 or r.shape[-1] != ndim or r.shape[0] == 0:
                raise GeometryError(
                    f"shot {shot}: receiver positions must have shape (n, {ndim}); got {r.shape}"
                )
        return recs

    def _check_inside(self, shot: int, what: str, coords: np.ndarray) -> None:
        inside = self.model.contains(coords)
        if not inside.all():
            i = int(np.argmin(inside))
            lo = np.array(self.model.origin)
            hi = lo + np.array(self.model.extent)
            raise GeometryError(
                f"shot {shot}: {what} {i} at {tuple(coords[i].tolist())} m lies outside the model "
                f"[{', '.join(f'{a:g}..{b:g}' for a, b in zip(lo, hi))}] m"
            )

    def _wavelets(
        self, wavelet: np.ndarray | torch.Tensor | None, wavelet_dt: float | None, f0: float | None
    ) -> torch.Tensor:
        dtype = self.model.dtype
        if wavelet is None:
            if f0 is None:
                raise GeometryError("give either f0 (Ricker peak frequency, Hz) or a wavelet")
            return ricker(f0, self.nt, self.dt, dtype=dtype).expand(self.n_shots, -1).clone()
        w = wavelet.detach().cpu().numpy() if isinstance(wavelet, torch.Tensor) else np.asarray(wavelet)
        w = np.atleast_2d(w.astype(np.float64))
        if w.ndim != 2 or w.shape[0] not in (1, self.n_shots):
            raise ShapeError(f"wavelet must have shape (nt,) or ({self.n_shots}, nt); got {w.shape}")
        if wavelet_dt is not None:
            w = resample(w, wavelet_dt, self.dt, self.nt)
        elif w.shape[-1] != self.nt:
            raise ShapeError(
                f"wavelet has {w.shape[-1]} samples but the time axis has nt = {self.nt} "
                f"(dt = {self.dt:.6g} s, tn = {self.tn:.6g} s); pass wavelet_dt to resample it"
            )
        return torch.as_tensor(np.broadcast_to(w, (self.n_shots, self.nt)).copy(), dtype=dtype)

    # ------------------------------------------------------------------ properties
    @property
    def n_receivers(self) -> list[int]:
        return [r.shape[0] for r in self.rec_positions]

    @property
    def max_receivers(self) -> int:
        return max(self.n_receivers)

    @property
    def time_axis(self) -> np.ndarray:
        """Sample times in seconds, shape ``(nt,)``."""
        return np.arange(self.nt) * self.dt

    @property
    def record_shape(self) -> tuple[int, int, int]:
        """Shape of padded records, ``(n_shots, max_receivers, nt)``."""
        return self.n_shots, self.max_receivers, self.nt

    def mask(self) -> torch.Tensor:
        """Boolean ``(n_shots, max_receivers)``: True for real (not padded) traces."""
        counts = torch.tensor(self.n_receivers)
        return torch.arange(self.max_receivers)[None, :] < counts[:, None]

    def subset(self, shots: Sequence[int]) -> Geometry:
        """A geometry with only the given shots (same model, time axis and wavelets)."""
        new = object.__new__(Geometry)
        new.__dict__.update(self.__dict__)
        idx = list(shots)
        new.src_positions = self.src_positions[idx]
        new.rec_positions = [self.rec_positions[i] for i in idx]
        new.n_shots = len(idx)
        new.wavelets = self.wavelets[idx]
        return new

    def __repr__(self) -> str:
        return (
            f"Geometry(n_shots={self.n_shots}, n_receivers={self.n_receivers if self.n_shots <= 4 else '...'}, "
            f"nt={self.nt}, dt={self.dt:.6g} s, tn={self.tn:.6g} s)"
        )
