"""Run directories: the configuration that started a run and its latest state.

See :mod:`geolearn.io.state` for the state file and the resume contract.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import tomli_w

from geolearn.atomic import atomic_path, stale_temporaries
from geolearn.errors import ConfigError
from geolearn.io.state import STATE_FILE, load_state, save_state
from geolearn.runs.config import Config, load_config, read_toml
from geolearn.runs.schema import build_section
from geolearn.runs.sections import RunConfig

__all__ = ["CONFIG_FILE", "RunDirectory", "remove_leftovers"]

log = logging.getLogger("geolearn.runs.checkpoint")

CONFIG_FILE = "config.toml"


def _config_mapping(config: Config | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(config, Mapping):
        config = load_config(config)
    if not isinstance(config, Config):
        raise TypeError(f"config must be a geolearn Config or a mapping, got {type(config).__name__}")
    mapping = config.to_dict()
    # The stored configuration names its own directory: a run directory moved or copied elsewhere
    # still resumes, and two runs of one configuration store the same file.
    mapping["run"]["output_dir"] = "."
    return mapping


def remove_leftovers(
    directory: str | os.PathLike[str], names: Iterable[str | os.PathLike[str]]
) -> list[Path]:
    """Remove the temporary files that writes of ``names`` killed mid-way left in ``directory``.

    Only call it when no other process writes these files. Returns the files removed.
    """
    removed = []
    for name in names:
        for leftover in stale_temporaries(Path(directory) / Path(name).name):
            log.info("removing %s left by an interrupted write", leftover.name)
            leftover.unlink(missing_ok=True)
            removed.append(leftover)
    return removed


class RunDirectory:
    """A directory holding one run's configuration and its latest state.

    Use :meth:`create` to start a run and :meth:`open` to resume one.

    Parameters
    ----------
    path : str or os.PathLike
        The directory (must exist; prefer the constructors).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise FileNotFoundError(f"run directory {self.path} does not exist")

    @property
    def config_path(self) -> Path:
        """``path/config.toml``."""
        return self.path / CONFIG_FILE

    @property
    def state_path(self) -> Path:
        """``path/state.npz``."""
        return self.path / STATE_FILE

    @classmethod
    def create(
        cls, path: str | os.PathLike[str], config: Config | Mapping[str, Any], *, overwrite: bool = False
    ) -> RunDirectory:
        """Create a run directory and store the validated configuration that starts the run.

        Parameters
        ----------
        path : str or os.PathLike
            Created with its parents if missing.
        config : Config or mapping
            Validated (see :func:`geolearn.runs.config.load_config`) and written as TOML, with
            ``run.output_dir = "."`` (the directory itself: the file does not depend on where
            the run directory lies).
        overwrite : bool, default False
            Allow reusing a directory that already holds a run (its state is removed).

        Raises
        ------
        FileExistsError
            If ``path`` already holds a run and ``overwrite`` is False.
        ConfigError
            If ``config`` is invalid.
        """
        directory = Path(path)
        if (directory / CONFIG_FILE).exists() or (directory / STATE_FILE).exists():
            if not overwrite:
                raise FileExistsError(
                    f"{directory} already holds a run; resume it, choose another output directory, or pass overwrite=True"
                )
            (directory / STATE_FILE).unlink(missing_ok=True)
        mapping = _config_mapping(config)
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(directory / CONFIG_FILE) as tmp:
            tmp.write_bytes(tomli_w.dumps(mapping).encode("utf-8"))
        log.info("created run directory %s", directory)
        return cls(directory)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RunDirectory:
        """Open an existing run for resuming; removes leftovers of interrupted writes.

        Raises
        ------
        FileNotFoundError
            If ``path`` is not a directory or has no ``config.toml``.
        """
        run = cls(path)
        if not run.config_path.is_file():
            raise FileNotFoundError(f"{run.path} is not a geolearn run directory: {CONFIG_FILE} is missing")
        remove_leftovers(run.path, (STATE_FILE, CONFIG_FILE))
        return run

    def load_config(self) -> Config:
        """The validated configuration that started the run."""
        try:
            return load_config(self.config_path)
        except ConfigError as exc:
            raise ConfigError(f"{self.config_path}: {exc}") from None

    def run_settings(self) -> RunConfig:
        """The ``[run]`` section alone (validated; the run's input files need not exist any more)."""
        try:
            return build_section(RunConfig, read_toml(self.config_path).get("run", {}), "run", self.path)
        except ConfigError as exc:
            raise ConfigError(f"{self.config_path}: {exc}") from None

    @property
    def has_state(self) -> bool:
        """True once a state has been saved."""
        return self.state_path.is_file()

    def save_state(self, state: Mapping[str, Any]) -> Path:
        """:func:`save_state` into this directory."""
        return save_state(self.path, state)

    def load_state(self) -> dict[str, Any]:
        """:func:`load_state` from this directory."""
        return load_state(self.path)

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.path)!r}, has_state={self.has_state})"
