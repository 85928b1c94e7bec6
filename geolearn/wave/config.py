"""One configuration object for how geolearn drives Devito: compile options and Devito's log level.

:class:`WaveConfig` holds the options that shape the generated code (``platform``, ``opt``,
``language``, ``compiler``) and the level of Devito's own logger. :func:`configure` changes it,
:func:`wave_config` reads it. The compile options are passed to every ``devito.Operator`` that
geolearn builds (they are part of the operator cache key, so a change builds new operators and
never reuses one compiled with other options); Devito's global configuration is left alone,
except for its log level.

Defaults, each overridden by the matching Devito environment variable when the user set it:

- ``language="openmp"`` (``DEVITO_LANGUAGE``): Devito's own default, plain C, would run every
  kernel on one core whatever :func:`geolearn.set_threads` says;
- ``platform``, ``opt``, ``compiler`` follow Devito (``DEVITO_PLATFORM``, ``DEVITO_OPT``,
  ``DEVITO_ARCH``; e.g. ``opt="advanced"``, the host CPU, the system C compiler);
- ``log_level="WARNING"`` (``DEVITO_LOGGING``): Devito logs ``Operator ... ran in 0.02 s`` at
  INFO for every propagation; geolearn reports its own per-propagation numbers at DEBUG on
  ``geolearn.wave.execution`` instead. A level the user set on Devito's configuration before
  geolearn first builds an operator is kept too.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any

from geolearn.errors import ConfigError

logger = logging.getLogger("geolearn.wave.config")

__all__ = ["LANGUAGES", "LOG_LEVELS", "OPT_LEVELS", "WaveConfig", "configure", "devito", "wave_config"]

#: CPU code generators geolearn supports (``"openmp"``: multi-threaded; ``"C"``: one thread).
LANGUAGES = ("openmp", "C", "CXXopenmp", "CXX")
#: Devito optimisation levels (``opt`` may also be ``(level, {option: value})``).
OPT_LEVELS = ("advanced", "noop", "advanced-fsg")
LOG_LEVELS = ("DEBUG", "PERF", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class WaveConfig:
    """How geolearn builds and runs Devito operators.

    Attributes
    ----------
    language : str or None
        Code generator, one of :data:`LANGUAGES`; None: Devito's configured language.
    platform : str or None
        Target CPU as Devito names it (``"cpu64"``, ``"skx"``, ``"amd"``, ...); None: Devito's.
    opt : str, tuple or None
        Devito optimisation level (:data:`OPT_LEVELS`) or ``(level, {option: value})``, e.g.
        ``("advanced", {"blockinner": True})``; None: Devito's.
    compiler : str or None
        Devito compiler name (``"gcc"``, ``"clang"``, ``"icx"``, ...); None: Devito's.
    log_level : str or None
        Level of Devito's own logger, one of :data:`LOG_LEVELS`; None leaves it untouched.
    """

    language: str | None = "openmp"
    platform: str | None = None
    opt: Any = None
    compiler: str | None = None
    log_level: str | None = "WARNING"

    def operator_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``devito.Operator`` (the options that are set)."""
        names = ("language", "platform", "opt", "compiler")
        kwargs = {n: getattr(self, n) for n in names if getattr(self, n) is not None}
        if isinstance(self.opt, tuple):  # stored hashable, Devito wants (level, {option: value})
            kwargs["opt"] = (self.opt[0], dict(self.opt[1]))
        return kwargs


def _freeze_opt(opt: Any) -> Any:
    """``opt`` in a hashable form (it is part of the operator cache key)."""
    if opt is None or isinstance(opt, str):
        return opt
    if isinstance(opt, (tuple, list)) and len(opt) == 2 and isinstance(opt[1], dict):
        return (opt[0], tuple(sorted(opt[1].items())))
    if isinstance(opt, tuple) and len(opt) == 2 and isinstance(opt[1], tuple):
        return opt
    raise ConfigError(f"opt must be one of {OPT_LEVELS} or (level, {{option: value}}), got {opt!r}")


