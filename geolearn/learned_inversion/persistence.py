"""Save and load trained learned-inversion networks with the configuration that rebuilds their operators.

A weights file (``torch.save``; loadable with ``weights_only=True``, no pickled code) holds:

- ``kind`` (``"learned_lsrtm"`` or ``"learned_fwi"``) and ``hyper``, the builder arguments;
- ``operators``: grid (shape, spacing, origin, absorbing layer, space order, free surface,
  boundary, dtype), acquisition (sources, receivers, dt, nt, wavelets) and, for learned LSRTM,
  the background velocity of the Born operator (m/s, ``(nx, nz)``);
- ``state_dict``: the network's parameters and buffers.

:func:`load_learned` rebuilds the operators from the file alone, or checks them against the
``model`` / ``geometry`` / ``velocity`` the caller has and raises a
:class:`~geolearn.errors.GeometryError` listing every difference (a network trained for one
acquisition is wrong for another).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from geolearn.atomic import atomic_path
from geolearn.errors import ConfigError, GeometryError
from geolearn.learned_inversion.metrics import CostCounter, CountingOperator
from geolearn.wave import BornOperator, Geometry, Model

__all__ = ["KINDS", "LoadedNetwork", "learned_migrate", "load_learned", "operator_config", "save_learned"]

logger = logging.getLogger("geolearn.learned_inversion.persistence")

KINDS = ("learned_lsrtm", "learned_fwi")
FORMAT_VERSION = 1
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def operator_config(model: Model, geometry: Geometry, velocity: torch.Tensor | None = None) -> dict[str, Any]:
    """Everything needed to rebuild ``model``, ``geometry`` (and a Born operator at ``velocity``).

    Arrays are float64 tensors; scalars are Python values (safe for ``weights_only`` loading).
    """
    cfg: dict[str, Any] = {
        "shape": list(model.shape),
        "spacing": list(model.spacing),
        "origin": list(model.origin),
        "nbl": model.nbl,
        "space_order": model.space_order,
        "free_surface": model.free_surface,
        "boundary": model.boundary,
        "dtype": str(model.dtype).removeprefix("torch."),
        "reference_velocity": model.vp.detach().double().clone(),
        "src_positions": torch.as_tensor(geometry.src_positions, dtype=torch.float64),
        "rec_positions": [torch.as_tensor(r, dtype=torch.float64) for r in geometry.rec_positions],
        "dt": float(geometry.dt),
        "nt": int(geometry.nt),
        "wavelets": geometry.wavelets.detach().double().clone(),
    }
    if velocity is not None:
        cfg["velocity"] = torch.as_tensor(velocity).detach().double().clone()
    return cfg


def _rebuild(cfg: dict[str, Any]) -> tuple[Model, Geometry, torch.Tensor | None]:
    dtype = _DTYPES[cfg["dtype"]]
    model = Model(
        cfg["reference_velocity"].numpy(), cfg["spacing"], cfg["origin"], nbl=cfg["nbl"],
        space_order=cfg["space_order"], free_surface=cfg["free_surface"], boundary=cfg["boundary"],
        dtype=dtype,
    )  # fmt: skip
    geometry = Geometry(
        model, cfg["src_positions"].numpy(), [r.numpy() for r in cfg["rec_positions"]],
        (cfg["nt"] - 1) * cfg["dt"], dt=cfg["dt"], wavelet=cfg["wavelets"].numpy(),
    )  # fmt: skip
    velocity = cfg.get("velocity")
    return model, geometry, (velocity.to(dtype) if velocity is not None else None)


def _differences(saved: dict[str, Any], current: dict[str, Any], check_velocity: bool) -> list[str]:
    out = []
    for key, ref in saved.items():
        if key == "reference_velocity" or (key == "velocity" and not check_velocity):
            continue  # the reference only fixes the damping profile
        if key not in current:
            continue
        now = current[key]
        if isinstance(ref, list) and ref and isinstance(ref[0], torch.Tensor):
            same = len(ref) == len(now) and all(
                a.shape == b.shape and torch.allclose(a, b, rtol=1e-6, atol=1e-6) for a, b in zip(ref, now)
            )
            desc = f"receiver counts {[len(r) for r in ref]} vs {[len(r) for r in now]}"
        elif isinstance(ref, torch.Tensor):
            same = ref.shape == now.shape and torch.allclose(ref, now, rtol=1e-5, atol=1e-6)
            desc = (
                f"shape {tuple(ref.shape)} vs {tuple(now.shape)}"
                if ref.shape != now.shape
                else f"max |difference| {float((ref - now).abs().max()):.4g}"
            )
        elif isinstance(ref, float):
            same = abs(ref - now) <= 1e-9 * max(abs(ref), 1.0)
            desc = f"{ref:.9g} vs {now:.9g}"
        else:
            same = ref == now
            desc = f"{ref!r} vs {now!r}"
        if not same:
            out.append(f"{key} ({desc})")
    return out


def save_learned(
    path: str | os.PathLike[str],
    net: nn.Module,
    *,
    kind: str,
    hyper: dict[str, Any],
    model: Model,
    geometry: Geometry,
    velocity: torch.Tensor | None = None,
) -> Path:
    """Write ``net``'s weights and the configuration that rebuilds it (atomically).

    Parameters
    ----------
    path : path-like
        Destination file (conventionally ``.pt``).
    net : nn.Module
        Built by :func:`~geolearn.learned_inversion.lsrtm.learned_lsrtm` (``kind="learned_lsrtm"``,
        ``velocity`` = the Born background) or :class:`~geolearn.learned_inversion.fwi.LearnedFWI`
        (``kind="learned_fwi"``).
    hyper : dict
        The builder's keyword arguments (ints, floats, bools, strings).
    model, geometry : Model, Geometry
        The operators' grid and acquisition.
    velocity : Tensor, optional
        Background velocity ``(nx, nz)`` in m/s (required for learned LSRTM).
    """
    if kind not in KINDS:
        raise ConfigError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "learned_lsrtm" and velocity is None:
        raise ConfigError("learned_lsrtm needs the Born background velocity to rebuild J: pass velocity=")
    bad = {k: type(v).__name__ for k, v in hyper.items() if not isinstance(v, (int, float, bool, str))}
    if bad:
        raise ConfigError(f"hyper values must be int, float, bool or str; got {bad}")
    payload = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "hyper": dict(hyper),
        "operators": operator_config(model, geometry, velocity),
        "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()},
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    logger.info("saved %s network to %s", kind, path)
    return path


@dataclass
class LoadedNetwork:
    """A network rebuilt by :func:`load_learned` with the operators it was built on.

    ``J`` is the Born operator (wrapped in a :class:`CountingOperator` sharing ``counter``) for
    learned LSRTM and ``None`` for learned FWI.
    """

    net: nn.Module
    kind: str
    hyper: dict[str, Any]
    model: Model
    geometry: Geometry
    velocity: torch.Tensor | None
    J: CountingOperator | None
    counter: CostCounter


def load_learned(
    path: str | os.PathLike[str],
    *,
    model: Model | None = None,
    geometry: Geometry | None = None,
    velocity: torch.Tensor | None = None,
    check_velocity: bool = True,
) -> LoadedNetwork:
    """Rebuild a network saved by :func:`save_learned`.

    Without ``model``/``geometry`` the operators are rebuilt from the file. With them, they are
    compared with the saved configuration first.

    Raises
    ------
    GeometryError
        ``model``, ``geometry`` or ``velocity`` differ from what the network was trained with
        (every differing item is named, saved vs given).
    ConfigError
        Not a geolearn weights file, an unknown kind or version, or weights that do not fit.
    """
    path = Path(path)
    try:
        payload = torch.load(path, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ConfigError(f"{path} is not a readable geolearn weights file: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise ConfigError(f"{path} is not a geolearn learned-inversion file of format {FORMAT_VERSION}")
    kind, hyper, saved = payload["kind"], payload["hyper"], payload["operators"]
    if kind not in KINDS:
        raise ConfigError(f"{path} holds unknown kind {kind!r}; known kinds are {KINDS}")
    if (model is None) != (geometry is None):
        raise ConfigError("pass both model and geometry (to check them) or neither (to rebuild them)")
    if model is None:
        model, geometry, velocity = _rebuild(saved)
    else:
        current = operator_config(model, geometry, velocity)
        diffs = _differences(saved, current, check_velocity and velocity is not None)
        if diffs:
            raise GeometryError(
                f"the network in {path} was trained with other operators; saved vs given differ in: "
                + "; ".join(diffs)
            )
        if velocity is None and "velocity" in saved:
            velocity = saved["velocity"].to(model.dtype)
    counter = CostCounter()
    J = None
    if kind == "learned_lsrtm":
        from geolearn.learned_inversion.lsrtm import learned_lsrtm

        J = CountingOperator(BornOperator(model, geometry, velocity.to(model.dtype)), counter)
        net = learned_lsrtm(J, **hyper)
    else:
        from geolearn.learned_inversion.fwi import LearnedFWI

        net = LearnedFWI(model, geometry, counter=counter, **hyper)
    try:
        net.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise ConfigError(
            f"the weights in {path} do not fit a {kind} network built with {hyper}: {exc}"
        ) from exc
    net.eval()
    return LoadedNetwork(net, kind, hyper, model, geometry, velocity, J, counter)


def learned_migrate(
    survey: Any,
    velocity: Any,
    weights_path: str | os.PathLike[str],
    *,
    spacing: tuple[float, float] | None = None,
    subtract_direct: bool = True,
    **survey_kwargs: Any,
) -> np.ndarray:
    """Image a survey with a trained learned-LSRTM network (the ``geolearn migrate --method learned`` path).

    Parameters
    ----------
    survey : SurveyResult, (ShotProblem, records), geolearn.io.Survey or SEG-Y path
        Anything :func:`~geolearn.imaging.survey_input.resolve_survey` accepts.
    velocity : array, tensor, VelocityModel or path
        Migration (background) velocity in m/s on the survey grid ``(nx, nz)``.
    weights_path : path-like
        File written by :func:`save_learned` with ``kind="learned_lsrtm"``.
    spacing : (dx, dz), optional
        Grid spacing in metres when ``velocity`` is a bare array.
    subtract_direct : bool
        Subtract the records modelled in the background velocity (direct wave and smooth-model
        arrivals) so that the network sees scattered (Born-like) data, as in training.
    **survey_kwargs
        Passed to :func:`~geolearn.imaging.survey_input.resolve_survey` (e.g. ``f0``).

    Returns
    -------
    ndarray
        Image ``(nx, nz)`` float64: the estimated velocity perturbation in m/s.

    Raises
    ------
    GeometryError
        The survey's grid, acquisition, time axis or velocity differ from the training ones.
    """
    from geolearn.imaging.survey_input import resolve_survey
    from geolearn.wave import WaveModeling

    problem, observed, vp = resolve_survey(survey, velocity, spacing, **survey_kwargs)
    model = problem.model()
    geometry = problem.geometry(model)
    v = torch.as_tensor(vp, dtype=model.dtype)
    loaded = load_learned(weights_path, model=model, geometry=geometry, velocity=v)
    if loaded.kind != "learned_lsrtm":
        raise ConfigError(f"{weights_path} holds a {loaded.kind} network; migration needs learned_lsrtm")
    y = torch.as_tensor(observed, dtype=model.dtype)
    with torch.no_grad():
        if subtract_direct:
            y = y - WaveModeling(model, geometry)(v)
        image = loaded.net(y[None])[0]
    return image.double().numpy()
