"""Supervised training of learned schemes on pairs ``(y, x*)``: Adam, schedules, clipping,
stage-wise (layer-by-layer) training, validation NMSE in dB, checkpoints, tqdm progress.

Checkpoints hold tensors, numbers, strings and lists only: they are written atomically
(:func:`geolearn.atomic.atomic_path`) and read with ``torch.load(weights_only=True)``, so a
checkpoint file cannot run code.

Training over many operators: a sampler may return ``(y, x*, operator)`` batches, several per step.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from geolearn.atomic import atomic_path
from geolearn.errors import ConfigError, ConvergenceError, ShapeError
from geolearn.learned.checkpoints import check_checkpoint_fits
from geolearn.operators import LinearOperator

__all__ = ["Batch", "Loss", "ModelLoss", "Sampler", "Trainer", "TrainingHistory", "mse_loss", "nmse_db"]

log = logging.getLogger("geolearn.learned.training")

Pairs = tuple[torch.Tensor, torch.Tensor]
#: ``(y, x*)``, or ``(y, x*, operator)``: the operator of this batch replaces the trainer's.
Batch = Pairs | tuple[torch.Tensor, torch.Tensor, LinearOperator]
#: ``sampler(batch_size, generator)``: a batch, or a list of batches whose losses a step averages,
#: back-propagating each on its own (memory holds one batch's graph).
Sampler = Callable[[int, torch.Generator], Batch | list[Batch]]
#: ``loss(estimate, target, y) -> scalar``: the data ``y`` is passed so a loss can measure data fit.
Loss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
#: ``loss(model, y, operator, target) -> scalar``: a loss that runs the model itself (e.g. on its
#: intermediate iterates); ``operator`` is the batch's (None without one).
ModelLoss = Callable[[nn.Module, torch.Tensor, LinearOperator | None, torch.Tensor], torch.Tensor]


def mse_loss(estimate: torch.Tensor, target: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The default training loss: mean squared error of the estimate (``y`` unused)."""
    return torch.nn.functional.mse_loss(estimate, target)


def nmse_db(estimate: torch.Tensor, target: torch.Tensor) -> float:
    """Normalised mean squared error in dB: ``10 log10(Σ‖x̂ − x‖² / Σ‖x‖²)`` over the batch."""
    if estimate.shape != target.shape:
        raise ShapeError(f"estimate {tuple(estimate.shape)} and target {tuple(target.shape)} differ in shape")
    err = float((estimate - target).double().pow(2).sum())
    ref = float(target.double().pow(2).sum())
    if ref == 0:
        raise ValueError("target is identically zero; NMSE is undefined")
    return 10 * math.log10(max(err, 1e-300) / ref)


