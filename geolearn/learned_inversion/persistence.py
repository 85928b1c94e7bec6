"""Save and load trained learned-inversion networks with the description of what they were trained on.

A network stores no operator (it takes it at call time), so a weights file holds the network
and, as metadata, the training domain; applying the network to another survey is allowed:

- ``kind`` (``"learned_lsrtm"``: unrolled ISTA, ``"learned_gradient"``:
  :class:`~geolearn.learned_inversion.LearnedGradientLSRTM`, or ``"learned_fwi"``), ``hyper``
  (the builder's keyword arguments: plain scalars; read off a learned gradient network by
  :func:`learned_gradient_hyper` when not given) and ``dtype``;
- ``state_dict``: the network's parameters and buffers;
- ``training``: every training acquisition and grid as a
  :meth:`~geolearn.imaging.ShotProblem.to_dict` mapping, the unrolled-ISTA background
  velocities (m/s, ``(nx, nz)``; none for the other kinds), the range of grid spacings (m, per
  axis) and the frequency band (Hz) of the training wavelets (:func:`frequency_band`).

Everything is a tensor, a number, a string, a list or a dict: the file is read with
``torch.load(weights_only=True)`` and cannot run code. It is written atomically.

:func:`check_transfer` compares a survey with the training domain. A grid spacing or frequency
band outside the training ones is allowed, but changes what the convolutions see (they count in
grid cells, and the image's wavenumbers follow the band), so it is reported twice: a log record
on ``geolearn.learned_inversion.persistence`` and a :class:`OutsideTrainingWarning`. Other
differences (acquisition, background, grid size, absorbing layer) are what the call-time
operator is for and pass silently. Applying a network to a survey is
:func:`geolearn.learned_inversion.migration.learned_migrate`.
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
from geolearn.imaging import ShotProblem
from geolearn.learned.cnn import ACTIVATIONS
from geolearn.learned_inversion.learned_gradient import LearnedGradientLSRTM
from geolearn.wave import Geometry

__all__ = [
    "KINDS",
    "LoadedNetwork",
    "OutsideTrainingWarning",
    "TrainingDomain",
    "check_transfer",
    "frequency_band",
    "learned_gradient_hyper",
    "load_learned",
    "save_learned",
]

logger = logging.getLogger("geolearn.learned_inversion.persistence")

KINDS = ("learned_lsrtm", "learned_gradient", "learned_fwi")
#: Kinds that image a survey with its Born operator (:func:`learned_migrate`).
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


def learned_gradient_hyper(net: LearnedGradientLSRTM) -> dict[str, Any]:
    """The builder arguments of a :class:`LearnedGradientLSRTM`, read off its layers.

    ``n_layers``, ``memory`` and ``classical`` are its attributes; ``features``, ``depth`` and
    ``activation`` those of its first layer's CNN (every layer is built alike). ``seed`` only
    seeds the initial weights, which a saved state replaces, so it is stored as 0.
    """
    if not isinstance(net, LearnedGradientLSRTM):
        raise ConfigError(f"expected a LearnedGradientLSRTM, got {type(net).__name__}")
    convs = [m for m in net.nets[0] if isinstance(m, nn.Conv2d)]
    names = {cls: name for name, cls in ACTIVATIONS.items()}
    activation = next(names[type(m)] for m in net.nets[0] if type(m) in names)
    return {"n_layers": net.n_layers, "features": convs[0].out_channels, "depth": len(convs),
            "memory": net.memory, "classical": net.classical, "activation": activation, "seed": 0}  # fmt: skip


def _build(kind: str, hyper: dict[str, Any], dtype: torch.dtype) -> nn.Module:
    """An untrained network of ``kind`` from its builder arguments (ConfigError if they do not fit)."""
    from geolearn.learned_inversion.fwi import LearnedFWI
    from geolearn.learned_inversion.lsrtm import learned_lsrtm

    builder = {
        "learned_lsrtm": learned_lsrtm,
        "learned_gradient": LearnedGradientLSRTM,
        "learned_fwi": LearnedFWI,
    }
    try:
        return builder[kind](**hyper, dtype=dtype)
    except TypeError as exc:  # an argument the builder does not take
        raise ConfigError(f"hyper {hyper} does not fit the {kind} builder: {exc}") from exc


def save_learned(
    path: str | os.PathLike[str],
    net: nn.Module,
    *,
    kind: str,
    geometry: Geometry | Sequence[Geometry],
    hyper: dict[str, Any] | None = None,
    velocity: Any | Sequence[Any] | None = None,
) -> Path:
    """Write ``net``'s weights, builder arguments and training domain (atomically).

    Parameters
    ----------
    path : path-like
        Destination file (conventionally ``.pt``).
    net : nn.Module
        Built by :func:`~geolearn.learned_inversion.learned_lsrtm` (``kind="learned_lsrtm"``),
        :class:`~geolearn.learned_inversion.LearnedGradientLSRTM` (``"learned_gradient"``) or
        :class:`~geolearn.learned_inversion.LearnedFWI` (``"learned_fwi"``).
    geometry : Geometry or sequence of Geometry
        The training acquisition(s), each with its model (grid).
    hyper : dict, optional
        The builder's keyword arguments (ints, floats, bools, strings or None), without ``dtype``;
        required except for ``"learned_gradient"`` (default :func:`learned_gradient_hyper`).
        Checked here: a network built from them must hold ``net``'s parameters.
    velocity : tensor/array ``(nx, nz)`` or sequence, optional
        ``"learned_lsrtm"``: the Born background velocity of each training geometry, m/s.
    """
    if kind not in KINDS:
        raise ConfigError(f"kind must be one of {KINDS}, got {kind!r}")
    if hyper is None:
        if kind != "learned_gradient":
            raise ConfigError(f"kind {kind!r} needs hyper (the builder's keyword arguments)")
        hyper = learned_gradient_hyper(net)
    bad = {
        k: type(v).__name__
        for k, v in hyper.items()
        if v is not None and not isinstance(v, (int, float, str))
    }
    if bad or "dtype" in hyper:
        raise ConfigError(
            f"hyper values must be int, float, bool, str or None, and no dtype; got {bad or hyper}"
        )
    dtype = next(iter(net.parameters())).dtype
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    expected = {k: tuple(v.shape) for k, v in _build(kind, hyper, dtype).state_dict().items()}
    if expected != {k: tuple(v.shape) for k, v in state.items()}:
        raise ConfigError(f"net's parameters do not fit a {kind} network built with {hyper}")
    geometries = [geometry] if isinstance(geometry, Geometry) else list(geometry)
    velocities = (
        [] if velocity is None else list(velocity) if isinstance(velocity, (list, tuple)) else [velocity]
    )
    if kind == "learned_lsrtm" and len(velocities) != len(geometries):
        raise ConfigError(
            f"learned_lsrtm needs one Born background velocity per training geometry: {len(geometries)} "
            f"geometries, {len(velocities)} velocities"
        )
    payload = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "hyper": dict(hyper),
        "dtype": str(dtype).removeprefix("torch."),
        "training": TrainingDomain.from_geometries(geometries, velocities).to_dict(),
        "state_dict": state,
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
        Not a geolearn weights file (truncated, corrupt or another format), an unknown kind or
        version, or weights that do not fit.
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
    missing = sorted({"kind", "hyper", "dtype", "training", "state_dict"} - set(payload))
    if missing:
        raise ConfigError(f"{path} lacks {missing}: not a complete geolearn weights file")
    kind, hyper = payload["kind"], payload["hyper"]
    if kind not in KINDS:
        raise ConfigError(f"{path} holds unknown kind {kind!r}; known kinds are {KINDS}")
    if payload["dtype"] not in _DTYPES or not isinstance(hyper, dict):
        raise ConfigError(f"{path} has dtype {payload['dtype']!r} and hyper {hyper!r}; expected one of "
                          f"{tuple(_DTYPES)} and a dict")  # fmt: skip
    saved_dtype = _DTYPES[payload["dtype"]]
    net = _build(kind, hyper, saved_dtype)
    try:
        net.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise ConfigError(
            f"the weights in {path} do not fit a {kind} network built with {hyper}: {exc}"
        ) from exc
    net = net.to(device=device, dtype=dtype or saved_dtype).eval()
    return LoadedNetwork(net, kind, hyper, TrainingDomain.from_dict(payload["training"]))
