"""The ``geolearn`` command.

Every sub-command calls public functions of the library; this module only parses arguments,
reports progress and turns errors into a one-line reason with a non-zero exit status
(the full traceback is shown with ``geolearn --debug ...``).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from geolearn.errors import GeolearnError

__all__ = ["main"]

log = logging.getLogger("geolearn.cli")

# Exceptions that mean "bad input", reported in one line; anything else is a bug and keeps its traceback.
_USER_ERRORS = (GeolearnError, ValueError, FileNotFoundError, IsADirectoryError, PermissionError)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            # Keep usage problems (missing file, bad option value) to one line as well.
            name = exc.ctx.command_path if exc.ctx else "geolearn"
            hint = f" (see: {name} --help)"
            click.echo(f"geolearn: error: {exc.format_message()}{hint}", err=True)
            ctx.exit(2)
        except _USER_ERRORS as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"geolearn: error: {type(exc).__name__}: {exc}".splitlines()[0], err=True)
            ctx.exit(2)


@click.group(cls=_Group)
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars; warnings and errors only.")
@click.version_option(package_name="geolearn")
@click.pass_context
def main(ctx: click.Context, debug: bool, quiet: bool) -> None:
    """geolearn: physics-informed learned inversion with Devito wave operators in PyTorch."""
    ctx.ensure_object(dict)
    ctx.obj.update(debug=debug, quiet=quiet)
    logging.basicConfig(
        level=logging.DEBUG if debug else (logging.WARNING if quiet else logging.INFO),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _progress(ctx: click.Context) -> bool:
    return not ctx.obj.get("quiet", False)


@main.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("outputs/demo"),
    show_default=True,
    help="Directory for the demo's outputs.",
)
@click.option(
    "--kind",
    type=click.Choice(["seismic", "sparse"]),
    default="seismic",
    show_default=True,
    help="seismic: Marmousi survey -> RTM, LSRTM, FWI; sparse: ISTA vs FISTA on a LASSO problem.",
)
@click.pass_context
def demo(ctx: click.Context, output: Path, kind: str) -> None:
    """Run the demonstration and write its outputs and figures to OUTPUT."""
    from geolearn.workflows.demo import run_demo

    summary = run_demo(output, kind=kind, progress=_progress(ctx))
    click.echo(summary)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--key",
    default="field_record",
    show_default=True,
    help="Trace-header field that groups traces into shots (a name, a byte position, or source_xy).",
)
@click.option(
    "--z-positive",
    type=click.Choice(["up", "down"]),
    default="up",
    show_default=True,
    help="Sign convention of the file's elevation fields.",
)
@click.option(
    "--figures",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write acquisition.png and a shot-gather PNG into this directory.",
)
@click.option("--shot", type=int, default=0, show_default=True, help="Shot (0-based) for the gather figure.")
@click.pass_context
def inspect(
    ctx: click.Context, file: Path, key: str, z_positive: str, figures: Path | None, shot: int
) -> None:
    """Summarise the SEG-Y FILE: traces, shots, format, time axis, extents, anomalies."""
    from geolearn.io import inspect as inspect_segy

    key_arg: str | int = int(key) if key.isdigit() else key
    report = inspect_segy(file, key=key_arg, z_positive=z_positive, progress=_progress(ctx))
    click.echo(str(report))
    if figures is not None:
        for name, path in report.save_figures(figures, shot=shot).items():
            click.echo(f"{name} figure: {path}")


if __name__ == "__main__":  # pragma: no cover
    main()
