"""Training a learned gradient LSRTM network for one survey: its acquisition, grid and migration velocity.

:func:`train_for_survey` (run by ``geolearn train-lsrtm CONFIG.toml``) takes the survey's
:class:`~geolearn.imaging.ShotProblem` (from its SEG-Y headers) and the user's migration velocity:

1. training truths on the survey's grid (:func:`draw_training_velocities`: the geological
   generator, optionally Marmousi training crops) in the velocity range of the user's velocity
   below the sea bed, under the user's water layer, each with a background made as a user's is
   (smoothed in slowness over a length drawn per model, with a smooth velocity error);
   velocities above what the survey's time step supports are clipped to it;
2. every step draws a model and a new random supershot (:class:`~geolearn.wave.SourceEncoding`:
   Rademacher weights when all shots share their receivers, else a random subset of shots),
   models ``y = J x`` plus noise with that experiment's Born operator at the model's background,
   and takes an Adam step on :func:`~geolearn.learned_inversion.learned_gradient_loss` (image error,
   data misfit, and a hinge on layers that fit the data worse than their CG step, so the safeguard
   stays silent on models like these; :class:`LearnedGradientLSRTM`, CG classical step).
   Inference uses the full, unencoded survey (:func:`~geolearn.learned_inversion.learned_migrate`);
3. :class:`~geolearn.learned.Trainer` checkpoints in the work directory: a killed run started again
   with the same settings (kept in ``training.json``; others are refused) continues from the last one.

Cost: the wave-equation solves performed (:mod:`geolearn.ledger`), kept in ``cost.json`` in the
work directory over all runs, steps redone after an interruption included.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geolearn import ledger
from geolearn.atomic import atomic_path
from geolearn.errors import ConfigError, GeometryError, ModelError
from geolearn.imaging import ShotProblem, preflight, seabed_depth
from geolearn.imaging.discretisation import as_velocity, stability_limit
from geolearn.learned import Trainer, TrainingHistory
from geolearn.learned_inversion.background_training import draw_training_velocities
from geolearn.learned_inversion.born_sampler import BornSampler
from geolearn.learned_inversion.learned_gradient import LearnedGradientLSRTM, learned_gradient_loss
from geolearn.learned_inversion.persistence import save_learned
from geolearn.learned_inversion.training_models.generator import WATER_VELOCITY
from geolearn.learned_inversion.training_models.geology import GeologyOptions
from geolearn.wave import BornOperator, Geometry, SourceEncoding, common_receivers
from geolearn.wave.encoding import ENCODINGS

__all__ = ["SurveyTraining", "SurveyTrainingResult", "train_for_survey"]

logger = logging.getLogger("geolearn.learned_inversion.survey_training")

#: Velocity-range margins around the user's velocity below the sea bed (lower, upper factor).
RANGE_MARGIN = (0.9, 1.1)
#: Fraction of the time step's stability limit the training velocities may reach.
STABLE_FRACTION = 0.99
#: RMS perturbation (m/s) below which a training model has nothing to image and is dropped.
MIN_DETAIL = 1.0


@dataclass(frozen=True)
class SurveyTraining:
    """Settings of :func:`train_for_survey` (the ``[training]`` section of ``geolearn train-lsrtm``).

    Attributes
    ----------
    models : int
        Training truths drawn on the survey's grid.
    steps : int
        Adam steps (one model and one supershot each).
    layers, features, depth, memory : int
        :class:`LearnedGradientLSRTM` layers ``K`` (``3K − 1`` J/Jᵀ per image), hidden channels,
        convolutions per layer and memory channels.
    seed : int
        Seed of the models, backgrounds, network initialisation and the draws of every step.
    learning_rate : float
        Adam step size (cosine decay to zero over ``steps``).
    data_weight : float
        Weight of the relative data misfit in the loss.
    noise : float
        Relative Gaussian noise on the training records, ``‖n‖ = noise · ‖J x‖``.
    marmousi_fraction : float
        Fraction of the models that are augmented Marmousi training crops (need the reference data).
    smoothing_lengths : tuple of float
        Slowness-smoothing lengths of the backgrounds, m (one drawn per model).
    velocity_error : float
        RMS of the smooth relative error of each background.
    velocity_range : (float, float) or None
        Training velocities, m/s; None: 0.9 × the lowest to 1.1 × the highest velocity of the
        user's model below the sea bed. Capped at what the time step supports, and extended
        down to the water velocity (1500 m/s) under water.
    encoding : {"auto", "rademacher", "gaussian", "subset"}
        Supershot weights of each step; "auto": Rademacher if all shots share their receivers,
        else a random subset of shots. A supershot's gradient carries the crosstalk of every
        shot it encodes, which no full-survey gradient has: on an 80 × 40 grid with 24 shots
        (300 steps, one seed, band PSNR on two Marmousi crops) supershots of all 24 shots trained
        to CG-3, random 4-shot subsets (4 × the solves per step) to +0.19 / +0.56 dB over CG-4.
        For surveys of many shots, try ``"subset"``.
    subset : int or None
        Shots per step for "subset" (default a quarter of the shots, at least one).
    checkpoint_every : int
        Steps between checkpoints.
    """

    models: int = 32
    steps: int = 200
    layers: int = 3
    features: int = 32
    depth: int = 5
    memory: int = 2
    seed: int = 0
    learning_rate: float = 2e-3
    data_weight: float = 0.3
    noise: float = 0.02
    marmousi_fraction: float = 0.0
    smoothing_lengths: tuple[float, ...] = (50.0, 100.0, 200.0, 400.0)
    velocity_error: float = 0.02
    velocity_range: tuple[float, float] | None = None
    encoding: str = "auto"
    subset: int | None = None
    checkpoint_every: int = 5

    def __post_init__(self) -> None:
        counts = {"models": 1, "steps": 1, "layers": 1, "features": 1, "depth": 2, "memory": 0, "seed": 0,
                  "checkpoint_every": 1, "subset": 1}  # fmt: skip
        for name, least in counts.items():
            value = getattr(self, name)
            if value is None and name == "subset":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"{name} = {value!r} is invalid: must be an integer >= {least}")
        if not self.learning_rate > 0 or not self.data_weight >= 0 or not 0 <= self.noise < 1:
            raise ConfigError(f"need learning_rate > 0, data_weight >= 0 and 0 <= noise < 1; got "
                              f"{self.learning_rate}, {self.data_weight} and {self.noise}")  # fmt: skip
        if not 0 <= self.marmousi_fraction <= 1 or not 0 <= self.velocity_error < 0.5:
            raise ConfigError(f"need 0 <= marmousi_fraction <= 1 and 0 <= velocity_error < 0.5; got "
                              f"{self.marmousi_fraction} and {self.velocity_error}")  # fmt: skip
        if not self.smoothing_lengths or not all(s > 0 for s in self.smoothing_lengths):
            raise ConfigError(f"smoothing_lengths must be lengths > 0 m, got {self.smoothing_lengths!r}")
        r = self.velocity_range
        if r is not None and not (len(r) == 2 and 0 < r[0] < r[1]):
            raise ConfigError(f"velocity_range must be [v_min, v_max] m/s with 0 < v_min < v_max, got {r!r}")
        if self.encoding not in ("auto", *ENCODINGS):
            raise ConfigError(f"encoding must be one of {('auto', *ENCODINGS)}, got {self.encoding!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


@dataclass
class SurveyTrainingResult:
    """What :func:`train_for_survey` trained and spent.

    Attributes
    ----------
    net : LearnedGradientLSRTM
        The trained network (eval mode).
    history, steps : TrainingHistory, int
        Loss per step and the steps done, earlier runs' included.
    solves, solves_this_run : float
        Wave-equation solves (:mod:`geolearn.ledger`) of all runs in the work directory, of this call.
    encoding, velocity_range, water_depth : str, (float, float), float or None
        Supershot kind; training velocities, m/s; water layer of the training models, m.
    weights : Path or None
        The weights file written (``output``).
    """

    net: LearnedGradientLSRTM
    history: TrainingHistory
    steps: int
    solves: float
    solves_this_run: float
    encoding: str
    velocity_range: tuple[float, float]
    water_depth: float | None
    weights: Path | None


class _CostedSampler(BornSampler):
    """A :class:`BornSampler` that writes the solves so far to ``cost.json`` at every draw."""

    def __init__(self, *pool: Any, dtype: torch.dtype, cost_path: Path, cost: ledger.SolveCount) -> None:
        super().__init__(*pool, dtype=dtype)
        self.cost_path, self.cost = cost_path, cost
        self.before = json.loads(cost_path.read_text())["solves"] if cost_path.exists() else 0.0

    def close(self) -> None:
        if self.current is None:
            return
        super().close()
        with atomic_path(self.cost_path) as tmp:
            tmp.write_text(json.dumps({"solves": self.before + self.cost.solves}))


def train_for_survey(
    problem: ShotProblem,
    velocity: Any,
    work_dir: str | os.PathLike[str],
    settings: SurveyTraining | None = None,
    *,
    output: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> SurveyTrainingResult:
    """Train a :class:`LearnedGradientLSRTM` for ``problem``'s survey (see the module docstring).

    Parameters
    ----------
    problem : ShotProblem
        The survey's grid, acquisition, time axis and wavelets (e.g. from
        :func:`~geolearn.imaging.problem_from_survey`); its reference velocity sets the absorbing
        layer of every training operator.
    velocity : array ``(nx, nz)``, tensor or VelocityModel
        The user's migration velocity on the problem's grid, m/s.
    work_dir : path-like
        Checkpoint, settings and cost of the training (created); rerun with it to resume.
    settings : SurveyTraining, optional
        Training size and options (default ``SurveyTraining()``).
    output : path-like, optional
        Weights file to write (atomically, :func:`save_learned`, kind ``"learned_gradient"``).
    data_dir : path-like, optional
        Reference-data mirror for Marmousi crops (default ``GEOLEARN_DATA_DIR``).
    progress : bool
        tqdm bar of the training steps.

    Raises
    ------
    ConfigError, ModelError, GeometryError, StabilityError, OutputError
        Bad settings, a velocity off the grid, shots that cannot be encoded as asked, a work
        directory holding another training, unwritable outputs: all before any wave solve.
    """
    settings = SurveyTraining() if settings is None else settings
    if not isinstance(settings, SurveyTraining) or not isinstance(problem, ShotProblem):
        raise TypeError(f"need a ShotProblem and SurveyTraining settings, got {type(problem).__name__} and "
                        f"{type(settings).__name__}")  # fmt: skip
    vp = as_velocity(velocity, "migration velocity")
    if vp.shape != problem.shape or vp.ndim != 2:
        raise ModelError(
            f"the migration velocity has shape {vp.shape}; the survey's 2D grid is {problem.shape}"
        )
    work = Path(work_dir)
    nbytes = _weights_bytes(problem, settings)
    outputs = {work / "checkpoint.pt": 3 * nbytes, **({Path(output): nbytes} if output is not None else {})}
    preflight(outputs=outputs, create_parents=True)
    water, v_range = _training_range(problem, vp, settings)
    velocities, backgrounds = _training_pool(problem, settings, water, v_range, data_dir)
    preflight(problem, velocities=[vp, backgrounds.max(0), backgrounds.min(0)])
    model = problem.model()
    base = problem.geometry(model)
    kind, subset = _encoding(base, settings)
    encoding = SourceEncoding(base, kind, subset=subset, seed=settings.seed)
    net = LearnedGradientLSRTM(settings.layers, features=settings.features, depth=settings.depth,
                               memory=settings.memory, classical="cg", seed=settings.seed, dtype=model.dtype)  # fmt: skip
    trainer = Trainer(net, lr=settings.learning_rate, schedule="cosine", clip_norm=1.0, batch_size=1,
                      checkpoint_path=work / "checkpoint.pt", checkpoint_every=settings.checkpoint_every,
                      progress=progress, seed=settings.seed, model_loss=learned_gradient_loss(settings.data_weight))  # fmt: skip
    _claim(work, settings, problem)  # last: a setting refused above can be corrected and rerun
    if output is not None:
        Path(output).parent.mkdir(parents=True, exist_ok=True)

    def operator(v0: torch.Tensor, gen: torch.Generator) -> BornOperator:
        encoding.generator = gen  # the Trainer's generator: a resumed run draws the same
        return BornOperator(model, encoding.draw(), v0)

    with ledger.count_solves() as cost:
        sampler = _CostedSampler(velocities, backgrounds, operator, settings.noise, dtype=model.dtype,
                                 cost_path=work / "cost.json", cost=cost)  # fmt: skip
        try:
            trainer.fit(sampler, n_steps=settings.steps)
        finally:
            sampler.close()
    net.eval()
    solves = sampler.before + cost.solves
    logger.info("trained %d steps (%s supershots, %d models): %.0f wave-equation solves in all, %.0f in this run",
                trainer.step_count, kind, settings.models, solves, cost.solves)  # fmt: skip
    weights = None
    if output is not None:
        weights = save_learned(output, net, kind="learned_gradient", geometry=base)
    return SurveyTrainingResult(net, trainer.history, trainer.step_count, solves, cost.solves, kind,
                                v_range, water, weights)  # fmt: skip


def _training_range(
    problem: ShotProblem, vp: np.ndarray, settings: SurveyTraining
) -> tuple[float | None, tuple[float, float]]:
    """Water depth (m, None without water) and velocity range (m/s) of the training models."""
    depth = float(seabed_depth(vp, problem.spacing).min())
    water = depth if depth > 0 else None
    rows = round(depth / problem.spacing[1])
    if rows >= vp.shape[1] - 1:
        raise ModelError(f"the migration velocity is water down to {depth:g} m: no rock to train on")
    rock = vp[:, rows:]
    stable = STABLE_FRACTION * stability_limit(1.0, problem.spacing, problem.space_order) / problem.dt
    lo, hi = settings.velocity_range or (
        max(RANGE_MARGIN[0] * rock.min(), vp.min()),
        RANGE_MARGIN[1] * rock.max(),
    )
    hi = min(hi, stable)
    if not lo < hi:
        raise ConfigError(f"the training velocity range [{lo:.0f}, {hi:.0f}] m/s is empty: the survey's time step "
                          f"{problem.dt:g} s is stable up to {stable:.0f} m/s")  # fmt: skip
    if water is not None:  # the generator's water is exactly WATER_VELOCITY, which the range must hold
        lo = min(lo, WATER_VELOCITY)
    return water, (float(lo), float(hi))


def _training_pool(
    problem: ShotProblem, settings: SurveyTraining, water: float | None, v_range: tuple[float, float],
    data_dir: str | os.PathLike[str] | None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Training truths and their backgrounds ``(models, nx, nz)`` m/s on the survey's grid."""
    velocities, backgrounds = draw_training_velocities(
        settings.models, problem.shape, problem.spacing, seed=settings.seed,
        marmousi_fraction=settings.marmousi_fraction, water_depth=water, velocity_range=v_range,
        lengths_m=settings.smoothing_lengths, velocity_error=settings.velocity_error,
        options=GeologyOptions(salt_velocity=(v_range[1] - 0.1 * (v_range[1] - v_range[0]), v_range[1])),
        data_dir=None if data_dir is None else os.fspath(data_dir),
    )  # fmt: skip
    # Only Marmousi crops can exceed the range; the Born operators must be stable at the time step.
    velocities, backgrounds = np.clip(velocities, None, v_range[1]), np.clip(backgrounds, None, v_range[1])
    # A crop clipped flat has nothing left to image (its records J·0 are zero): drop it before any solve.
    detail = np.sqrt(((velocities - backgrounds) ** 2).mean(axis=(1, 2)))
    keep = detail >= MIN_DETAIL
    if not keep.any():
        raise ConfigError(
            f"every training model is flat within {MIN_DETAIL:g} m/s of its background after clipping to the "
            f"velocity range [{v_range[0]:.0f}, {v_range[1]:.0f}] m/s; widen velocity_range"
        )
    if not keep.all():
        logger.info("%d of %d training models have no perturbation left after clipping to %.0f m/s: dropped",
                    int((~keep).sum()), len(keep), v_range[1])  # fmt: skip
    return velocities[keep], backgrounds[keep]


