"""Training one learned LSRTM network over many backgrounds: a Born operator per training model.

A user migrates with *their* background velocity, which no training set contains. Because the
learned schemes take their operator at call time (``net(y, J)``), one network can be trained
over many backgrounds and applied to the user's: each training model gets the migration
background a user would have for it (:func:`~geolearn.learned_inversion.training_models.migration_backgrounds`,
the truth smoothed over a length drawn per model) and its own Born operator ``J_i`` at that
background; the target is the perturbation ``x_i = v_i − v0_i`` (m/s) and the data
``y_i = J_i x_i`` (plus noise). The true models come from the geological generator
(:mod:`~geolearn.learned_inversion.training_models.geology`) and, optionally, augmented Marmousi crops from
outside the evaluation regions (:mod:`~geolearn.learned_inversion.training_models.marmousi_augment`).

- :func:`draw_training_velocities`: true velocities and one migration background each.
- :func:`born_training_sets`: one :class:`BornTrainingSet` (operator and pairs) per background.
- :func:`train_over_operators`: Adam on :func:`~geolearn.learned_inversion.lsrtm.lsrtm_loss`, each
  sample imaged with its own operator (any ``net(y, J)``: learned gradient, unrolled ISTA), run by
  :class:`~geolearn.learned.Trainer`: checkpointed, and resumed by a call with the same arguments.

Cost of training: every sample of a mini-batch runs the network with its operator forward and
backward, so a step costs the network's J/Jᵀ count twice (plus one J and one Jᵀ for the data
term) per sample. Each set's operator counts its own applications (``set.J.applications``, every
LinearOperator's) and the wave-equation solves they cost are in the cost ledger
(:func:`geolearn.ledger.count_solves`; :func:`train_over_operators` logs them).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from geolearn import ledger
from geolearn.errors import ConfigError, ShapeError
from geolearn.learned import Trainer, TrainingHistory
from geolearn.learned_inversion.born_sampler import add_relative_noise
from geolearn.learned_inversion.learned_gradient import NetworkLoss
from geolearn.learned_inversion.lsrtm import lsrtm_loss
from geolearn.learned_inversion.training_models.backgrounds import migration_backgrounds
from geolearn.learned_inversion.training_models.geology import GeologyOptions, geological_models
from geolearn.learned_inversion.training_models.marmousi_augment import marmousi_training_crops
from geolearn.operators import LinearOperator
from geolearn.wave import BornOperator, Geometry, Model

__all__ = ["BornTrainingSet", "born_training_sets", "draw_training_velocities", "train_over_operators"]

logger = logging.getLogger("geolearn.learned_inversion.background_training")


@dataclass
class BornTrainingSet:
    """Training pairs imaged by one operator.

    Attributes
    ----------
    J : LinearOperator
        Born operator at this set's background (domain ``(nx, nz)`` m/s).
    y : Tensor ``(n, *J.range_shape)``
        Records.
    x : Tensor ``(n, nx, nz)``
        Target perturbations, m/s.
    """

    J: LinearOperator
    y: torch.Tensor
    x: torch.Tensor


def draw_training_velocities(
    n: int,
    shape: Sequence[int],
    spacing: Sequence[float],
    *,
    seed: int = 0,
    marmousi_fraction: float = 0.0,
    water_depth: float | None = None,
    velocity_range: tuple[float, float] = (1500.0, 4800.0),
    lengths_m: Sequence[float] = (50.0, 100.0, 200.0, 400.0),
    velocity_error: float = 0.0,
    options: GeologyOptions | None = None,
    data_dir: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` true velocities and a migration background for each, both ``(n, nx, nz)`` m/s float64.

    ``round(n · marmousi_fraction)`` models are Marmousi training crops (they need the Marmousi
    file: ``data_dir`` or ``GEOLEARN_DATA_DIR``), the others geological models in
    ``velocity_range``; model ``i``'s background is it smoothed in slowness over one of
    ``lengths_m`` (m, drawn per model) with a smooth relative error of RMS ``velocity_error``.
    ``water_depth`` (m) puts exact water on top of every model and keeps it in the backgrounds;
    ``options`` tunes the geology (e.g. the salt velocity, which must lie in ``velocity_range``).
    """
    if not 0 <= marmousi_fraction <= 1:
        raise ConfigError(f"marmousi_fraction must lie in [0, 1], got {marmousi_fraction}")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"n must be a positive number of models, got {n!r}")
    n_marmousi = round(n * marmousi_fraction)
    parts = []
    if n_marmousi < n:
        parts.append(geological_models(n - n_marmousi, shape, spacing, seed=seed, water_depth=water_depth,
                                       velocity_range=velocity_range, options=options))  # fmt: skip
    if n_marmousi:
        crops = marmousi_training_crops(n_marmousi, shape, spacing, seed=seed, water_depth=water_depth,
                                        data_dir=data_dir)  # fmt: skip
        parts.append(crops.velocity)
    velocities = np.concatenate(parts)
    # (n, len(lengths_m), nx, nz): every smoothing length, one of which each model keeps
    smoothed = migration_backgrounds(
        velocities, spacing, lengths_m, seed=seed, water_depth=water_depth, velocity_error=velocity_error
    )
    choice = np.random.default_rng(seed).integers(len(lengths_m), size=n)
    return velocities, smoothed[np.arange(n), choice]


