"""The checkpointed gradient: the time axis in segments, each recomputed once from a saved state.

Memory instead of the ``nt + 1`` wavefields of the exact store: ``n_checkpoints`` saved states
(two wavefields each) plus the exact store of one segment (``ceil((nt - 1) / n_checkpoints)``
steps, rounded up to a multiple of 3, plus 2).

1. One forward over all steps, run segment by segment, copies the two current wavefields at
   each segment start and records the receivers; ``residual_fn(records)`` gives the adjoint
   source.
2. From the last segment to the first: restore the segment's start state, rerun its forward
   storing the wavefield (:class:`~geolearn.wave.solver.Snapshots`, factor 1), then run the
   adjoint over the segment, which images with that store.

Every step is computed once more than in the exact mode (3 solves instead of 2 in the cost
ledger, :mod:`geolearn.ledger`), with the same arithmetic in the same order: the gradient
equals the exact one up to how the compiler rounds the forward without storage that gives the
records (bit for bit in the float64 tests; 5.5e-6 relative in float32 on the benchmark model).
The segments run in local time ``1 .. length``: the kernels index source, receiver and stored data
by time, and the 3-slot buffers by time modulo 3, which a shift by a multiple of 3 keeps.
Each kernel's arguments are prepared once (:class:`~geolearn.wave.execution.KernelRun`), so a
segment costs one call of the compiled code, not a Devito ``apply``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from geolearn.errors import ConfigError
from geolearn.wave.execution import KernelRun
from geolearn.wave.solver import ShotSolver, wavefields

__all__ = ["default_checkpoints", "gradient_checkpointed"]


def default_checkpoints(nt: int) -> int:
    """``round(sqrt(nt / 2))``: the least memory for two-wavefield states plus one segment's store."""
    return max(1, round(math.sqrt(nt / 2)))


def _segments(nt: int, n_checkpoints: int) -> list[tuple[int, int]]:
    """``(start, length)`` of each segment of steps ``1 .. nt-1``; starts are 0 mod 3."""
    length = 3 * math.ceil(math.ceil((nt - 1) / n_checkpoints) / 3)
    return [(s, min(length, nt - 1 - s)) for s in range(0, nt - 1, length)]


