"""Shot problems: the one serialisable description of a survey over a grid.

A :class:`ShotProblem` holds everything a per-shot wave-equation solve needs as NumPy arrays
and numbers (grid, propagation settings, positions, time axis, wavelets). It is what travels
to Dask workers (:meth:`ShotProblem.model` and :meth:`ShotProblem.geometry` build the wave
layer's :class:`~geolearn.wave.Model` and :class:`~geolearn.wave.Geometry` where the solve
runs, so no Devito object crosses a process boundary), what an FWI run directory stores and
what a learned network's file keeps as its training geometry.

:meth:`ShotProblem.to_dict` / :meth:`ShotProblem.from_dict` give it a flat, pickle-free form
(arrays and plain scalars) for ``numpy.savez`` and for ``torch.save`` read back with
``torch.load(weights_only=True)``; :meth:`ShotProblem.from_wave` / :meth:`ShotProblem.to_wave`
convert to and from the wave layer's objects.

Layout conventions: models ``(nx, nz)`` depth last, positions ``(x, z)`` in metres with depth
positive down, records ``(n_shots, max_receivers, nt)`` time last, SI units.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from geolearn.errors import ConfigError, GeometryError, ModelError, ShapeError
from geolearn.imaging.discretisation import as_velocity, choose_dt
from geolearn.wave import Geometry, Model, ricker

__all__ = ["ShotProblem"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}

#: Version of the :meth:`ShotProblem.to_dict` layout (stored under ``"version"``).
DICT_VERSION = 1
_SCALARS = {
    "dt": float,
    "nt": int,
    "nbl": int,
    "space_order": int,
    "free_surface": bool,
    "boundary": str,
    "dtype": str,
}
_DICT_KEYS = ("version", "reference", "src_positions", "rec_positions", "n_receivers", "wavelets", "spacing", "origin",
              *_SCALARS)  # fmt: skip


def _plain(value: Any) -> Any:
    """A Python scalar or list from a scalar, a 0-d/1-d array or tensor (as np.load/torch.load return them)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value


def _array(value: Any, dtype: type) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.array(value, dtype=dtype)


