"""Atomic, pickle-free inversion state: never lose a long inversion to a crash.

A run directory (:class:`geolearn.runs.RunDirectory`) holds the configuration that started the
run and the latest state::

    run_dir/
      config.toml   the validated configuration (written once, at creation)
      state.npz     the latest state (replaced atomically after every iteration)

``state.npz`` is written under a temporary name in the same directory, flushed to disk and
renamed over the previous file (:func:`geolearn.atomic.atomic_path`), so a process killed at
any instant leaves either the previous complete state or the new complete state. The file is
a NumPy archive plus a JSON skeleton (no pickle: loading a checkpoint cannot run code);
arbitrary nested dicts/lists/tuples of NumPy arrays, torch tensors, numbers, strings and paths
round-trip exactly, including int-keyed torch optimiser ``state_dict()`` and 128-bit
``numpy.random.Generator`` states.

Resume contract
---------------
"Killed after iteration *k* and resumed" equals "never interrupted" (bitwise) when the
workflow obeys these rules:

1. **Save at iteration boundaries only**, after iteration *k* has fully updated the model and
   everything else below. A kill inside iteration *k+1* then loses only that partial iteration,
   which the resumed run recomputes from the same inputs.
2. **Save everything the next iteration reads that is not rebuilt from the configuration**:

   - ``model``: the optimisation variables (e.g. velocity ``(nx, nz)`` in m/s), in full precision;
   - ``optimizer``: the complete optimiser state — ``torch.optim.Optimizer.state_dict()``
     (Adam moments and step counts), or an L-BFGS memory (the ``s``/``y`` pairs, ``rho``,
     the previous gradient and misfit, the initial-Hessian scaling, the last step length).
     An optimiser whose memory is hidden (``scipy.optimize.minimize(method="L-BFGS-B")``)
     cannot be resumed exactly mid-run; use one whose memory is accessible, or restart its
     memory deliberately at each band and document it;
   - counters: ``iteration`` (completed iterations), ``band`` (frequency-band index),
     ``iteration_in_band``, number of wave-equation solves;
   - ``rng``: the state of *every* random generator that will draw after iteration *k*
     (shot subsets, noise, mini-batches), captured **after** iteration *k*'s draws with
     :func:`rng_state` and restored with :func:`restore_rng`. Workflows draw from their own
     ``numpy.random.Generator`` / ``torch.Generator`` seeded from ``run.seed``, never from
     unrecorded global state;
   - ``history``: the per-iteration records so far (misfit, model error, step).

3. **Rebuild the rest from ``config.toml``** (data, wavelets, filters, operators, masks):
   these must be deterministic functions of the configuration.
4. **Compute deterministically**: a serial loop or a shot-ordered parallel reduction
   (:meth:`geolearn.parallel.ShotExecutor.map_reduce` with ``ordered=True``), and the same
   thread counts and hardware as the interrupted run (OpenMP reductions may sum in another
   order with another thread count).

``resume(run_dir)`` (a workflow function) then: opens the directory with
:meth:`RunDirectory.open`, rebuilds from :meth:`RunDirectory.load_config`, overwrites the
mutable state with :meth:`RunDirectory.load_state`, restores RNGs and continues at
iteration ``state["iteration"] + 1``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geolearn.atomic import atomic_write
from geolearn.io import state_codec

__all__ = ["STATE_FILE", "load_state", "restore_rng", "rng_state", "save_state"]

log = logging.getLogger("geolearn.io.state")

STATE_FILE = "state.npz"
_FORMAT = "geolearn-state"
_VERSION = 1


def save_state(run_dir: str | os.PathLike[str], state: Mapping[str, Any]) -> Path:
    """Write ``state`` as the latest state of ``run_dir``, atomically.

    Parameters
    ----------
    run_dir : str or os.PathLike
        An existing directory (usually created by :meth:`RunDirectory.create`).
    state : mapping
        Nested dicts/lists/tuples of NumPy arrays, torch tensors (any device; saved from the
        CPU), numbers, strings, None and paths. Conventional keys are listed in the module
        docstring (``model``, ``optimizer``, ``iteration``, ``band``, ``rng``, ``history``).

    Returns
    -------
    pathlib.Path
        The state file, ``run_dir/state.npz``.

    Raises
    ------
    TypeError
        If a value cannot be stored; the message names its position (``state.optimizer...``).
        Nothing is written in that case.
    FileNotFoundError
        If ``run_dir`` does not exist.
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a mapping (dict), got {type(state).__name__}")
    # Encode first: an unsupported value fails before the file system is touched.
    skeleton, arrays = state_codec.encode({"format": _FORMAT, "version": _VERSION, "state": dict(state)}, "")
    arrays[state_codec.SKELETON_KEY] = np.frombuffer(skeleton, dtype=np.uint8)
    target = Path(run_dir) / STATE_FILE
    with atomic_write(target, "wb") as fh:
        np.savez(fh, allow_pickle=False, **arrays)
    log.debug("saved state (%d arrays) to %s", len(arrays) - 1, target)
    return target