def born_training_sets(
    model: Model,
    geometry: Geometry,
    velocities: np.ndarray | torch.Tensor,
    backgrounds: np.ndarray | torch.Tensor,
    *,
    noise: float = 0.0,
    seed: int = 0,
) -> list[BornTrainingSet]:
    """One :class:`BornTrainingSet` per model: ``J_i`` at ``backgrounds[i]``, ``x_i = v_i − v0_i``, ``y_i = J_i x_i``.

    Parameters
    ----------
    model, geometry : Model, Geometry
        Grid, propagation settings and acquisition shared by all sets (the time step must be
        stable for the largest background velocity).
    velocities, backgrounds : array ``(N, nx, nz)``
        True and background velocities, m/s (e.g. from :func:`draw_training_velocities`).
    noise : float
        Relative Gaussian noise added to each record, ``‖n_i‖ = noise · ‖J_i x_i‖`` (seeded).

    Returns
    -------
    list of BornTrainingSet
        One per model; each ``J_i`` has been applied once (its data: ``J_i.applications`` reads
        ``{"forward": 1, "adjoint": 0}``) and keeps its background wavefields while they fit its
        cache budget, so a training step applying it later costs 1 solve per shot and application.
    """
    v = torch.as_tensor(np.asarray(velocities), dtype=model.dtype)
    v0 = torch.as_tensor(np.asarray(backgrounds), dtype=model.dtype)
    if v.shape != v0.shape or v.ndim != 3 or tuple(v.shape[1:]) != tuple(model.shape):
        raise ShapeError(
            f"velocities {tuple(v.shape)} and backgrounds {tuple(v0.shape)} must both be (N, "
            f"{', '.join(map(str, model.shape))})"
        )
    if not noise >= 0:
        raise ConfigError(f"noise must be >= 0 (relative to the records' norm), got {noise}")
    gen = torch.Generator().manual_seed(seed)
    sets = []
    for vi, v0i in zip(v, v0):
        J = BornOperator(model, geometry, v0i)
        x = (vi - v0i)[None]
        with torch.no_grad():
            y = J(x)
        if noise > 0:
            y = add_relative_noise(y, noise, gen)
        sets.append(BornTrainingSet(J, y, x))
    return sets