@dataclass(frozen=True)
class ShotProblem:
    """A survey over a grid as plain data (picklable; see the module docstring).

    Attributes
    ----------
    reference : ndarray, shape (nx, nz)
        Reference velocity in m/s. It fixes the absorbing-layer damping (so that gradients
        need no damping term) and is the default velocity.
    spacing, origin : tuple of float
        Grid spacing and first grid point, m.
    src_positions : ndarray, shape (n_shots, ndim)
    rec_positions : tuple of ndarray, each (n_receivers_i, ndim)
    dt : float
        Modelling and recording interval, s (whole microseconds when written to SEG-Y).
    nt : int
        Samples per trace, from t = 0.
    wavelets : ndarray, shape (n_shots, nt)
    nbl, space_order, free_surface, boundary, dtype
        Propagation settings (see :class:`geolearn.wave.Model`); ``dtype`` is ``"float32"``
        or ``"float64"``.
    """

    reference: np.ndarray
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    src_positions: np.ndarray
    rec_positions: tuple[np.ndarray, ...]
    dt: float
    nt: int
    wavelets: np.ndarray
    nbl: int = 40
    space_order: int = 8
    free_surface: bool = False
    boundary: str = "poly"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.dtype not in _DTYPES:
            raise ModelError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.wavelets.shape != (self.n_shots, self.nt):
            raise ShapeError(
                f"wavelets have shape {self.wavelets.shape}; expected ({self.n_shots}, {self.nt})"
            )
        if len(self.rec_positions) != self.n_shots:
            raise GeometryError(f"{len(self.rec_positions)} receiver sets for {self.n_shots} sources")
        ndim = self.reference.ndim
        if len(self.spacing) != ndim or len(self.origin) != ndim:
            raise ShapeError(f"spacing {self.spacing} and origin {self.origin} need {ndim} values for "
                             f"a reference of shape {self.reference.shape}")  # fmt: skip
        for what, pos in (("sources", self.src_positions), *(("receivers", r) for r in self.rec_positions)):
            if pos.ndim != 2 or pos.shape[1] != ndim:
                raise ShapeError(f"{what} positions have shape {pos.shape}; expected (n, {ndim}) in m")

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        reference: Any,
        spacing: Sequence[float],
        src_positions: np.ndarray,
        rec_positions: np.ndarray | Sequence[np.ndarray],
        *,
        record_length: float,
        origin: Sequence[float] | None = None,
        dt: float | None = None,
        f0: float | None = 10.0,
        delay: float | None = None,
        wavelet: np.ndarray | torch.Tensor | None = None,
        wavelet_dt: float | None = None,
        vmax: float | None = None,
        nbl: int = 40,
        space_order: int = 8,
        free_surface: bool = False,
        boundary: str = "poly",
        dtype: str | torch.dtype = "float32",
    ) -> ShotProblem:
        """Validate inputs and build a problem (positions inside the model, stable dt, wavelets).

        ``dt`` defaults to :func:`choose_dt` for ``vmax`` (default: the reference's maximum).
        The wavelet is a Ricker of peak ``f0`` Hz with its peak at ``delay`` s (default
        ``1/f0``) unless ``wavelet`` ((nt_w,) or (n_shots, nt_w), sampled at ``wavelet_dt``
        or already at ``dt``) is given. Geometry is checked by :class:`geolearn.wave.Geometry`
        (raises GeometryError naming the shot and position).
        """
        ref = as_velocity(reference, "reference velocity")
        dtype_name = (
            dtype if isinstance(dtype, str) else {v: k for k, v in _DTYPES.items()}.get(dtype, str(dtype))
        )
        spacing = tuple(float(h) for h in spacing)
        if dt is None:
            dt = choose_dt(vmax or float(ref.max()), spacing, space_order)
        model = Model(ref, spacing, origin, nbl=nbl, space_order=space_order, free_surface=free_surface,
                      boundary=boundary, dtype=_DTYPES.get(dtype_name, torch.float32))  # fmt: skip
        if vmax is not None:
            model.check_dt(dt, vmax)
        if wavelet is None and f0 is not None:
            nt = round(record_length / dt) + 1
            wavelet = ricker(f0, nt, dt, delay, dtype=torch.float64).numpy()
            wavelet_dt = None
        geometry = Geometry(model, src_positions, rec_positions, record_length, dt=dt, f0=f0,
                            wavelet=wavelet, wavelet_dt=wavelet_dt)  # fmt: skip
        return cls(
            reference=ref, spacing=spacing, origin=model.origin, src_positions=geometry.src_positions,
            rec_positions=tuple(geometry.rec_positions), dt=geometry.dt, nt=geometry.nt,
            wavelets=geometry.wavelets.numpy().astype(np.float64), nbl=nbl, space_order=space_order,
            free_surface=free_surface, boundary=boundary, dtype=dtype_name,
        )  # fmt: skip

    @classmethod
    def from_wave(cls, model: Model, geometry: Geometry) -> ShotProblem:
        """The problem of a wave-layer model and geometry (the inverse of :meth:`to_wave`).

        The reference velocity is ``model.vp`` and the wavelets ``geometry.wavelets``, both
        stored in the model's dtype by the wave layer: a float64 model round-trips exactly, a
        float32 one to float32 (its precision of propagation).

        Raises
        ------
        GeometryError
            ``geometry`` lives on a grid of another shape than ``model``.
        """
        if tuple(geometry.model.shape) != tuple(model.shape):
            raise GeometryError(
                f"geometry is over a grid of shape {geometry.model.shape}, the model's is {model.shape}"
            )
        return cls(
            reference=model.vp.detach().cpu().double().numpy().copy(), spacing=tuple(model.spacing),
            origin=tuple(model.origin), src_positions=np.array(geometry.src_positions, dtype=np.float64),
            rec_positions=tuple(np.array(r, dtype=np.float64) for r in geometry.rec_positions),
            dt=float(geometry.dt), nt=int(geometry.nt),
            wavelets=geometry.wavelets.detach().cpu().double().numpy().copy(), nbl=model.nbl,
            space_order=model.space_order, free_surface=model.free_surface, boundary=model.boundary,
            dtype=str(model.dtype).removeprefix("torch."),
        )  # fmt: skip

    def to_wave(self) -> tuple[Model, Geometry]:
        """The wave layer's :class:`~geolearn.wave.Model` and :class:`~geolearn.wave.Geometry` of all shots."""
        model = self.model()
        return model, self.geometry(model)

    def to_dict(self, *, tensors: bool = False) -> dict[str, Any]:
        """The problem as a flat mapping of arrays and plain scalars: lossless and pickle-free.

        Parameters
        ----------
        tensors : bool, default False
            Arrays as CPU torch tensors (for ``torch.save``, read back with
            ``torch.load(weights_only=True)``) instead of NumPy arrays (for
            ``numpy.savez(..., allow_pickle=False)``; prefix the keys to store it beside
            other arrays).

        Returns
        -------
        dict
            ``version`` (int, the layout's), ``reference`` ``(nx, nz)`` m/s float64,
            ``src_positions`` ``(n_shots, ndim)`` m, ``rec_positions`` ``(Σ n_receivers, ndim)``
            m (every shot's receivers in shot order), ``n_receivers`` ``(n_shots,)`` int64,
            ``wavelets`` ``(n_shots, nt)`` float64, ``spacing`` and ``origin`` (lists, m),
            ``dt`` (s), ``nt``, ``nbl``, ``space_order``, ``free_surface``, ``boundary``,
            ``dtype`` (Python scalars).
        """
        arrays = {
            "reference": self.reference.astype(np.float64), "src_positions": self.src_positions.astype(np.float64),
            "rec_positions": np.concatenate(self.rec_positions).astype(np.float64),
            "wavelets": self.wavelets.astype(np.float64),
            "n_receivers": np.asarray(self.n_receivers, dtype=np.int64),
        }  # fmt: skip
        if tensors:
            arrays = {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}
        scalars = {k: cast(getattr(self, k)) for k, cast in _SCALARS.items()}
        return {"version": DICT_VERSION, **arrays, "spacing": [float(h) for h in self.spacing],
                "origin": [float(o) for o in self.origin], **scalars}  # fmt: skip

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> ShotProblem:
        """Rebuild a problem from :meth:`to_dict`'s mapping (NumPy arrays, tensors or 0-d arrays alike).

        Raises
        ------
        ConfigError
            A key missing or unknown, or another layout version.
        ShapeError
            Receiver counts that do not add up to the stored positions, or inconsistent shapes.
        """
        missing = [k for k in _DICT_KEYS if k not in mapping]
        unknown = sorted(set(mapping) - set(_DICT_KEYS))
        if missing or unknown:
            raise ConfigError(f"not a ShotProblem mapping: missing keys {missing}, unknown keys {unknown}; "
                              f"expected {list(_DICT_KEYS)}")  # fmt: skip
        if _plain(mapping["version"]) != DICT_VERSION:
            raise ConfigError(f"ShotProblem mapping version {_plain(mapping['version'])!r}; this geolearn reads "
                              f"version {DICT_VERSION}")  # fmt: skip
        counts = [int(n) for n in np.atleast_1d(_plain(mapping["n_receivers"]))]
        receivers = _array(mapping["rec_positions"], np.float64)
        if sum(counts) != receivers.shape[0]:
            raise ShapeError(f"n_receivers {counts} add up to {sum(counts)}, but {receivers.shape[0]} receiver "
                             f"positions are stored")  # fmt: skip
        scalars = {k: cast(_plain(mapping[k])) for k, cast in _SCALARS.items()}
        return cls(
            reference=_array(mapping["reference"], np.float64), spacing=tuple(map(float, _plain(mapping["spacing"]))),
            origin=tuple(map(float, _plain(mapping["origin"]))),
            src_positions=_array(mapping["src_positions"], np.float64),
            rec_positions=tuple(np.split(receivers, np.cumsum(counts)[:-1])),
            wavelets=_array(mapping["wavelets"], np.float64), **scalars,
        )  # fmt: skip

    def with_wavelets(self, wavelets: np.ndarray) -> ShotProblem:
        """A copy with other wavelets, ``(nt,)`` shared or ``(n_shots, nt)``."""
        w = np.broadcast_to(np.asarray(wavelets, dtype=np.float64), (self.n_shots, self.nt)).copy()
        return replace(self, wavelets=w)

    def subset(self, shots: Sequence[int]) -> ShotProblem:
        """A problem with only the given shots."""
        idx = [int(i) for i in shots]
        return replace(self, src_positions=self.src_positions[idx],
                       rec_positions=tuple(self.rec_positions[i] for i in idx), wavelets=self.wavelets[idx])  # fmt: skip

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.reference.shape)

    @property
    def n_shots(self) -> int:
        return int(self.src_positions.shape[0])

    @property
    def n_receivers(self) -> list[int]:
        return [int(r.shape[0]) for r in self.rec_positions]

    @property
    def record_shape(self) -> tuple[int, int, int]:
        """``(n_shots, max_receivers, nt)``."""
        return self.n_shots, max(self.n_receivers), self.nt

    @property
    def torch_dtype(self) -> torch.dtype:
        return _DTYPES[self.dtype]

    @property
    def np_dtype(self) -> type:
        return np.float32 if self.dtype == "float32" else np.float64

    @property
    def time_axis(self) -> np.ndarray:
        """Sample times in seconds, ``(nt,)``."""
        return np.arange(self.nt) * self.dt

    def depth_axis(self) -> np.ndarray:
        """Depths of the grid rows in metres, ``(nz,)``."""
        return self.origin[-1] + self.spacing[-1] * np.arange(self.shape[-1])

    # ------------------------------------------------------------------ wave-layer objects
    def model(self) -> Model:
        """The wave layer's :class:`~geolearn.wave.Model` (reference velocity, fixed damping)."""
        return Model(self.reference, self.spacing, self.origin, nbl=self.nbl, space_order=self.space_order,
                     free_surface=self.free_surface, boundary=self.boundary, dtype=self.torch_dtype)  # fmt: skip

    def geometry(self, model: Model, shots: Sequence[int] | None = None) -> Geometry:
        """A :class:`~geolearn.wave.Geometry` for ``shots`` (default all) over ``model``."""
        idx = list(range(self.n_shots)) if shots is None else [int(i) for i in shots]
        with warnings.catch_warnings():
            # Dispersion is checked once when the problem is created, not in every task.
            warnings.simplefilter("ignore", UserWarning)
            return Geometry(model, self.src_positions[idx], [self.rec_positions[i] for i in idx],
                            (self.nt - 1) * self.dt, dt=self.dt, wavelet=self.wavelets[idx])  # fmt: skip

    def padded(self, gathers: Sequence[np.ndarray]) -> np.ndarray:
        """Stack per-shot gathers ``(n_receivers_i, nt)`` into ``(n_shots, max_receivers, nt)``."""
        out = np.zeros(self.record_shape, dtype=np.float64)
        for i, g in enumerate(gathers):
            out[i, : g.shape[0]] = g
        return out
