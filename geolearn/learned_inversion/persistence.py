"""Save and load trained learned-inversion networks with the description of what they were trained on.

A network stores no operator (it takes it at call time), so a weights file holds the network
and, as metadata, the training domain; applying the network to another survey is allowed:

- ``kind`` (``"learned_lsrtm"`` or ``"learned_fwi"``), ``hyper`` (the builder's keyword
  arguments: plain scalars) and ``dtype``;
- ``state_dict``: the network's parameters and buffers;
- ``training``: every training acquisition and grid as a
  :meth:`~geolearn.imaging.ShotProblem.to_dict` mapping, the learned-LSRTM background
  velocities (m/s, ``(nx, nz)``), the range of grid spacings (m, per axis) and the frequency
  band (Hz) of the training wavelets (:func:`frequency_band`).

Everything is a tensor, a number, a string, a list or a dict: the file is read with
``torch.load(weights_only=True)`` and cannot run code. It is written atomically.

:func:`check_transfer` compares a survey with the training domain. A grid spacing or frequency
band outside the training ones is allowed, but changes what the convolutions see (they count in
grid cells, and the image's wavenumbers follow the band), so it is reported twice: a log record
on ``geolearn.learned_inversion.persistence`` and a :class:`OutsideTrainingWarning`. Other
differences (acquisition, background, grid size, absorbing layer) are what the call-time
operator is for and pass silently. :func:`learned_migrate` builds the Born operator of the
user's survey and velocity and applies the network.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from geolearn.atomic import atomic_path
from geolearn.errors import ConfigError
from geolearn.imaging import ShotProblem, resolve_survey
from geolearn.wave import BornOperator, Geometry, WaveModeling

__all__ = [
    "KINDS",
    "LoadedNetwork",
    "OutsideTrainingWarning",
    "TrainingDomain",
    "check_transfer",
    "frequency_band",
    "learned_migrate",
    "load_learned",
    "save_learned",
]

logger = logging.getLogger("geolearn.learned_inversion.persistence")

KINDS = ("learned_lsrtm", "learned_fwi")
FORMAT_VERSION = 2
_DTYPES = {"float32": torch.float32, "float64": torch.float64}
#: Relative slack before a spacing or band edge counts as outside the training range.
SPACING_RTOL, BAND_RTOL = 1e-3, 0.02


class OutsideTrainingWarning(UserWarning):
    """A network is applied where its training data give no evidence: grid spacing or frequency band."""


def frequency_band(
    wavelets: np.ndarray | torch.Tensor, dt: float, *, level: float = 0.1
) -> tuple[float, float]:
    """Band (Hz) where the wavelets' amplitude spectrum is at least ``level`` × its peak (−20 dB).

    Parameters
    ----------
    wavelets : array ``(n_shots, nt)`` or ``(nt,)``
        Source wavelets sampled at ``dt`` s.
    dt : float
        Sampling interval in s.
    level : float
        Fraction of each wavelet's peak amplitude that delimits the band, in (0, 1).

    Returns
    -------
    (f_lo, f_hi) : the union over shots, edges interpolated linearly between frequency bins.
    """
    w = np.atleast_2d(np.asarray(torch.as_tensor(wavelets).detach().cpu(), dtype=np.float64))
    if not 0 < level < 1 or not dt > 0:
        raise ConfigError(f"need 0 < level < 1 and dt > 0 s, got level={level}, dt={dt}")
    # Zero-padded to a 0.25 Hz grid: a short record alone resolves the band edges coarsely.
    n = max(w.shape[-1], int(np.ceil(4.0 / dt)))
    freqs = np.fft.rfftfreq(n, dt)
    lo, hi = np.inf, -np.inf
    for amp in np.abs(np.fft.rfft(w, n=n, axis=-1)):
        if not amp.max() > 0:
            raise ConfigError("a wavelet is identically zero; it has no frequency band")
        above = np.flatnonzero(amp >= level * amp.max())
        i, j = above[0], above[-1]
        cut = level * amp.max()
        f_lo = freqs[i] if i == 0 else np.interp(cut, [amp[i - 1], amp[i]], [freqs[i - 1], freqs[i]])
        f_hi = (
            freqs[j] if j == len(amp) - 1 else np.interp(cut, [amp[j + 1], amp[j]], [freqs[j + 1], freqs[j]])
        )
        lo, hi = min(lo, float(f_lo)), max(hi, float(f_hi))
    return lo, hi


@dataclass
class TrainingDomain:
    """What a network was trained on: acquisitions and grids, backgrounds, spacing and band.

    Attributes
    ----------
    problems : list of ShotProblem
        The training acquisitions with their grids and wavelets.
    velocities : list of ndarray ``(nx, nz)``
        Learned-LSRTM background velocities in m/s (empty for learned FWI).
    spacing_range : ndarray ``(ndim, 2)``
        Smallest and largest grid spacing per axis, m.
    band : (float, float)
        Union of the training wavelets' frequency bands, Hz (:func:`frequency_band`).
    """

    problems: list[ShotProblem]
    velocities: list[np.ndarray]
    spacing_range: np.ndarray
    band: tuple[float, float]

    @classmethod
    def from_geometries(
        cls, geometries: Sequence[Geometry], velocities: Sequence[Any] = ()
    ) -> TrainingDomain:
        """The domain of one or more training geometries (each with its model) and backgrounds."""
        problems = [ShotProblem.from_wave(g.model, g) for g in geometries]
        spacing = np.array([p.spacing for p in problems])
        bands = np.array([frequency_band(p.wavelets, p.dt) for p in problems])
        return cls(
            problems=problems,
            velocities=[np.asarray(torch.as_tensor(v).detach().cpu(), dtype=np.float64) for v in velocities],
            spacing_range=np.stack([spacing.min(0), spacing.max(0)], 1),
            band=(float(bands[:, 0].min()), float(bands[:, 1].max())),
        )

    def to_dict(self) -> dict[str, Any]:
        """Tensors, numbers and lists only (``torch.load(weights_only=True)`` reads it back)."""
        return {
            "problems": [p.to_dict(tensors=True) for p in self.problems],
            "velocities": [torch.from_numpy(v.copy()) for v in self.velocities],
            "spacing_range": torch.from_numpy(self.spacing_range.copy()),
            "band": [float(b) for b in self.band],
        }

    @classmethod
    def from_dict(cls, mapping: dict[str, Any]) -> TrainingDomain:
        return cls(
            problems=[ShotProblem.from_dict(p) for p in mapping["problems"]],
            velocities=[v.double().numpy() for v in mapping["velocities"]],
            spacing_range=mapping["spacing_range"].double().numpy(),
            band=(float(mapping["band"][0]), float(mapping["band"][1])),
        )

    def outside(self, geometry: Geometry) -> list[str]:
        """What of ``geometry`` lies outside the training domain: spacing per axis, band edges."""
        out = []
        spacing = geometry.model.spacing
        if len(spacing) != self.spacing_range.shape[0]:
            return [
                f"the grid has {len(spacing)} dimensions, the training grids {self.spacing_range.shape[0]}"
            ]
        for axis, (h, (lo, hi)) in enumerate(zip(spacing, self.spacing_range)):
            if h < lo * (1 - SPACING_RTOL) or h > hi * (1 + SPACING_RTOL):
                out.append(f"grid spacing {h:g} m on axis {axis} is outside the trained {lo:g}-{hi:g} m")
        f_lo, f_hi = frequency_band(geometry.wavelets, geometry.dt)
        t_lo, t_hi = self.band
        if f_lo < t_lo * (1 - BAND_RTOL) or f_hi > t_hi * (1 + BAND_RTOL):
            out.append(
                f"frequency band {f_lo:.1f}-{f_hi:.1f} Hz is outside the trained {t_lo:.1f}-{t_hi:.1f} Hz "
                f"(amplitude above 10 % of its peak)"
            )
        return out


def check_transfer(training: TrainingDomain, geometry: Geometry) -> list[str]:
    """Report (log record and :class:`OutsideTrainingWarning`) where ``geometry`` leaves the training domain.

    Returns the list of findings (empty inside the domain). Applying the network is allowed either way.
    """
    findings = training.outside(geometry)
    if findings:
        msg = "the network is applied outside its training domain: " + "; ".join(findings)
        logger.warning(msg)
        warnings.warn(msg, OutsideTrainingWarning, stacklevel=2)
    return findings


def save_learned(
    path: str | os.PathLike[str],
    net: nn.Module,
    *,
    kind: str,
    hyper: dict[str, Any],
    geometry: Geometry | Sequence[Geometry],
    velocity: Any | Sequence[Any] | None = None,
) -> Path:
    """Write ``net``'s weights, builder arguments and training domain (atomically).

    Parameters
    ----------
    path : path-like
        Destination file (conventionally ``.pt``).
    net : nn.Module
        Built by :func:`~geolearn.learned_inversion.learned_lsrtm` (``kind="learned_lsrtm"``) or
        :class:`~geolearn.learned_inversion.LearnedFWI` (``kind="learned_fwi"``).
    hyper : dict
        The builder's keyword arguments (ints, floats, bools, strings or None), without ``dtype``.
    geometry : Geometry or sequence of Geometry
        The training acquisition(s), each with its model (grid).
    velocity : tensor/array ``(nx, nz)`` or sequence, optional
        Learned LSRTM: the Born background velocity of each training geometry, m/s.
    """
    if kind not in KINDS:
        raise ConfigError(f"kind must be one of {KINDS}, got {kind!r}")
    bad = {
        k: type(v).__name__
        for k, v in hyper.items()
        if v is not None and not isinstance(v, (int, float, str))
    }
    if bad or "dtype" in hyper:
        raise ConfigError(
            f"hyper values must be int, float, bool, str or None, and no dtype; got {bad or hyper}"
        )
    geometries = [geometry] if isinstance(geometry, Geometry) else list(geometry)
    velocities = (
        [] if velocity is None else list(velocity) if isinstance(velocity, (list, tuple)) else [velocity]
    )
    if kind == "learned_lsrtm" and len(velocities) != len(geometries):
        raise ConfigError(
            f"learned_lsrtm needs one Born background velocity per training geometry: {len(geometries)} "
            f"geometries, {len(velocities)} velocities"
        )
    dtype = next(iter(net.parameters())).dtype
    payload = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "hyper": dict(hyper),
        "dtype": str(dtype).removeprefix("torch."),
        "training": TrainingDomain.from_geometries(geometries, velocities).to_dict(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    logger.info("saved %s network to %s", kind, path)
    return path


@dataclass
class LoadedNetwork:
    """A network rebuilt by :func:`load_learned` (in eval mode) and its training domain."""

    net: nn.Module
    kind: str
    hyper: dict[str, Any]
    training: TrainingDomain


def load_learned(
    path: str | os.PathLike[str],
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> LoadedNetwork:
    """Rebuild a network saved by :func:`save_learned`, read as data (``weights_only=True``).

    ``dtype`` / ``device`` move it (default: the saved dtype, CPU); it takes its operator at call
    time, so no survey is needed here (see :func:`check_transfer` before applying it elsewhere).

    Raises
    ------
    ConfigError
        Not a geolearn weights file, an unknown kind or version, or weights that do not fit.
    """
    from geolearn.learned_inversion.fwi import LearnedFWI
    from geolearn.learned_inversion.lsrtm import learned_lsrtm

    path = Path(path)
    try:
        payload = torch.load(path, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ConfigError(f"{path} is not a readable geolearn weights file: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise ConfigError(f"{path} is not a geolearn learned-inversion file of format {FORMAT_VERSION}")
    kind, hyper = payload["kind"], payload["hyper"]
    if kind not in KINDS:
        raise ConfigError(f"{path} holds unknown kind {kind!r}; known kinds are {KINDS}")
    saved_dtype = _DTYPES[payload["dtype"]]
    net = (learned_lsrtm(**hyper, dtype=saved_dtype) if kind == "learned_lsrtm"
           else LearnedFWI(**hyper, dtype=saved_dtype))  # fmt: skip
    try:
        net.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise ConfigError(
            f"the weights in {path} do not fit a {kind} network built with {hyper}: {exc}"
        ) from exc
    net = net.to(device=device, dtype=dtype or saved_dtype).eval()
    return LoadedNetwork(net, kind, hyper, TrainingDomain.from_dict(payload["training"]))


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

    The Born operator of the survey's acquisition and ``velocity`` is built and given to the
    network; any acquisition and background may be used. A grid spacing or frequency band
    outside the training ones is reported by :func:`check_transfer`.

    Parameters
    ----------
    survey : SurveyResult, (ShotProblem, records), geolearn.io.Survey or SEG-Y path
        Anything :func:`~geolearn.imaging.resolve_survey` accepts.
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
        Passed to :func:`~geolearn.imaging.resolve_survey` (e.g. ``f0``).

    Returns
    -------
    ndarray
        Image ``(nx, nz)`` float64: the estimated velocity perturbation in m/s.
    """
    problem, observed, vp = resolve_survey(survey, velocity, spacing, **survey_kwargs)
    loaded = load_learned(weights_path)
    if loaded.kind != "learned_lsrtm":
        raise ConfigError(f"{weights_path} holds a {loaded.kind} network; migration needs learned_lsrtm")
    model, geometry = problem.to_wave()
    net = loaded.net.to(model.dtype)
    check_transfer(loaded.training, geometry)
    v = torch.as_tensor(vp, dtype=model.dtype)
    J = BornOperator(model, geometry, v)
    y = torch.as_tensor(observed, dtype=model.dtype)
    with torch.no_grad():
        if subtract_direct:
            y = y - WaveModeling(model, geometry)(v)
        image = net(y[None], J)[0]
    return image.double().numpy()
