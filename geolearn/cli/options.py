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
    "read_options",
    "read_preprocess",
    "read_velocity",
    "set_option",
    "survey_read_options",
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


def survey_read_options(f: Any) -> Any:
    """Overrides of how a SEG-Y survey's headers are read, shared by ``inspect`` and the migrations.

    Each replaces a reading :func:`geolearn.io.read_survey` would otherwise settle on evidence.
    """
    from geolearn.io.evidence import COORDINATE_UNITS

    options = [
        click.option("--coordinate-units", type=click.Choice(sorted(COORDINATE_UNITS)), default=None,
                     help="Units of the x/y coordinates (default: byte 89 unless the values say otherwise)."),
        click.option("--header", "header", multiple=True, metavar="NAME=BYTE",
                     help="Read a header value from another byte, e.g. source_x=73 or group_x=75:4; repeatable."),
        click.option("--coordinate-scalar", type=int, default=None,
                     help="Coordinate scalar for every trace instead of byte 71 (negative divides)."),
        click.option("--elevation-scalar", type=int, default=None,
                     help="Elevation scalar for every trace instead of byte 69 (negative divides)."),
        click.option("--z-positive", type=click.Choice(["up", "down"]), default=None,
                     help="Elevation fields hold elevations (up) or depths (down); default: from the headers' evidence."),
        click.option("--dt", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Sample interval in seconds, overriding the headers."),
        click.option("--polarity", type=click.Choice(["auto", "as_recorded"]), default="auto", show_default=True,
                     help="auto: flip traces found reversed against their neighbours."),
    ]  # fmt: skip
    for option in reversed(options):
        f = option(f)
    return f


def read_options(
    coordinate_units: str | None, header: tuple[str, ...], coordinate_scalar: int | None,
    elevation_scalar: int | None, z_positive: str | None, dt: float | None, polarity: str,
) -> dict[str, Any]:  # fmt: skip
    """Keyword arguments of :func:`geolearn.io.read_survey` from :func:`survey_read_options`' values."""
    from geolearn.io import HeaderMapping

    return {
        "coordinate_units": coordinate_units, "header": HeaderMapping.from_assignments(list(header)),
        "coordinate_scalar": coordinate_scalar, "elevation_scalar": elevation_scalar, "z_positive": z_positive,
        "dt": dt, "polarity": polarity,
    }  # fmt: skip


def read_preprocess(path: Path | None) -> Any:
    """The :class:`geolearn.processing.Pipeline` of the ``[[preprocess]]`` list in the TOML file ``path``.

    None without a file; a file without a ``preprocess`` list is refused.
    """
    from geolearn.processing import parse_steps
    from geolearn.runs import read_toml

    if path is None:
        return None
    steps = read_toml(path).get("preprocess")
    if not isinstance(steps, list):
        raise click.UsageError(
            f"{path} has no [[preprocess]] list of steps (e.g. [[preprocess]] step = 'bandpass')"
        )
    return parse_steps(steps)