def _weights_bytes(problem: ShotProblem, settings: SurveyTraining) -> int:
    """About the size of a weights file: the parameters in float32 and the survey's problem."""
    f, m = settings.features, settings.memory
    per_layer = 9 * f * (3 + m + f * (settings.depth - 2) + 1 + m) + (settings.depth - 1) * f + 1 + m
    survey = problem.reference.size + problem.wavelets.size + 2 * sum(problem.n_receivers) + problem.n_shots
    return 4 * settings.layers * per_layer + 8 * survey + 100_000


def _encoding(geometry: Geometry, settings: SurveyTraining) -> tuple[str, int | None]:
    """The supershot kind and subset size (checked against the shots' receivers)."""
    n = geometry.n_shots
    kind = settings.encoding
    if kind == "auto":
        try:
            common_receivers(geometry)
            kind = "rademacher"
        except GeometryError:
            kind = "subset"
            logger.info("the shots do not share their receivers: each step images a random subset of shots")
    subset = settings.subset
    if kind == "subset" and subset is None:
        subset = max(1, n // 4)
    if subset is not None and subset > n:
        raise ConfigError(f"subset = {subset} shots, but the survey has {n}")
    return kind, subset


def _claim(work: Path, settings: SurveyTraining, problem: ShotProblem) -> None:
    """Record the settings in ``work/training.json``, or refuse a directory holding another training."""
    survey = {"shape": list(problem.shape), "spacing": list(problem.spacing), "n_shots": problem.n_shots,
              "nt": problem.nt, "dt": problem.dt, "sources": np.round(problem.src_positions, 3).tolist()}  # fmt: skip
    claim = {"settings": settings.to_dict(), "survey": survey}
    path = work / "training.json"
    if path.exists():
        held = json.loads(path.read_text())
        if held != json.loads(json.dumps(claim)):
            differ = sorted(k for k in claim["settings"] if held["settings"].get(k) != claim["settings"][k])
            what = f"other settings ({', '.join(differ)} differ)" if differ else "another survey"
            raise ConfigError(f"{work} holds a training with {what}; use another work directory "
                              f"or delete {work} to start over")  # fmt: skip
        return
    work.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(claim, indent=1))
