"""The ``geolearn`` command.

Every sub-command calls public functions of the library; these modules only parse arguments,
report progress and turn errors into a one-line reason with a non-zero exit status (the full
traceback is shown with ``geolearn --debug ...``). Log lines go to stderr through
``tqdm.write`` while a command runs, so they never land inside a progress bar.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click
from tqdm.contrib.logging import logging_redirect_tqdm

from geolearn.cli.run_commands import demo, fwi, resume, run_config
from geolearn.cli.survey_commands import inspect, migrate, model
from geolearn.cli.train_commands import train_lsrtm
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
    # The command owns the process's logging: replace handlers a previous command (or an
    # embedding program) left pointing at another stream.
    logging.basicConfig(
        level=logging.DEBUG if debug else (logging.WARNING if quiet else logging.INFO),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    ctx.with_resource(logging_redirect_tqdm())


for _command in (demo, inspect, model, migrate, train_lsrtm, fwi, run_config, resume):
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    main()