def load_state(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the latest state of ``run_dir``.

    Returns
    -------
    dict
        The mapping given to :func:`save_state`, with arrays, dtypes, key types and tuples
        restored; torch tensors are on the CPU.

    Raises
    ------
    FileNotFoundError
        If the run directory has no saved state yet.
    ValueError
        If the file is not a geolearn state file.
    """
    path = Path(run_dir) / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no saved state in {run_dir}: {path} does not exist")
    with np.load(path, allow_pickle=False) as archive:
        if state_codec.SKELETON_KEY not in archive.files:
            raise ValueError(f"{path} is not a geolearn state file (no {state_codec.SKELETON_KEY} member)")
        arrays = {name: archive[name] for name in archive.files}
    skeleton = arrays.pop(state_codec.SKELETON_KEY).tobytes()
    wrapper = state_codec.decode(skeleton, arrays)
    if not isinstance(wrapper, dict) or wrapper.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a geolearn state file")
    if wrapper.get("version") != _VERSION:
        raise ValueError(
            f"{path} has state format version {wrapper.get('version')}; this geolearn reads {_VERSION}"
        )
    return wrapper["state"]


def rng_state(
    *,
    numpy: np.random.Generator | None = None,
    torch_generator: torch.Generator | None = None,
    torch_global: bool = False,
) -> dict[str, Any]:
    """Capture random-generator states for a checkpoint.

    Parameters
    ----------
    numpy : numpy.random.Generator, optional
        Its ``bit_generator.state`` is captured.
    torch_generator : torch.Generator, optional
        Its ``get_state()`` (a uint8 tensor) is captured.
    torch_global : bool, default False
        Also capture torch's global CPU generator (``torch.get_rng_state()``).

    Returns
    -------
    dict
        Storable with :func:`save_state`; give it back to :func:`restore_rng`.
    """
    out: dict[str, Any] = {}
    if numpy is not None:
        out["numpy"] = numpy.bit_generator.state
    if torch_generator is not None:
        out["torch"] = torch_generator.get_state()
    if torch_global:
        out["torch_global"] = torch.get_rng_state()
    return out


def restore_rng(
    state: Mapping[str, Any],
    *,
    numpy: np.random.Generator | None = None,
    torch_generator: torch.Generator | None = None,
) -> None:
    """Put generators back into the states captured by :func:`rng_state`.

    Raises
    ------
    KeyError
        If a generator is given whose state was not captured (a silent skip would make the
        resumed run diverge).
    """
    for name, given in (("numpy", numpy), ("torch", torch_generator)):
        if given is not None and name not in state:
            raise KeyError(f"checkpoint has no {name!r} RNG state; captured: {sorted(state)}")
    if numpy is not None:
        numpy.bit_generator.state = state["numpy"]
    if torch_generator is not None:
        torch_generator.set_state(state["torch"])
    if "torch_global" in state:
        torch.set_rng_state(state["torch_global"])
