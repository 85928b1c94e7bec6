"""A field-like marine survey from Marmousi, with the defects real SEG-Y files carry, and its answer key.

No public package ships real prestack shot data, so :func:`build_field_survey` makes a line that
behaves like one: shots modelled in a Marmousi crop with a minimum-phase airgun-like signature
(ghost and bubble, not a Ricker), recorded at 4 ms from a delay after the shot, with noise and an
arbitrary amplitude unit, then written with :func:`geolearn.io.write_survey` and damaged with
:func:`geolearn.io.edit_headers` / :func:`geolearn.io.edit_samples` the way field files are:

- byte 89 claims degrees while the values are metres (the binary header says metres);
- stale sample counts in a quarter of the trace headers (bytes 115-116);
- the elevation fields hold depths (positive down), with the water depth at bytes 61/65;
- a recording delay (bytes 109 and 215): the first sample is 0.1 s after the shot;
- dead traces (all zero, half of them flagged at byte 29) and reversed-polarity traces;
- sources and receivers along a crooked line (feathering tens of metres across the line);
- coordinate and elevation scalars that change from shot to shot (-100, -10, 1).

The answer key (``answer.npz``, pickle-free) holds the true velocity, the reflectivity, the true
signature and every planted defect, so each can be checked. :func:`field_demo` runs
``inspect`` and ``migrate`` on it and scores the image against the reflectivity.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal
from scipy.ndimage import gaussian_filter

from geolearn.atomic import atomic_write
from geolearn.imaging import choose_dt, model_survey
from geolearn.imaging.conditioning import seabed_depth
from geolearn.io import edit_headers, edit_samples, marmousi_crop, write_model, write_survey, write_wavelet
from geolearn.processing import resample

__all__ = [
    "FieldSurvey",
    "airgun_signature",
    "build_field_survey",
    "field_demo",
    "image_correlation",
    "image_score",
    "migration_velocity",
    "reflectivity",
]

log = logging.getLogger("geolearn.cli.demo_field")

RECORD_DT = 0.004  # s, as field data are delivered
DELAY = 0.1  # s, first recorded sample after the shot
SIGNATURE_DT = 0.0005  # s, sampling of the signature and of wavelet.txt
SOURCE_DEPTH, RECEIVER_DEPTH = 6.0, 10.0  # m
_SIZES = {  # crop cells, cell factor (x 7.5 m), shots, record length (s), signature high cut (Hz)
    False: {"nx": 200, "nz": 80, "factor": 2, "n_shots": 16, "record_length": 2.0, "high": 12.0},
    True: {"nx": 100, "nz": 40, "factor": 4, "n_shots": 8, "record_length": 1.6, "high": 6.0},
}


@dataclass(frozen=True)
class FieldSurvey:
    """Files written by :func:`build_field_survey` (all in one directory).

    Attributes
    ----------
    survey : Path
        ``survey.sgy``, the damaged shot records.
    velocity : Path
        ``velocity.sgy``, a migration velocity (the true model smoothed below the sea bed).
    true_velocity : Path
        ``true_velocity.sgy``.
    wavelet : Path
        ``wavelet.txt``, the true source signature as time (s), amplitude.
    answer : Path
        ``answer.npz``: ``true_velocity``, ``velocity``, ``reflectivity`` ``(nx, nz)``, ``spacing``,
        ``signature``/``signature_dt``, ``dead_traces``, ``flagged_dead``, ``reversed_traces``,
        ``stale_traces``, ``stale_count``, ``coordinate_scalars``, ``elevation_scalars`` (per trace),
        ``source_y``, ``receiver_y`` (across the line, m), ``delay`` (s), ``nt``, ``seed``.
    """

    survey: Path
    velocity: Path
    true_velocity: Path
    wavelet: Path
    answer: Path

    def answer_key(self) -> dict[str, np.ndarray]:
        """The arrays of ``answer.npz``."""
        with np.load(self.answer, allow_pickle=False) as key:
            return {k: key[k] for k in key.files}


def airgun_signature(dt: float, duration: float, *, high: float, bubble_period: float = 0.11) -> np.ndarray:
    """A minimum-phase, airgun-like far-field signature: primary, sea-surface ghost and bubble train.

    Spikes for the primary (1) and three bubble pulses (0.45, 0.2, 0.08 at multiples of
    ``bubble_period``), each with its ghost (-0.9 after ``2 * 6 m / 1500 m/s``), through a causal
    4th-order Butterworth band-pass of 3 Hz to ``high`` Hz, which makes it minimum phase.

    Returns
    -------
    numpy.ndarray of float64, shape (round(duration / dt) + 1,)
        Unit peak amplitude, starting at the shot.
    """
    n = round(duration / dt) + 1
    spikes = np.zeros(n)
    ghost = 2 * SOURCE_DEPTH / 1500.0
    for k, amplitude in enumerate((1.0, 0.45, 0.2, 0.08)):
        t = k * bubble_period
        spikes[round(t / dt)] += amplitude
        spikes[round((t + ghost) / dt)] -= 0.9 * amplitude
    sos = signal.butter(4, [3.0, high], btype="bandpass", fs=1 / dt, output="sos")
    wavelet = signal.sosfilt(sos, spikes)
    return wavelet / np.abs(wavelet).max()


def reflectivity(velocity: np.ndarray) -> np.ndarray:
    """Normal-incidence reflection coefficient ``(v[z+1] - v[z]) / (v[z+1] + v[z])`` at each cell, (nx, nz)."""
    v = np.asarray(velocity, dtype=np.float64)
    r = np.zeros_like(v)
    r[:, :-1] = (v[:, 1:] - v[:, :-1]) / (v[:, 1:] + v[:, :-1])
    return r


def image_correlation(image: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> float:
    """Pearson correlation of ``image`` and ``reference`` over the cells where ``mask`` is True."""
    a, b = image[mask] - image[mask].mean(), reference[mask] - reference[mask].mean()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def image_score(image: np.ndarray, answer: dict[str, np.ndarray]) -> float:
    """Correlation of an image with the true reflectivity model ``δv = v_true − v_migration``.

    ``δv`` is what RTM and LSRTM image in the velocity parametrisation. Scored below the sea bed
    (two cells down, clear of the sea-bed reflector's side lobes), three cells above the bottom and
    five cells inside the lateral edges, where the aperture of the line does not reach.
    """
    perturbation = answer["true_velocity"] - answer["velocity"]
    spacing = tuple(answer["spacing"])
    first = round(seabed_depth(answer["true_velocity"], spacing).max() / spacing[1]) + 2
    mask = np.zeros(perturbation.shape, dtype=bool)
    mask[5:-5, first:-3] = True
    return image_correlation(np.asarray(image, dtype=np.float64), perturbation, mask)


def _geometry(rng: np.random.Generator, extent: float, dx: float, n_shots: int) -> dict[str, np.ndarray]:
    """Sources and a fixed receiver spread along a crooked line: x along it, y across it (m)."""
    margin = 5 * dx
    src_x = dx * np.round(np.linspace(margin, extent - margin, n_shots) / dx)
    rec_x = np.arange(margin / 2, extent - margin / 2 + dx / 2, dx)
    amplitude, wavelength, phase = (
        rng.uniform(20, 40),
        rng.uniform(0.6, 1.0) * extent,
        rng.uniform(0, 2 * np.pi),
    )

    def crooked(x: np.ndarray, feather: float) -> np.ndarray:  # centimetres, as the headers store them
        return np.round(
            amplitude * np.sin(2 * np.pi * x / wavelength + phase) + feather * (x - extent / 2), 2
        )

    return {"src_x": src_x, "src_y": crooked(src_x, 0.0), "rec_x": rec_x,
            "rec_y": crooked(rec_x, np.tan(np.radians(rng.uniform(-2, 2))))}  # fmt: skip


def migration_velocity(
    velocity: np.ndarray, spacing: tuple[float, float], smoothing: float = 90.0
) -> np.ndarray:
    """The true model smoothed (Gaussian, ``smoothing`` m) below the sea bed, the water column kept exact."""
    smooth = gaussian_filter(velocity, smoothing / spacing[0], mode="nearest")
    water = np.arange(velocity.shape[1])[None, :] * spacing[1] < seabed_depth(velocity, spacing)[:, None]
    return np.where(water, velocity, smooth)


def _records(
    vp: np.ndarray, spacing: tuple[float, float], geo: dict, size: dict, progress: bool
) -> np.ndarray:
    """Shots ``(n_shots, n_rec, nt)`` at RECORD_DT from DELAY, modelled at a fine step with the airgun signature."""
    duration = DELAY + size["record_length"]
    dt = choose_dt(float(vp.max()), spacing, 8, record_dt=RECORD_DT)
    signature = airgun_signature(SIGNATURE_DT, 0.5, high=size["high"])
    sources = np.column_stack([geo["src_x"], np.full(geo["src_x"].size, SOURCE_DEPTH)])
    receivers = np.column_stack([geo["rec_x"], np.full(geo["rec_x"].size, RECEIVER_DEPTH)])
    survey = model_survey(vp, spacing, sources=sources, receivers=receivers, record_length=duration, dt=dt,
                          wavelet=signature, wavelet_dt=SIGNATURE_DT, nbl=40, space_order=8, progress=progress)  # fmt: skip
    first = round(DELAY / RECORD_DT)
    return np.stack([resample(g, dt, RECORD_DT)[0][:, first:] for g in survey.records])


def _noisy(records: np.ndarray, rng: np.random.Generator, high: float, level: float = 0.05) -> np.ndarray:
    """Records plus band-limited Gaussian noise of ``level`` times the median trace RMS, in arbitrary units."""
    sos = signal.butter(4, [2.0, 2 * high], btype="bandpass", fs=1 / RECORD_DT, output="sos")
    noise = signal.sosfiltfilt(sos, rng.standard_normal(records.shape), axis=-1)
    rms = np.median(np.sqrt(np.mean(records**2, axis=-1)))
    noise *= level * rms / np.sqrt(np.mean(noise**2))
    return 1000.0 * (records + noise)  # recorded in arbitrary units, not those of the modelling


def _isolated(rng: np.random.Generator, candidates: np.ndarray, count: int, gap: int) -> np.ndarray:
    """``count`` entries of ``candidates`` (sorted ints) drawn at random, pairwise more than ``gap`` apart."""
    chosen: list[int] = []
    for c in rng.permutation(candidates):
        if all(abs(int(c) - k) > gap for k in chosen):
            chosen.append(int(c))
        if len(chosen) == count:
            break
    return np.array(sorted(chosen), dtype=np.int64)


def _scaled(values: np.ndarray, scalar: np.ndarray) -> np.ndarray:
    """Header integers for ``values`` (m) under SEG-Y ``scalar`` per trace (negative divides)."""
    return np.round(values * np.where(scalar < 0, -scalar, 1.0)).astype(np.int64)


def _damage(path: Path, rng: np.random.Generator, geo: dict, seabed: np.ndarray, dx: float, nt: int) -> dict:
    """Plant the field defects of the module docstring in ``path``; return what was planted, per trace."""
    n_shots, n_rec = geo["src_x"].size, geo["rec_x"].size
    shot = np.repeat(np.arange(n_shots), n_rec)
    rec = np.tile(np.arange(n_rec), n_shots)
    cscal = rng.permutation(np.resize([-100, -10, 1], n_shots))[shot]
    escal = rng.permutation(np.resize([-10, -100, 1], n_shots))[shot]
    src_x, src_y, rec_x, rec_y = geo["src_x"][shot], geo["src_y"][shot], geo["rec_x"][rec], geo["rec_y"][rec]
    water = lambda x: seabed[np.clip(np.round(x / dx).astype(int), 0, seabed.size - 1)]  # noqa: E731
    edit_headers(path, {
        "coordinate_units": 3, "coordinate_scalar": cscal, "source_x": _scaled(src_x, cscal),
        "source_y": _scaled(src_y, cscal), "group_x": _scaled(rec_x, cscal), "group_y": _scaled(rec_y, cscal),
        "elevation_scalar": escal, "receiver_elevation": _scaled(np.full(shot.size, RECEIVER_DEPTH), escal),
        "source_surface_elevation": _scaled(np.full(shot.size, SOURCE_DEPTH), escal), "source_depth": 0,
        "water_depth_source": _scaled(water(src_x), escal), "water_depth_group": _scaled(water(rec_x), escal),
    })  # fmt: skip
    stale = np.sort(rng.choice(shot.size, shot.size // 4, replace=False))
    stale_count = round((DELAY + nt * RECORD_DT) / 0.002) + 1  # the count before decimation and the delay
    edit_headers(path, {"sample_count": stale_count}, traces=stale)
    inner = np.flatnonzero((rec > 1) & (rec < n_rec - 2))
    n_bad = max(2, shot.size // 50)
    bad = _isolated(rng, inner, 2 * n_bad, gap=3)
    dead, reversed_ = np.sort(bad[::2]), np.sort(bad[1::2])
    edit_samples(path, 0.0, traces=dead)
    edit_headers(path, {"trace_id": 2}, traces=dead[::2])
    edit_samples(path, lambda d: -d, traces=reversed_)
    return {"coordinate_scalars": cscal, "elevation_scalars": escal, "stale_traces": stale,
            "stale_count": stale_count, "dead_traces": dead, "flagged_dead": dead[::2],
            "reversed_traces": reversed_}  # fmt: skip


def build_field_survey(
    output: str | Path, *, seed: int = 0, fast: bool = False, progress: bool = False
) -> FieldSurvey:
    """Write a field-like marine line with planted defects, its velocity models and its answer key.

    Parameters
    ----------
    output : path
        Directory (created) for ``survey.sgy``, ``velocity.sgy``, ``true_velocity.sgy``,
        ``wavelet.txt`` and ``answer.npz``.
    seed : int
        Draws the crooked line, the scalars per shot, the noise and which traces are stale, dead
        or reversed.
    fast : bool
        A 100 x 40 crop at 30 m, 8 shots, 1.6 s and a 6 Hz high cut, instead of 200 x 80 at 15 m,
        16 shots, 2 s and 12 Hz (both 3 km x 1.2 km from x = 4.5 km of Marmousi).
    progress : bool

    Returns
    -------
    FieldSurvey
    """
    size = _SIZES[bool(fast)]
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    vp, spacing = marmousi_crop(4500.0, size["nx"], size["nz"], size["factor"])
    geo = _geometry(rng, spacing[0] * (size["nx"] - 1), spacing[0], size["n_shots"])
    data = _noisy(_records(vp, spacing, geo, size, progress), rng, size["high"])
    n_shots, n_rec, nt = data.shape
    sources = np.column_stack([geo["src_x"], geo["src_y"], np.full(n_shots, SOURCE_DEPTH)])
    receivers = np.column_stack([geo["rec_x"], geo["rec_y"], np.full(n_rec, RECEIVER_DEPTH)])
    files = FieldSurvey(*(out / name for name in ("survey.sgy", "velocity.sgy", "true_velocity.sgy", "wavelet.txt",
                                                  "answer.npz")))  # fmt: skip
    write_survey(files.survey, data, sources, [receivers] * n_shots, RECORD_DT, t0=DELAY, z_positive="down",
                 text=f"geolearn field-like marine line from Marmousi (seed {seed}); defects planted on purpose")  # fmt: skip
    planted = _damage(files.survey, rng, geo, seabed_depth(vp, spacing), spacing[0], nt)
    v_mig = migration_velocity(vp, spacing)
    write_model(files.velocity, v_mig.astype(np.float32), spacing)
    write_model(files.true_velocity, vp.astype(np.float32), spacing)
    signature = airgun_signature(SIGNATURE_DT, 0.5, high=size["high"])
    write_wavelet(files.wavelet, signature, SIGNATURE_DT)
    with atomic_write(files.answer) as fh:
        np.savez(fh, true_velocity=vp, velocity=v_mig, reflectivity=reflectivity(vp), spacing=spacing,
                 signature=signature, signature_dt=SIGNATURE_DT, delay=DELAY, nt=nt, seed=seed,
                 source_y=geo["src_y"], receiver_y=geo["rec_y"], **planted)  # fmt: skip
    log.info(
        "field-like survey (seed %d): %d shots x %d receivers x %d samples -> %s",
        seed,
        n_shots,
        n_rec,
        nt,
        out,
    )
    return files


def field_demo(output: str | Path, *, progress: bool = True, fast: bool = False) -> str:
    """Build the field-like line into ``output``, read it on evidence, migrate it, and score the image.

    The same path as ``geolearn migrate survey.sgy --velocity velocity.sgy -o image.sgy``: header
    findings settled by evidence, the wavelet estimated from the early arrivals, RTM with
    illumination compensation, Laplacian filter and water-column mute; ``image.png`` with an AGC
    display gain. Returns a printable summary with the image's correlation with the true
    reflectivity model (and with a Ricker instead of the estimate, for comparison).
    """
    from geolearn.imaging import rtm
    from geolearn.io import read_survey
    from geolearn.viz import save_figure

    start = time.perf_counter()
    files = build_field_survey(output, seed=0, fast=fast, progress=progress)
    out = Path(output)
    findings = read_survey(files.survey).findings
    lines = [f"geolearn field demo -> {out}", f"  survey : {files.survey.name}, {len(findings)} findings:"]
    lines += [f"    - {f.topic}: chosen {f.chosen}" for f in findings]
    answer = files.answer_key()
    scores = {}
    for fit, name in (("spectrum", "image"), ("none", "image_ricker")):
        result = rtm(files.survey, files.velocity, wavelet_fit=fit, f0=5.0 if fast else 10.0,
                     output=out / f"{name}.sgy", progress=progress)  # fmt: skip
        save_figure(result.plot(gain="agc"), out / f"{name}.png")
        scores[fit] = image_score(result.image, answer)
    lines.append(f"  RTM    : correlation with the true reflectivity {scores['spectrum']:.2f} with the estimated "
                 f"wavelet -> image.sgy, image.png; {scores['none']:.2f} with a Ricker -> image_ricker.sgy")  # fmt: skip
    lines.append(
        f"  answer key: answer.npz, true signature wavelet.txt; total {time.perf_counter() - start:.0f} s"
    )
    return "\n".join(lines)
