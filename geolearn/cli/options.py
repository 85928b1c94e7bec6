"""Options and helpers shared by the ``geolearn`` sub-commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

__all__ = [
    "client_for",
    "overrides",
    "parallel_options",
    "progress",
    "read_velocity",
    "set_option",
    "velocity_options",
]


def progress(ctx: click.Context) -> bool:
    """Whether bars may show: not with ``geolearn -q``."""
    return not ctx.obj.get("quiet", False)


def parallel_options(f: Any) -> Any:
    """``--scheduler ADDRESS`` and ``--workers N``."""
    f = click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="Run shots on an existing Dask scheduler (tcp://host:port).")(f)  # fmt: skip
    f = click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Shots in parallel on a local Dask cluster of this many worker processes (1 = serial).")(f)  # fmt: skip
    return f


def client_for(workers: int, scheduler: str | None) -> str | None:
    """The ``client`` argument of the workflows for ``--workers``/``--scheduler``."""
    if scheduler:
        return scheduler
    return "local" if workers > 1 else None


def velocity_options(f: Any) -> Any:
    """``--unit``, ``--spacing DX DZ`` and ``--shape NX NZ`` of a velocity file."""
    f = click.option("--unit", type=click.Choice(["m/s", "km/s"]), default="m/s", show_default=True,
                     help="Unit of the velocity file's values.")(f)  # fmt: skip
    f = click.option("--spacing", type=float, nargs=2, default=None, metavar="DX DZ",
                     help="Grid spacing in metres (required for raw binary; SEG-Y models carry it).")(f)  # fmt: skip
    f = click.option("--shape", type=int, nargs=2, default=None, metavar="NX NZ",
                     help="Grid shape of a raw binary velocity file (x slow, z fast).")(f)  # fmt: skip
    return f


def read_velocity(
    path: Path, shape: tuple[int, int] | None, spacing: tuple[float, float] | None, unit: str
) -> Any:
    """The velocity model of ``path`` (:func:`geolearn.io.read_model`)."""
    from geolearn.io import read_model

    return read_model(path, shape=shape, spacing=spacing, unit=unit)


set_option = click.option(
    "--set", "settings", multiple=True, metavar="SECTION.KEY=VALUE",
    help="Override a configuration value (TOML syntax), e.g. --set fwi.iterations=3; repeatable.",
)  # fmt: skip


def overrides(ctx: click.Context, settings: tuple[str, ...]) -> dict[str, Any]:
    """Configuration overrides from ``--set`` (and ``run.progress = false`` under ``-q``).

    Without ``-q`` the configuration's own ``run.progress`` decides whether bars show.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    out: dict[str, Any] = {} if progress(ctx) else {"run.progress": False}
    for item in settings:
        key, sep, text = item.partition("=")
        if not sep:
            raise click.UsageError(f"--set {item!r} must look like section.key=value, e.g. fwi.iterations=3")
        try:
            out[key.strip()] = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = text  # a bare word: take it as a string
    return out
