"""Whether a training checkpoint fits the trainer about to resume from it.

A :class:`~geolearn.learned.Trainer` checkpoint holds the model's weights, the optimiser and
scheduler states, counters, the loss history, the random generator's state and the trainer's
settings, as tensors, numbers, strings and lists (read with ``torch.load(weights_only=True)``).
Resuming from a checkpoint of other settings or of another model would silently train something
else; :func:`check_checkpoint_fits` refuses it, naming what differs, before anything is restored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from geolearn.errors import ConfigError

__all__ = ["check_checkpoint_fits"]


def check_checkpoint_fits(state: dict[str, Any], settings: dict | None, model: nn.Module, path: Path) -> None:
    """Refuse ``state`` (a checkpoint read from ``path``) if its settings or parameter shapes differ.

    Raises
    ------
    ConfigError
        Other settings (each differing key, there and now) or another model (up to five
        parameters whose shapes differ).
    """
    saved = state.get("settings")
    if saved != settings:
        old, new = saved or {}, settings or {}
        keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k)) or ["settings"]
        diff = "; ".join(f"{k}: {old.get(k, saved)!r} there, {new.get(k, settings)!r} now" for k in keys)
        raise ConfigError(f"checkpoint {path} was written with other settings ({diff}): rerun with "
                          "those or remove it to start afresh")  # fmt: skip
    own = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in state["model"].items()}
    if own != theirs:
        keys = sorted(k for k in own.keys() | theirs.keys() if own.get(k) != theirs.get(k))[:5]
        diff = "; ".join(f"{k}: {theirs.get(k)} there, {own.get(k)} in this model" for k in keys)
        raise ConfigError(f"checkpoint {path} holds another model (parameter shapes {diff})")