def gradient_checkpointed(
    solver: ShotSolver,
    src: np.ndarray,
    wavelet: np.ndarray,
    rec: np.ndarray,
    residual_fn: Callable[[np.ndarray], np.ndarray],
    n_checkpoints: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Records, padded model gradient and wavelet gradient of one shot with checkpointing.

    Parameters
    ----------
    solver : ShotSolver
        Model and time step.
    src, wavelet, rec : ndarray
        Source point(s) ``(npoint, ndim)``, wavelet ``(nt,)`` or one per point ``(npoint, nt)``,
        receivers ``(n_rec, ndim)`` (padded frame).
    residual_fn : callable
        ``residual_fn(records (n_rec, nt)) -> adjoint source (n_rec, nt)``, called once
        between the forward and the reverse sweeps.
    n_checkpoints : int, optional
        Saved states (segments); default :func:`default_checkpoints`.

    Returns
    -------
    records : ndarray, shape (n_rec, nt)
    grad_m : ndarray, padded grid
        Gradient of ``<residual, records>`` w.r.t. ``m``.
    grad_wavelet : ndarray, shape (nt,) for one source point, (npoint, nt) for several
    """
    nt = wavelet.shape[-1]
    n_cp = default_checkpoints(nt) if n_checkpoints is None else n_checkpoints
    if isinstance(n_cp, bool) or not isinstance(n_cp, int) or n_cp < 1:
        raise ConfigError(f"n_checkpoints must be a positive integer, got {n_checkpoints!r}")
    segments = _segments(nt, n_cp)
    records, states = _forward_with_states(solver, src, wavelet, rec, segments)
    residual = np.asarray(residual_fn(records), dtype=solver.dtype)
    grad_m, grad_w = _reverse(solver, src, wavelet, rec, residual, segments, states)
    return records, grad_m, grad_w


def _forward_with_states(
    solver: ShotSolver, src: np.ndarray, wavelet: np.ndarray, rec: np.ndarray, segments: list[tuple[int, int]]
) -> tuple[np.ndarray, list[np.ndarray]]:
    nt = wavelet.shape[-1]
    k = solver.kernel("forward")
    s = solver.sparse(k, "src", src, nt, np.reshape(wavelet, (-1, nt)))
    r = solver.sparse(k, "rec", rec, nt)
    u = solver.time_field(k, "u")
    run = KernelRun(
        k.op, solver.grid_points, solver.performance, wavefields(k), nt - 1, 1, nt - 1, **solver.common(k),
        src=s, rec=r, u=u,
    )  # fmt: skip
    slots = np.asarray(u.data_with_halo)  # plain views: Devito's indexing costs ~0.1 ms per access
    states = []
    for start, length in segments:
        states.append(slots[:2].copy())  # u[start] and u[start + 1] (slots 0 and 1: start is 0 mod 3)
        run.run(start + 1, start + length)
    run.finish()
    return np.array(r.data.T), states


def _reverse(
    solver: ShotSolver,
    src: np.ndarray,
    wavelet: np.ndarray,
    rec: np.ndarray,
    residual: np.ndarray,
    segments: list[tuple[int, int]],
    states: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    nt = wavelet.shape[-1]
    signature = np.reshape(wavelet, (-1, nt))  # (npoint, nt)
    span = segments[0][1]
    kf = solver.kernel("forward", "wavefield")
    store = solver.store(kf, span + 1, 1, reuse=True, workspace="segment")  # local steps 0 .. span + 1
    fsrc = solver.sparse(kf, "src", src, span + 2)
    frec = solver.sparse(kf, "rec", rec, span + 2)
    u = solver.time_field(kf, "u")
    # Both sweeps cover the record's steps 1 .. nt - 1 segment by segment: one solve each.
    forward = KernelRun(
        kf.op, solver.grid_points, solver.performance, wavefields(kf), nt - 1, 1, span, **solver.common(kf),
        src=fsrc, rec=frec, u=u, snap=store.data,
    )  # fmt: skip
    ka = solver.kernel("adjoint", "wavefield")
    asrc = solver.sparse(ka, "src", src, span + 2)
    arec = solver.sparse(ka, "rec", rec, span + 2)
    grad = ka.fields["grad"]
    grad.data[:] = 0
    adjoint = KernelRun(
        ka.op, solver.grid_points, solver.performance, wavefields(ka), nt - 1, 1, span, **solver.common(ka),
        src=asrc, rec=arec, v=solver.time_field(ka, "v"), grad=grad, snap=store.data,
    )  # fmt: skip
    # Plain NumPy views of the buffers refilled per segment.
    slots, steps = np.asarray(u.data_with_halo), np.asarray(store.data.data)
    u_inner = np.asarray(u.data)
    wavelet_in, residual_in, wavelet_grad = (
        np.asarray(fsrc.data),
        np.asarray(arec.data),
        np.asarray(asrc.data),
    )
    grad_w = np.zeros(signature.shape, dtype=np.float64)
    for (start, length), state in zip(reversed(segments), reversed(states)):
        stop = min(start + span + 2, nt)
        slots[:2] = state
        steps[0] = u_inner[0]  # u[start]; the forward stores u[start + 1 .. start + length]
        wavelet_in[:] = 0
        wavelet_in[: stop - start] = signature[:, start:stop].T
        forward.run(1, length)
        steps[length + 1] = u_inner[(length + 1) % 3]
        residual_in[:] = 0
        residual_in[: stop - start] = residual[:, start:stop].T
        wavelet_grad[:] = 0
        adjoint.run(1, length)
        grad_w[:, start + 1 : start + length + 1] += wavelet_grad[1 : length + 1].T
    forward.finish()
    adjoint.finish()
    grad_w *= solver.dt**2 / solver.vol
    return np.array(grad.data), (grad_w[0] if grad_w.shape[0] == 1 else grad_w)