@dataclass
class TrainingHistory:
    """Losses and validation NMSE recorded during training (plain lists, JSON-friendly)."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_nmse_db: list[float] = field(default_factory=list)
    stages: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, list]:
        return asdict(self)


class Trainer:
    """Train a model mapping data ``y`` to estimates of ``x*`` with Adam (MSE loss by default).

    Parameters
    ----------
    model : nn.Module
        Any module ``model(y) -> x̂``, or ``model(y, operator) -> x̂`` when ``operator`` is given
        (every :class:`IterationMap` and :class:`DEQ`); schemes also accept ``n_layers`` (used by
        stage-wise training).
    operator : LinearOperator, optional
        The forward operator passed to every model call (the network itself stores none).
    forward_kwargs : dict, optional
        Extra keyword arguments of every model call, e.g. ``{"lipschitz": L}``.
    lr : float
        Adam learning rate.
    schedule : {None, "cosine", "step"}
        Learning-rate schedule over each call's steps (step: ×0.1 at 50 % and 75 %).
    clip_norm : float, optional
        Clip the global gradient norm to this value.
    batch_size : int
        Mini-batch size.
    val_every : int
        Validate every this many steps (and at the end).
    checkpoint_path : str or Path, optional
        Write a checkpoint (model, optimiser, step, history) there every ``checkpoint_every``
        steps and at the end, atomically; :meth:`fit` resumes from it when it exists.
    checkpoint_every : int
    settings : dict, optional
        The run's settings (JSON values: numbers, strings, booleans, None, lists, dicts), stored
        in checkpoints: loading one written with other settings, or for a model of other
        parameter names or shapes, raises :class:`~geolearn.errors.ConfigError`.
    progress : bool
        Show a tqdm progress bar (set False to silence).
    seed : int
        Seed of mini-batch selection / sampling.
    loss : callable, optional
        ``loss(estimate, target, y) -> scalar`` (see :data:`Loss`); default :func:`mse_loss`.
        Validation always reports the NMSE of the estimate.
    model_loss : callable, optional
        ``model_loss(model, y, operator, target) -> scalar`` (see :data:`ModelLoss`), used instead
        of calling the model and ``loss`` (so with neither ``forward_kwargs`` nor ``n_layers``).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        operator: LinearOperator | None = None,
        forward_kwargs: dict[str, Any] | None = None,
        lr: float = 1e-3,
        schedule: str | None = None,
        clip_norm: float | None = None,
        batch_size: int = 64,
        val_every: int = 100,
        checkpoint_path: str | Path | None = None,
        checkpoint_every: int = 500,
        progress: bool = True,
        seed: int = 0,
        loss: Loss = mse_loss,
        model_loss: ModelLoss | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        if schedule not in (None, "cosine", "step"):
            raise ConfigError(f"schedule must be None, 'cosine' or 'step', got {schedule!r}")
        if not lr > 0 or batch_size < 1 or val_every < 1 or checkpoint_every < 1:
            raise ConfigError(
                f"need lr > 0, batch_size ≥ 1, val_every ≥ 1, checkpoint_every ≥ 1; got lr={lr}, "
                f"batch_size={batch_size}, val_every={val_every}, checkpoint_every={checkpoint_every}"
            )
        if clip_norm is not None and not clip_norm > 0:
            raise ConfigError(f"clip_norm must be positive or None, got {clip_norm}")
        if not callable(loss):
            raise ConfigError(f"loss must be callable (estimate, target, y) -> scalar, got {loss!r}")
        if operator is not None and not isinstance(operator, LinearOperator):
            raise TypeError(f"operator must be a geolearn LinearOperator, got {type(operator).__name__}")
        if model_loss is not None and (not callable(model_loss) or loss is not mse_loss or forward_kwargs):
            raise ConfigError(
                "model_loss must be callable (model, y, operator, target) -> scalar and replaces loss and "
                f"forward_kwargs; got model_loss={model_loss!r}, loss={loss!r}, forward_kwargs={forward_kwargs!r}"
            )
        try:  # stored as plain data, compared after the same round trip a checkpoint makes
            self.settings = (
                json.loads(json.dumps(settings, allow_nan=False)) if settings is not None else None
            )
        except (TypeError, ValueError) as err:
            raise ConfigError(f"settings must hold JSON values only (got {settings!r}): {err}") from err
        self.model, self.lr, self.schedule, self.clip_norm = model, float(lr), schedule, clip_norm
        self.operator, self.forward_kwargs = operator, dict(forward_kwargs or {})
        self.loss, self.model_loss = loss, model_loss
        self.batch_size, self.val_every = int(batch_size), int(val_every)
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
        self.checkpoint_every, self.progress = int(checkpoint_every), bool(progress)
        self.generator = torch.Generator().manual_seed(seed)
        self.history = TrainingHistory()
        self.step_count = 0

    # ------------------------------------------------------------------ evaluation
    def predict(
        self, y: torch.Tensor, n_layers: int | None = None, operator: LinearOperator | None = None
    ) -> torch.Tensor:
        """The model's estimate for data ``y`` (with ``operator``, default the trainer's, and its call arguments)."""
        kwargs = dict(self.forward_kwargs)
        if n_layers is not None:
            kwargs["n_layers"] = n_layers
        operator = operator if operator is not None else self.operator
        args = (y,) if operator is None else (y, operator)
        return self.model(*args, **kwargs)

    @torch.no_grad()
    def evaluate(self, val: Pairs, *, n_layers: int | None = None, batch_size: int = 1000) -> float:
        """Validation NMSE (dB) of the model on pairs ``(y, x*)``, evaluated in chunks."""
        y, x = val
        was_training = self.model.training
        self.model.eval()
        try:
            est = torch.cat(
                [self.predict(y[i : i + batch_size], n_layers) for i in range(0, len(y), batch_size)]
            )
        finally:
            self.model.train(was_training)
        return nmse_db(est, x)

    # ------------------------------------------------------------------ training
    def fit(
        self,
        train: Pairs | Sampler,
        val: Pairs | None = None,
        *,
        n_steps: int,
        n_layers: int | None = None,
        lr: float | None = None,
        stage: int = 0,
    ) -> TrainingHistory:
        """Run ``n_steps`` Adam steps on mini-batches of ``train``.

        Parameters
        ----------
        train : (y, x*) tensors or :data:`Sampler`
            A fixed training set (mini-batches drawn with replacement) or a sampler of fresh
            batches, ``(batch_size, generator) -> (y, x*)``, ``(y, x*, operator)`` or a list of them.
        val : (y, x*), optional
            Validation pairs for NMSE in dB.
        n_steps : int
        n_layers : int, optional
            Train the first ``n_layers`` layers only (forwarded to the model).
        lr : float, optional
            Learning rate for this call (default: the trainer's). Without a ``schedule`` it also
            replaces the rate of a resumed optimiser, so that a caller can lower it call by call.
        stage : int
            Stage label stored in the history.
        """
        if n_steps < 1:
            raise ConfigError(f"n_steps must be positive, got {n_steps}")
        if n_layers is not None and self.model_loss is not None:
            raise ConfigError(
                f"n_layers={n_layers} cannot be forwarded through model_loss, which runs the model"
            )
        sample = train if callable(train) else self._batcher(train)
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise ConfigError("the model has no trainable parameters")
        lr = None if lr is None else float(lr)  # a NumPy rate would make the checkpoint unloadable
        opt = torch.optim.Adam(params, lr=lr if lr is not None else self.lr)
        sched = self._scheduler(opt, n_steps)
        start = self._maybe_resume(opt, sched, stage)
        if start is None:  # the checkpoint is from a later stage: this one is already done
            return self.history
        if lr is not None and sched is None:
            for group in opt.param_groups:
                group["lr"] = lr
        bar = tqdm(range(start, n_steps), disable=not self.progress, desc=f"train stage {stage}", leave=False)
        self.model.train()
        for i in bar:
            batch = sample(self.batch_size, self.generator)
            opt.zero_grad(set_to_none=True)
            loss = self._backward(batch, n_layers)
            if self.clip_norm is not None:
                nn.utils.clip_grad_norm_(params, self.clip_norm)
            opt.step()
            if sched is not None:
                sched.step()
            self.step_count += 1
            self.history.steps.append(self.step_count)
            self.history.train_loss.append(loss)
            self.history.stages.append(stage)
            last = i == n_steps - 1
            if val is not None and ((i + 1) % self.val_every == 0 or last):
                db = self.evaluate(val, n_layers=n_layers)
                self.history.val_steps.append(self.step_count)
                self.history.val_nmse_db.append(db)
                bar.set_postfix(val_nmse_db=f"{db:.2f}")
                log.debug(
                    "step %d loss %.3e val NMSE %.2f dB", self.step_count, self.history.train_loss[-1], db
                )
            if self.checkpoint_path is not None and ((i + 1) % self.checkpoint_every == 0 or last):
                self.save_checkpoint(self.checkpoint_path, opt, sched, i + 1, stage)
        return self.history

    def fit_stagewise(
        self,
        train: Pairs | Sampler,
        val: Pairs | None = None,
        *,
        steps_per_stage: int,
        refine_lr_factors: tuple[float, ...] = (0.2, 0.02),
    ) -> TrainingHistory:
        """Layer-by-layer training as in the LISTA-CP literature.

        Stage ``k`` (1..K) trains the first ``k`` layers to minimise the error of ``x_k``: first at
        the base learning rate, then once per factor in ``refine_lr_factors`` at ``lr·factor``.
        The model must accept ``n_layers`` (every :class:`IterationMap` does).
        """
        K = getattr(self.model, "n_layers", None)
        if not isinstance(K, int):
            raise ConfigError("stage-wise training needs a model with an integer n_layers attribute")
        stage = 0
        for k in range(1, K + 1):
            for factor in (1.0, *refine_lr_factors):
                stage += 1
                self.fit(train, val, n_steps=steps_per_stage, n_layers=k, lr=self.lr * factor, stage=stage)
        return self.history

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(
        self,
        path: str | Path,
        opt: torch.optim.Optimizer | None = None,
        sched: torch.optim.lr_scheduler.LRScheduler | None = None,
        call_step: int = 0,
        stage: int = 0,
    ) -> Path:
        """Write model/optimiser/scheduler state, step counters and history to ``path`` atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "model": self.model.state_dict(),
            "optimizer": opt.state_dict() if opt is not None else None,
            "scheduler": sched.state_dict() if sched is not None else None,
            "step_count": self.step_count,
            "call_step": call_step,
            "stage": stage,
            "history": self.history.to_dict(),
            "generator": self.generator.get_state(),
            "settings": self.settings,
        }
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
        return path

    def load_checkpoint(self, path: str | Path) -> dict:
        """Restore model weights, counters, history and RNG state; return the raw checkpoint.

        The file is read as data (``weights_only=True``): tensors, numbers, strings, lists, dicts.
        A checkpoint of other settings or for another model raises :class:`ConfigError` before
        anything is restored.
        """
        state = torch.load(Path(path), weights_only=True)
        check_checkpoint_fits(state, self.settings, self.model, Path(path))
        self.model.load_state_dict(state["model"])
        self.step_count = state["step_count"]
        self.history = TrainingHistory(**state["history"])
        self.generator.set_state(state["generator"])
        return state

    # ------------------------------------------------------------------ internals
    def _backward(self, batch: Batch | list[Batch], n_layers: int | None) -> float:
        """Back-propagate the step's loss, the mean over its batches (one graph at a time); return it."""
        parts = batch if isinstance(batch, list) else [batch]
        if not parts:
            raise ConfigError("the sampler returned an empty list of batches")
        total = 0.0
        for y, x, *operator in parts:
            op = operator[0] if operator else self.operator
            if self.model_loss is not None:
                value = self.model_loss(self.model, y, op, x)
            else:
                value = self.loss(self.predict(y, n_layers, op), x, y)
            value = value / len(parts)
            if not torch.isfinite(value):
                raise ConvergenceError(
                    f"training loss became {float(value.detach())} at step {self.step_count}"
                )
            value.backward()
            total += float(value.detach())
        return total

    def _maybe_resume(self, opt, sched, stage: int) -> int | None:
        path = self.checkpoint_path
        if path is None or not path.exists():
            return 0
        state = self.load_checkpoint(path)
        if state["stage"] > stage:
            return None
        if state["stage"] < stage:
            return 0
        if state["optimizer"] is not None:
            opt.load_state_dict(state["optimizer"])
        if sched is not None and state["scheduler"] is not None:
            sched.load_state_dict(state["scheduler"])
        log.info("resumed from %s at step %d", path, state["call_step"])
        return int(state["call_step"])

    def _scheduler(self, opt, n_steps: int):
        if self.schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=n_steps)
        if self.schedule == "step":
            milestones = [max(1, n_steps // 2), max(1, (3 * n_steps) // 4)]
            return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
        return None

    def _batcher(self, data: Pairs) -> Sampler:
        y, x = data
        if len(y) != len(x) or len(y) == 0:
            raise ShapeError(
                f"training inputs ({len(y)}) and targets ({len(x)}) must be non-empty and equal in number"
            )

        def sample(n: int, gen: torch.Generator) -> Pairs:
            idx = torch.randint(len(y), (n,), generator=gen)
            return y[idx], x[idx]

        return sample
