"""Symbolic acoustic propagators and the cache of generated Devito operators.

The symbolic problem (grid, fields, update equations) is kept apart from the generated
code: :func:`get_kernel` builds a Devito ``Operator`` once per :class:`KernelKey` and every
later call with new velocities, wavelets or coordinates reuses it. Devito operators are
size-generic (sizes are runtime arguments), so the key holds no receiver count or number
of time steps: data-carrying functions are created per call on the cached grid and passed
to ``Operator.apply`` by name.

Discretisation (all operators share it, which is what makes the adjoints exact). With
``m = 1/vp²`` (Devito units: km/s, ms, m), damping ``eta`` and the centred Laplacian ``L``,

``u[n+1] = a (dt² L u[n] + 2 m u[n] - b u[n-1]) + dt²/(m V) Πᵀ s[n]``,
``a = 1/(m + eta dt/2)``, ``b = m - eta dt/2``, ``V`` the cell volume,

for ``n = 1 .. nt-1`` with ``u[0] = u[1] = 0``, and records ``d[n] = Π u[n]``. The
adjoint runs the same recurrence backwards on ``q = a w`` (``w`` the adjoint state):
``q[n] = a (dt² L q[n+1] + 2 m q[n+1] - b q[n+2]) + Πᵀ r[n] / m``. Since ``L`` is symmetric
and ``eta = 0`` wherever sources and receivers sit, this is the exact transpose of the
forward map, so dot tests hold to rounding error.

A free surface is a Dirichlet row (``p = 0`` at depth index ``so/2``) with ``so/2`` ghost
rows above it holding the antisymmetric mirror of the rows below (the image method). The
mirrored Laplacian stays symmetric, so the adjoints stay exact.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geolearn.wave.config import WaveConfig, devito, wave_config

logger = logging.getLogger("geolearn.wave.propagator")

__all__ = ["KernelKey", "build_count", "clear_cache", "get_kernel"]

_KINDS = ("forward", "born", "adjoint", "interp")
_GRADIENTS = ("none", "wavefield", "snapshots")
_BUILDS = 0
# Keyed by (KernelKey, spacing): the spacing is substituted into the generated code.
_CACHE: dict[tuple[KernelKey, tuple[float, ...]], Kernel] = {}


@dataclass(frozen=True)
class KernelKey:
    """What determines a generated operator.

    Attributes
    ----------
    kind : {"forward", "born", "adjoint", "interp"}
        ``forward``: nonlinear modelling; ``born``: linearised modelling; ``adjoint``:
        backward propagation with source-wavelet and (optionally) model gradients;
        ``interp``: bare interpolation to / injection from off-grid points.
    shape : tuple of int
        Shape of the padded computational grid.
    space_order : int
        Even finite-difference order of the Laplacian (2 to 16).
    dtype : str
        ``"float32"`` or ``"float64"``.
    free_surface_index : int
        Depth index of the free surface in the padded grid, or ``-1`` for none.
    gradient : {"none", "wavefield", "snapshots"}
        How the forward wavefield is kept for a gradient or a Born background.
        ``wavefield``: ``forward`` stores ``u[n]`` at every step inside its stencil loop;
        ``adjoint`` and ``born`` read ``∂²u[n] = u[n+1] - 2u[n] + u[n-1]`` from that store.
        ``snapshots``: ``forward`` stores ``∂²u`` every ``factor``-th step, ``adjoint``
        subsamples the imaging sum (times ``factor``). ``none``: nothing stored (``born``
        then propagates the background itself). Ignored by ``interp``.
    factor : int
        Snapshot subsampling factor (1 with ``wavefield``).
    config : WaveConfig
        Compile options (language, platform, opt, compiler).
    """

    kind: str
    shape: tuple[int, ...]
    space_order: int
    dtype: str
    free_surface_index: int = -1
    gradient: str = "none"
    factor: int = 1
    config: WaveConfig = field(default_factory=wave_config)


@dataclass
class Kernel:
    """A generated operator with the symbolic objects it was built from."""

    key: KernelKey
    op: Any
    grid: Any
    fields: dict[str, Any]
    workspace: dict[str, Any] = field(default_factory=dict)


def build_count() -> int:
    """Number of Devito operators generated and compiled in this process so far.

    A second modelling call with new velocities, wavelets or coordinates of the same sizes
    leaves this number unchanged.
    """
    return _BUILDS


def clear_cache() -> None:
    """Drop all cached operators and their workspaces (the build counter keeps counting)."""
    _CACHE.clear()


def get_kernel(key: KernelKey, spacing: tuple[float, ...]) -> Kernel:
    """Return the cached operator for ``key``, generating and compiling it on first use.

    Parameters
    ----------
    key : KernelKey
        Operator description.
    spacing : tuple of float
        Grid spacing in metres. It is substituted into the generated stencils (as Devito's
        ``subs=grid.spacing_map`` does), so a new spacing builds a new operator; models of the
        same padded shape but different spacing must never share one.
    """
    global _BUILDS
    cache_key = (key, tuple(float(h) for h in spacing))
    kernel = _CACHE.get(cache_key)
    if kernel is None:
        if key.kind not in _KINDS or key.gradient not in _GRADIENTS:
            raise ValueError(f"unknown operator {key.kind!r}/{key.gradient!r}; valid: {_KINDS}/{_GRADIENTS}")
        start = time.perf_counter()
        kernel = _build(key, cache_key[1])
        _CACHE[cache_key] = kernel
        _BUILDS += 1
        logger.debug("built %s operator in %.2f s (%s)", key.kind, time.perf_counter() - start, key)
    return kernel


# ---------------------------------------------------------------------------- building
def _build(key: KernelKey, spacing: tuple[float, ...]) -> Kernel:
    dv = devito()
    dtype = np.dtype(key.dtype).type
    extent = tuple(h * (n - 1) for h, n in zip(spacing, key.shape))
    grid = dv.Grid(shape=key.shape, extent=extent, dtype=dtype)
    so = key.space_order
    m = dv.Function(name="m", grid=grid, space_order=so)
    damp = dv.Function(name="damp", grid=grid, space_order=0)
    fields: dict[str, Any] = {"m": m, "damp": damp}
    options = key.config.operator_kwargs()

    if key.kind == "interp":
        f = dv.Function(name="f", grid=grid, space_order=so)
        g = dv.Function(name="g", grid=grid, space_order=so)
        pin = dv.SparseFunction(name="pin", grid=grid, npoint=1)
        pout = dv.SparseFunction(name="pout", grid=grid, npoint=1)
        eqs = [pout.interpolate(expr=f), pin.inject(field=g, expr=pin)]
        fields.update(f=f, g=g, pin=pin, pout=pout)
        return Kernel(key, dv.Operator(eqs, name="geolearn_interp", **options), grid, fields)

    src = dv.SparseTimeFunction(name="src", grid=grid, npoint=1, nt=2)
    rec = dv.SparseTimeFunction(name="rec", grid=grid, npoint=1, nt=2)
    vol = dv.Constant(name="vol", dtype=dtype)
    fields.update(src=src, rec=rec, vol=vol)
    if key.gradient != "none":
        fields["snap"] = _store_field(grid, key, dv)
    build = {"forward": _forward_eqs, "born": _born_eqs, "adjoint": _adjoint_eqs}[key.kind]
    eqs = build(key, grid, fields, dv)
    op = dv.Operator(eqs, subs=grid.spacing_map, name=f"geolearn_{key.kind}", **options)
    return Kernel(key, op, grid, fields)


def _coefficients(grid: Any, fields: dict[str, Any]) -> tuple[Any, Any, Any]:
    """``a = 1/(m + eta dt/2)``, ``b = m - eta dt/2`` and the time step symbol."""
    m, damp = fields["m"], fields["damp"]
    dt = grid.stepping_dim.spacing
    return 1 / (m + damp * dt / 2), m - damp * dt / 2, dt


def _leapfrog(field: Any, grid: Any, fields: dict[str, Any]) -> Any:
    a, b, dt = _coefficients(grid, fields)
    return a * (dt**2 * field.laplace + 2 * fields["m"] * field - b * field.backward)


def _second_difference(store: Any, t: Any) -> Any:
    """``∂²u[t] = u[t+1] - 2u[t] + u[t-1]`` read from a wavefield store indexed by time."""
    return store.subs(t, t + 1) - 2 * store + store.subs(t, t - 1)


def _forward_eqs(key: KernelKey, grid: Any, fields: dict[str, Any], dv: Any) -> list[Any]:
    t = grid.stepping_dim
    _, _, dt = _coefficients(grid, fields)
    src, rec, m, vol = fields["src"], fields["rec"], fields["m"], fields["vol"]
    u = dv.TimeFunction(name="u", grid=grid, time_order=2, space_order=key.space_order)
    fields["u"] = u
    eqs = [dv.Eq(u.forward, _leapfrog(u, grid, fields))]
    if key.gradient == "wavefield":
        # u[n] is final here (injected during the previous step): storing it in the stencil
        # loop costs one streaming write and no second pass over the wavefield.
        eqs.append(dv.Eq(fields["snap"], u))
    eqs += src.inject(field=u.forward, expr=src * dt**2 / (m * vol))
    eqs += _free_surface(u, t + 1, grid, key)
    eqs += rec.interpolate(expr=u)
    if key.gradient == "snapshots":
        eqs.append(dv.Eq(fields["snap"], u.forward - 2 * u + u.backward))
    return eqs


def _born_eqs(key: KernelKey, grid: Any, fields: dict[str, Any], dv: Any) -> list[Any]:
    t = grid.stepping_dim
    a, _, dt = _coefficients(grid, fields)
    src, rec, m, vol = fields["src"], fields["rec"], fields["m"], fields["vol"]
    so = key.space_order
    du = dv.TimeFunction(name="du", grid=grid, time_order=2, space_order=so)
    dm = dv.Function(name="dm", grid=grid, space_order=0)
    fields.update(du=du, dm=dm)
    eqs: list[Any] = []
    if key.gradient == "wavefield":  # background read from a stored forward wavefield
        d2u = _second_difference(fields["snap"], grid.time_dim)
    else:  # background propagated in the same sweep
        u = dv.TimeFunction(name="u", grid=grid, time_order=2, space_order=so)
        fields["u"] = u
        eqs.append(dv.Eq(u.forward, _leapfrog(u, grid, fields)))
        eqs += src.inject(field=u.forward, expr=src * dt**2 / (m * vol))
        eqs += _free_surface(u, t + 1, grid, key)
        d2u = u.forward - 2 * u + u.backward
    eqs.append(dv.Eq(du.forward, _leapfrog(du, grid, fields) - a * dm * d2u))
    eqs += _free_surface(du, t + 1, grid, key)
    eqs += rec.interpolate(expr=du)
    return eqs


def _adjoint_eqs(key: KernelKey, grid: Any, fields: dict[str, Any], dv: Any) -> list[Any]:
    t = grid.stepping_dim
    a, b, dt = _coefficients(grid, fields)
    src, rec, m = fields["src"], fields["rec"], fields["m"]
    v = dv.TimeFunction(name="v", grid=grid, time_order=2, space_order=key.space_order)
    v1, v2 = v.forward, v.subs(t, t + 2)
    fields["v"] = v
    eqs = [dv.Eq(v, a * (dt**2 * v1.laplace + 2 * m * v1 - b * v2))]
    if key.gradient != "none":
        grad = dv.Function(name="grad", grid=grid, space_order=0)
        fields["grad"] = grad
        snap = fields["snap"]
        if key.gradient == "wavefield":
            eqs.append(dv.Inc(grad, -v1 * _second_difference(snap, grid.time_dim)))
        else:
            eqs.append(dv.Inc(grad, -key.factor * v1 * snap))
    eqs += rec.inject(field=v, expr=rec / m)
    eqs += _free_surface(v, t, grid, key)
    eqs += src.interpolate(expr=v1)
    return eqs


def _store_field(grid: Any, key: KernelKey, dv: Any) -> Any:
    """The stored forward wavefield (``u`` every step, or ``∂²u`` every ``factor``-th); sized per call."""
    if key.gradient == "wavefield" or key.factor == 1:
        return dv.TimeFunction(name="snap", grid=grid, time_order=0, space_order=0, save=3)
    tsub = dv.ConditionalDimension(name="tsub", parent=grid.time_dim, factor=key.factor)
    return dv.TimeFunction(name="snap", grid=grid, time_order=0, space_order=0, save=3, time_dim=tsub)


def _free_surface(field: Any, tidx: Any, grid: Any, key: KernelKey) -> list[Any]:
    """Dirichlet surface row and antisymmetric ghost rows above it (image method)."""
    dv = devito()
    k0 = key.free_surface_index
    if k0 < 0:
        return []
    lateral = grid.dimensions[:-1]
    eqs = [dv.Eq(field[(tidx, *lateral, k0)], 0)]
    eqs += [
        dv.Eq(field[(tidx, *lateral, k0 - i)], -field[(tidx, *lateral, k0 + i)]) for i in range(1, k0 + 1)
    ]
    return eqs