def train_over_operators(
    net: nn.Module,
    sets: Sequence[BornTrainingSet],
    *,
    loss: NetworkLoss | None = None,
    data_weight: float = 0.3,
    n_steps: int = 50,
    lr: float = 1e-3,
    batch_size: int = 4,
    clip_norm: float | None = 1.0,
    schedule: str | None = "cosine",
    seed: int = 0,
    progress: bool = True,
    checkpoint_path: str | Path | None = None,
    checkpoint_every: int = 10,
) -> TrainingHistory:
    """Adam on the mean training loss of samples drawn over all sets (default :func:`lsrtm_loss`).

    Each step draws ``batch_size`` samples uniformly (with replacement) over all pairs of all
    sets, runs ``net(y, J)`` with each sample's own operator and back-propagates through every
    J and Jᵀ (one sample at a time, so memory holds one sample's graph). The steps are those of
    a :class:`~geolearn.learned.Trainer` (one batch per sample), which also writes and resumes
    the checkpoints.

    Parameters
    ----------
    net : nn.Module
        Any ``net(y, J) -> (B, nx, nz)``.
    sets : sequence of BornTrainingSet
    loss : callable, optional
        ``loss(net, y, J, x) -> scalar`` for one sample (e.g.
        :func:`~geolearn.learned_inversion.learned_gradient.learned_gradient_loss`); default
        ``lsrtm_loss(J, data_weight)(net(y, J), x, y)``.
    data_weight : float
        Weight ``w`` of the relative data misfit in the default loss (0: image error only).
    n_steps, lr, batch_size, clip_norm, seed
        Adam settings (``clip_norm``: global gradient-norm clip, None for none).
    schedule : {"cosine", None}
        Learning rate decayed to zero over the steps along a half cosine (settled final weights:
        the safeguard's decisions depend on small misfit differences), or constant.
    progress : bool
        tqdm bar (False silences it).
    checkpoint_path : str or Path, optional
        Checkpoint file (weights, Adam and schedule state, random stream, history, settings),
        written atomically every ``checkpoint_every`` steps and at the end. When it exists, a
        call with the same arguments resumes from it and ends with the weights and history of
        an uninterrupted run; one written with other settings (steps, rates, batch, seed, loss,
        set sizes) or for another network raises :class:`~geolearn.errors.ConfigError` before
        any wave solve. A custom ``loss`` is not recorded: resume with the same one.
    checkpoint_every : int
        Steps between checkpoints (each step costs ``batch_size`` samples' wave solves).

    Returns
    -------
    TrainingHistory
        Per-step mean loss (from the first step, also when resumed). The J/Jᵀ applications are
        counted by the sets' operators (``set.J.applications``); the wave-equation solves of
        this call, measured with the cost ledger, are logged at INFO.
    """
    if not sets:
        raise ConfigError("sets is empty: give at least one BornTrainingSet")
    if n_steps < 1 or batch_size < 1 or not lr > 0:
        raise ConfigError(f"need n_steps >= 1, batch_size >= 1 and lr > 0; got {n_steps}, {batch_size}, {lr}")
    if schedule not in ("cosine", None):
        raise ConfigError(f"schedule must be 'cosine' or None, got {schedule!r}")
    # what a checkpoint must have been written with (a custom loss cannot be compared: named only)
    settings = {"n_steps": int(n_steps), "lr": float(lr), "batch_size": int(batch_size), "seed": int(seed),
                "clip_norm": None if clip_norm is None else float(clip_norm), "schedule": schedule,
                "set_sizes": [len(ts.y) for ts in sets],
                "loss": "custom" if loss is not None else f"lsrtm_loss(data_weight={data_weight})"}  # fmt: skip
    if loss is None:
        if not data_weight >= 0:
            raise ConfigError(f"data_weight must be >= 0, got {data_weight}")

        def loss(net: nn.Module, y: torch.Tensor, J: LinearOperator, x: torch.Tensor) -> torch.Tensor:
            return lsrtm_loss(J, data_weight)(net(y, J), x, y)

    index = [(s, i) for s, ts in enumerate(sets) for i in range(len(ts.y))]

    def samples(n: int, gen: torch.Generator) -> list[tuple[torch.Tensor, torch.Tensor, LinearOperator]]:
        draws = (index[j] for j in torch.randint(len(index), (n,), generator=gen).tolist())
        return [(sets[s].y[i : i + 1], sets[s].x[i : i + 1], sets[s].J) for s, i in draws]

    trainer = Trainer(net, lr=lr, schedule=schedule, clip_norm=clip_norm, batch_size=batch_size,
                      checkpoint_path=checkpoint_path, checkpoint_every=checkpoint_every, progress=progress,
                      seed=seed, model_loss=loss, settings=settings)  # fmt: skip
    with ledger.count_solves() as cost:
        history = trainer.fit(samples, n_steps=n_steps)
    logger.info("trained %d steps over %d operators: loss %.4g -> %.4g, %.0f wave-equation solves in this call",
                n_steps, len(sets), history.train_loss[0], history.train_loss[-1], cost.solves)  # fmt: skip
    return history