def _validate(config: WaveConfig) -> WaveConfig:
    from devito.arch import compiler_registry, platform_registry

    if config.language is not None and config.language not in LANGUAGES:
        raise ConfigError(f"language must be one of {LANGUAGES} or None, got {config.language!r}")
    if config.platform is not None and config.platform not in platform_registry:
        raise ConfigError(
            f"platform must be one of {sorted(platform_registry)} or None, got {config.platform!r}"
        )
    if config.compiler is not None and config.compiler not in compiler_registry:
        raise ConfigError(
            f"compiler must be one of {sorted(compiler_registry)} or None, got {config.compiler!r}"
        )
    if config.log_level is not None and config.log_level not in LOG_LEVELS:
        raise ConfigError(f"log_level must be one of {LOG_LEVELS} or None, got {config.log_level!r}")
    opt = _freeze_opt(config.opt)
    level = opt if opt is None or isinstance(opt, str) else opt[0]
    if level is not None and level not in OPT_LEVELS:
        raise ConfigError(f"opt level must be one of {OPT_LEVELS}, got {level!r}")
    return dataclasses.replace(config, opt=opt)


def _from_environment() -> WaveConfig:
    """Defaults, where the user's Devito environment variables win over geolearn's choices."""
    env = os.environ
    return WaveConfig(
        language=None if "DEVITO_LANGUAGE" in env else "openmp",
        log_level=None if "DEVITO_LOGGING" in env else "WARNING",
    )


_CONFIG: WaveConfig | None = None
_DEVITO_READY = False


def wave_config() -> WaveConfig:
    """The configuration in force (defaults from the environment until :func:`configure` is called)."""
    global _CONFIG
    if _CONFIG is None:
        _CONFIG = _from_environment()
    return _CONFIG


def configure(**options: Any) -> WaveConfig:
    """Change how geolearn builds Devito operators; unspecified fields keep their value.

    Parameters
    ----------
    **options
        Fields of :class:`WaveConfig`: ``language``, ``platform``, ``opt``, ``compiler``,
        ``log_level``.

    Returns
    -------
    WaveConfig
        The new configuration. Operators built afterwards use it; operators already built
        with other compile options stay cached under their own key.

    Raises
    ------
    ConfigError
        An unknown field or a value Devito does not accept (the message lists the valid ones).

    Examples
    --------
    >>> from geolearn.wave import configure
    >>> configure(opt=("advanced", {"blockinner": True}), log_level="INFO")  # doctest: +SKIP
    """
    fields = {f.name for f in dataclasses.fields(WaveConfig)}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise ConfigError(f"unknown WaveConfig fields {unknown}; valid: {sorted(fields)}")
    global _CONFIG
    _CONFIG = _validate(dataclasses.replace(wave_config(), **options))
    if _DEVITO_READY and "log_level" in options:
        _apply_log_level(_CONFIG.log_level, explicit=True)
    logger.debug("wave configuration: %s", _CONFIG)
    return _CONFIG


def _apply_log_level(level: str | None, explicit: bool) -> None:
    import devito as dv

    # Devito's default is INFO; any other level was set by the user before geolearn
    # imported Devito and is kept, unless configure(log_level=...) asks otherwise.
    if level is not None and (explicit or dv.configuration["log-level"] == "INFO"):
        dv.configuration["log-level"] = level


def devito() -> Any:
    """Import Devito with geolearn's log level applied (once); every wave module imports it here.

    The first import runs on a thread of its own. Devito keeps the exception of an optional
    import that failed (``mpi4py``'s, as ``MPI.init_error``), and an exception's traceback pins
    every frame of the stack that imported it, with their locals: imported from inside the
    first propagation, that was the first shot's wavefield store, for the life of the process.
    A fresh thread's stack holds nothing of the caller's.
    """
    global _DEVITO_READY
    if "devito" not in sys.modules:
        importer = threading.Thread(target=importlib.import_module, args=("devito",), name="devito-import")
        importer.start()
        importer.join()
    import devito as dv  # the import error, if any, is raised here, in the caller's stack

    if not _DEVITO_READY:
        _apply_log_level(wave_config().log_level, explicit=False)
        _DEVITO_READY = True
    return dv
