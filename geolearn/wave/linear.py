"""Wave-equation linear operators: Born modelling J (adjoint = RTM), wavelet modelling, interpolation.

Each is a :class:`geolearn.operators.LinearOperator`, so solvers, learned schemes and
``dot_test`` use them like any other operator. Tensors on a CUDA device are copied to the
CPU for Devito and the results copied back.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from geolearn.errors import ConfigError, GeometryError
from geolearn.operators import LinearOperator
from geolearn.wave.background import BackgroundCache
from geolearn.wave.execution import PerformanceLog
from geolearn.wave.geometry import Geometry
from geolearn.wave.model import Model
from geolearn.wave.shot import ShotPropagator
from geolearn.wave.solver import Snapshots
from geolearn.wave.solver_inputs import dm_dv, make_solver, shot_coords

logger = logging.getLogger("geolearn.wave.linear")

__all__ = ["BornOperator", "PointInterpolation", "SourceModeling", "born_adjoint_shot", "born_shot"]

PARAMETRIZATIONS = ("velocity", "slowness2")


def _np(x: torch.Tensor, dtype: Any) -> np.ndarray:
    return x.detach().cpu().numpy().astype(dtype)


class BornOperator(LinearOperator):
    """Born modelling ``J(v0)``, the Jacobian of :class:`~geolearn.wave.WaveModeling` at ``v0``.

    Domain: a model perturbation on the model grid, ``(nx, nz)`` / ``(nx, ny, nz)``: a
    velocity perturbation in m/s (``parametrization="velocity"``, default, so that
    ``F(v0 + δv) ≈ F(v0) + J δv``) or a squared-slowness perturbation in s²/m²
    (``"slowness2"``). Range: records ``(n_shots, max_receivers, nt)``, zero-padded where a
    shot has fewer receivers; the adjoint ignores (restricts away) the padded traces.

    The adjoint ``Jᵀ`` is reverse-time migration with the zero-lag imaging condition
    ``-Σ_t q(t+dt) ∂²u(t)`` (``q`` the back-propagated receiver wavefield), mapped to the
    domain's parametrisation.

    The background wavefield of each shot is kept between calls while it fits the ``cache``
    budget (:mod:`geolearn.wave.background`): then ``J`` propagates only the scattered field
    and ``Jᵀ`` only the adjoint one. Shots beyond the budget propagate their background on
    every call. Results do not depend on the budget (same arithmetic, dot-tested per mode).

    With an ``executor`` (any object with ``map(fn, shots, *args, progress=, desc=)`` and
    ``map_reduce(...)``, e.g. :class:`geolearn.parallel.ShotExecutor` on a Dask cluster) every
    shot runs as its own task (:func:`born_shot`, :func:`born_adjoint_shot`) wherever the
    executor runs it; a task keeps nothing, so ``J`` costs 2 solves per shot (background and
    scattered field in one sweep) and ``Jᵀ`` 2 (background, then adjoint). Velocity
    parametrisation only.

    :attr:`applications` (every LinearOperator's) counts the samples ``J`` and ``Jᵀ`` were
    applied to (``{"forward": n, "adjoint": n}``; an all-zero input costs nothing and is not
    counted); the solves they cost are in the cost ledger (:mod:`geolearn.ledger`);
    :attr:`performance` logs every in-process propagation.

    Parameters
    ----------
    model : Model
        Grid and propagation settings; ``velocity`` defaults to ``model.vp``.
    geometry : Geometry
        Acquisition and wavelets.
    velocity : torch.Tensor, optional
        Background ``v0`` in m/s, ``model.shape``.
    parametrization : {"velocity", "slowness2"}
        Meaning of the domain (see above).
    progress : bool
        tqdm bar over shots.
    cache : "auto", int or None
        Memory for kept background wavefields: ``"auto"`` (default) shares a quarter of the
        machine's memory among all such operators, an integer is a budget in bytes for this
        one, None keeps nothing. Each kept shot holds ``(nt + 1) x`` the padded grid in the
        model's dtype.

    Attributes
    ----------
    background : BackgroundCache
        The kept backgrounds (``.shots``, ``.nbytes``; ``.clear()`` frees them).
    performance : PerformanceLog
        Every propagation this operator ran (time, threads, GPts/s).
    """

    def __init__(
        self,
        model: Model,
        geometry: Geometry,
        velocity: torch.Tensor | None = None,
        *,
        parametrization: str = "velocity",
        progress: bool = False,
        cache: str | int | None = "auto",
        executor: Any = None,
    ) -> None:
        if parametrization not in PARAMETRIZATIONS:
            raise ConfigError(f"parametrization must be one of {PARAMETRIZATIONS}, got {parametrization!r}")
        if executor is not None and parametrization != "velocity":
            raise ConfigError(
                'an executor runs shots in the velocity parametrisation only; drop the executor or use parametrization="velocity"'
            )
        super().__init__(model.shape, geometry.record_shape, dtype=model.dtype)
        self.model, self.geometry = model, geometry
        self.parametrization, self.progress = parametrization, progress
        self.background = BackgroundCache(cache)
        self.performance = PerformanceLog()
        v0 = model.vp if velocity is None else velocity
        self.solver, vp = make_solver(model, geometry.dt, v0, self.performance)
        self.executor, self.velocity = executor, vp
        # d(Devito squared slowness)/d(domain variable), on the model grid.
        self.scale = dm_dv(vp) if parametrization == "velocity" else np.full(vp.shape, 1e6)

    def _shots(self, what: str) -> Any:
        n = self.geometry.n_shots
        return tqdm(range(n), desc=what, disable=not self.progress or n == 1, leave=False)

    def _background(self, shot: int, for_adjoint: bool) -> Snapshots | None:
        """The shot's exact background store: kept, newly kept, or (``for_adjoint``) temporary."""
        kept = self.background.get(shot)
        if kept is not None:
            return kept
        s, geo = self.solver, self.geometry
        nbytes = (geo.nt + 1) * s.grid_points * s.dtype.itemsize
        keep = self.background.admits(nbytes)
        if not keep and not for_adjoint:
            return None  # J then propagates the background in the same sweep
        src, rec = shot_coords(self.model, geo, shot)
        w = geo.wavelets[shot].numpy().astype(s.dtype)
        _, store = s.forward(src, w, rec, save=1, reuse=not keep)
        if keep:
            self.background.put(shot, store)
        return store

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.executor is not None:
            return self._forward_tasks(x)
        s, geo = self.solver, self.geometry
        w = geo.wavelets.numpy().astype(s.dtype)
        xs = _np(x, np.float64)
        out = np.zeros((x.shape[0], *self.range_shape), dtype=s.dtype)
        for i in self._shots("Born"):
            src, rec = shot_coords(self.model, geo, i)
            background = self._background(i, for_adjoint=False)
            for b in range(x.shape[0]):
                dm = self.model.pad_zero(xs[b] * self.scale).astype(s.dtype)
                out[b, i, : rec.shape[0]] = s.born(src, w[i], rec, dm, background)
        return torch.as_tensor(out).to(device=x.device, dtype=self.dtype)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        if self.executor is not None:
            return self._adjoint_tasks(y)
        s, geo = self.solver, self.geometry
        ys = _np(y, s.dtype)
        out = np.zeros((y.shape[0], *self.model.padded_shape))
        for i in self._shots("RTM"):
            src, rec = shot_coords(self.model, geo, i)
            background = self._background(i, for_adjoint=True)
            for b in range(y.shape[0]):
                gm, _ = s.adjoint(src, rec, ys[b, i, : rec.shape[0]], background)
                out[b] += gm
        img = np.stack([self.model.crop(o) * self.scale for o in out])
        return torch.as_tensor(img, dtype=self.dtype, device=y.device)

    def _forward_tasks(self, x: torch.Tensor) -> torch.Tensor:
        shots = range(self.geometry.n_shots)
        out = np.zeros((x.shape[0], *self.range_shape), dtype=self.solver.dtype)
        for b, xb in enumerate(_np(x, np.float64)):
            gathers = self.executor.map(born_shot, shots, self.model, self.geometry, self.velocity, xb,
                                        progress=self.progress, desc="Born")  # fmt: skip
            for i, gather in enumerate(gathers):
                out[b, i, : gather.shape[0]] = gather
        return torch.as_tensor(out).to(device=x.device, dtype=self.dtype)

    def _adjoint_tasks(self, y: torch.Tensor) -> torch.Tensor:
        shots = range(self.geometry.n_shots)
        images = []
        for yb in _np(y, self.solver.dtype):
            images.append(self.executor.map_reduce(born_adjoint_shot, shots, self.model, self.geometry,
                                                   self.velocity, yb, progress=self.progress, desc="RTM"))  # fmt: skip
        return torch.as_tensor(np.stack(images), dtype=self.dtype, device=y.device)


def born_shot(
    shot: int, model: Model, geometry: Geometry, velocity: np.ndarray, perturbation: np.ndarray
) -> np.ndarray:
    """``J δv`` of one shot, as an executor task: records ``(n_receivers, nt)`` (2 solves).

    ``velocity`` is the background (m/s, ``model.shape``), ``perturbation`` ``δv`` in m/s.
    """
    return ShotPropagator(model, geometry, velocity, shot).born(perturbation)


def born_adjoint_shot(
    shot: int, model: Model, geometry: Geometry, velocity: np.ndarray, records: np.ndarray
) -> np.ndarray:
    """``Jᵀ d`` of one shot, as an executor task: image ``model.shape`` in m/s units (2 solves).

    ``records`` is the whole survey ``(n_shots, max_receivers, nt)``; row ``shot`` is migrated.
    """
    prop = ShotPropagator(model, geometry, velocity, shot)
    _, snapshots = prop.forward(save=1, reuse=True)  # used at once: the process's buffer will do
    return prop.adjoint(np.asarray(records[shot, : prop.n_receivers]), snapshots)


class SourceModeling(LinearOperator):
    """Wavelets to records at fixed velocity: source injection, propagation, receiver sampling.

    Domain ``geometry.wavelets.shape``: ``(n_shots, nt)``, one wavelet per shot, or
    ``(n_shots, npoint, nt)``, one per source point of a supershot (:func:`~geolearn.wave.encode`).
    Range ``(n_shots, max_receivers, nt)``.
    The adjoint back-propagates records and samples them at the sources.

    Parameters
    ----------
    model, geometry
        As in :class:`BornOperator`.
    velocity : torch.Tensor, optional
        Velocity in m/s (default ``model.vp``).

    Attributes
    ----------
    performance : PerformanceLog
        Every propagation this operator ran (time, threads, GPts/s).
    """

    def __init__(self, model: Model, geometry: Geometry, velocity: torch.Tensor | None = None) -> None:
        super().__init__(tuple(geometry.wavelets.shape), geometry.record_shape, dtype=model.dtype)
        self.model, self.geometry = model, geometry
        self.performance = PerformanceLog()
        v = model.vp if velocity is None else velocity
        self.solver, _ = make_solver(model, geometry.dt, v, self.performance)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        s, xs = self.solver, _np(x, self.solver.dtype)
        out = np.zeros((x.shape[0], *self.range_shape), dtype=s.dtype)
        for i in range(self.geometry.n_shots):
            src, rec = shot_coords(self.model, self.geometry, i)
            for b in range(x.shape[0]):
                out[b, i, : rec.shape[0]] = s.forward(src, xs[b, i], rec)[0]
        return torch.as_tensor(out).to(device=x.device, dtype=self.dtype)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        s, ys = self.solver, _np(y, self.solver.dtype)
        out = np.zeros((y.shape[0], *self.domain_shape), dtype=s.dtype)
        for i in range(self.geometry.n_shots):
            src, rec = shot_coords(self.model, self.geometry, i)
            for b in range(y.shape[0]):
                out[b, i] = s.adjoint(src, rec, ys[b, i, : rec.shape[0]])[1]
        return torch.as_tensor(out).to(device=y.device, dtype=self.dtype)


class PointInterpolation(LinearOperator):
    """Multilinear interpolation of a model-grid field at off-grid points (Devito's sparse ops).

    Domain ``model.shape``, range ``(n_points,)``. The adjoint is Devito's injection, the
    operation that puts sources into (and receiver data back into) the wavefield.

    Parameters
    ----------
    model : Model
        Grid (velocity unused).
    points : array_like
        ``(n_points, ndim)`` coordinates in metres, inside the model.
    """

    def __init__(self, model: Model, points: np.ndarray) -> None:
        pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
        if pts.shape[-1] != model.ndim:
            raise GeometryError(f"points must have shape (n, {model.ndim}); got {pts.shape}")
        inside = model.contains(pts)
        if not inside.all():
            i = int(np.argmin(inside))
            raise GeometryError(f"point {i} at {tuple(pts[i].tolist())} m lies outside the model")
        super().__init__(model.shape, pts.shape[0], dtype=model.dtype)
        self.model, self.points = model, model.to_grid(pts)
        self.solver = make_solver(model, None, model.vp)[0]

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.solver
        out = [s.interpolate(self.points, self.model.pad_zero(f)) for f in _np(x, s.dtype)]
        return torch.as_tensor(np.stack(out)).to(device=x.device, dtype=self.dtype)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        s = self.solver
        out = [self.model.crop(s.inject(self.points, p)) for p in _np(y, s.dtype)]
        return torch.as_tensor(np.stack(out)).to(device=y.device, dtype=self.dtype)
