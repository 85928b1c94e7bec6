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
    from geolearn.cli.demo_sparse import run_demo

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


def _parallel_options(f: Any) -> Any:
    f = click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="Run shots on an existing Dask scheduler (tcp://host:port).")(f)  # fmt: skip
    f = click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Shots in parallel on a local Dask cluster of this many worker processes (1 = serial).")(f)  # fmt: skip
    return f


def _client(workers: int, scheduler: str | None) -> str | None:
    if scheduler:
        return scheduler
    return "local" if workers > 1 else None


def _velocity_options(f: Any) -> Any:
    f = click.option("--unit", type=click.Choice(["m/s", "km/s"]), default="m/s", show_default=True,
                     help="Unit of the velocity file's values.")(f)  # fmt: skip
    f = click.option("--spacing", type=float, nargs=2, default=None, metavar="DX DZ",
                     help="Grid spacing in metres (required for raw binary; SEG-Y models carry it).")(f)  # fmt: skip
    f = click.option("--shape", type=int, nargs=2, default=None, metavar="NX NZ",
                     help="Grid shape of a raw binary velocity file (x slow, z fast).")(f)  # fmt: skip
    return f


def _read_velocity(
    path: Path, shape: tuple[int, int] | None, spacing: tuple[float, float] | None, unit: str
) -> Any:
    from geolearn.io import read_model

    return read_model(path, shape=shape, spacing=spacing, unit=unit)


@main.command()
@click.argument("velocity", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Shot records to write (SEG-Y).")  # fmt: skip
@_velocity_options
@click.option("--source-spacing", type=float, default=100.0, show_default=True, help="m")
@click.option("--receiver-spacing", type=float, default=10.0, show_default=True, help="m")
@click.option("--source-depth", type=float, default=10.0, show_default=True, help="m")
@click.option("--receiver-depth", type=float, default=10.0, show_default=True, help="m")
@click.option("--record-length", type=float, default=1.0, show_default=True, help="s")
@click.option("--f0", type=float, default=10.0, show_default=True, help="Ricker peak frequency, Hz.")
@click.option("--space-order", type=int, default=8, show_default=True)
@click.option("--nbl", type=int, default=40, show_default=True, help="Absorbing layer width, grid points.")
@_parallel_options
@click.pass_context
def model(ctx: click.Context, velocity: Path, output: Path, shape: Any, spacing: Any, unit: str,
          source_spacing: float, receiver_spacing: float, source_depth: float, receiver_depth: float,
          record_length: float, f0: float, space_order: int, nbl: int, workers: int, scheduler: str | None) -> None:  # fmt: skip
    """Model a synthetic survey over the VELOCITY model (SEG-Y or raw binary) and write it as SEG-Y."""
    from geolearn.imaging import model_survey
    from geolearn.viz import save_figure

    vel = _read_velocity(velocity, shape, spacing, unit)
    result = model_survey(
        vel, source_spacing=source_spacing, receiver_spacing=receiver_spacing, source_depth=source_depth,
        receiver_depth=receiver_depth, record_length=record_length, f0=f0, space_order=space_order, nbl=nbl,
        output=output, client=_client(workers, scheduler), n_workers=workers, progress=_progress(ctx),
    )  # fmt: skip
    figure = save_figure(result.plot(), output.with_suffix(".png"))
    p = result.problem
    click.echo(f"wrote {output}: {p.n_shots} shots, {max(p.n_receivers)} receivers, nt={p.nt}, dt={p.dt:g} s")
    click.echo(f"figure: {figure}")


@main.command()
@click.argument("survey", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--velocity", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Migration velocity model (SEG-Y or raw binary).")  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Image to write (SEG-Y, depth axis).")  # fmt: skip
@click.option("--method", type=click.Choice(["rtm", "lsrtm", "learned"]), default="rtm", show_default=True)
@click.option("--iterations", type=int, default=10, show_default=True, help="LSRTM iterations.")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Trained learned-LSRTM weights (for --method learned).")  # fmt: skip
@_velocity_options
@click.option("--z-positive", type=click.Choice(["up", "down"]), default="up", show_default=True,
              help="Sign convention of the survey's elevation fields (down: they hold depths, as JUDI writes).")  # fmt: skip
@click.option(
    "--f0", type=float, default=10.0, show_default=True, help="Ricker peak frequency of the source, Hz."
)
@click.option("--space-order", type=int, default=8, show_default=True)
@click.option("--nbl", type=int, default=40, show_default=True)
@_parallel_options
@click.pass_context
def migrate(ctx: click.Context, survey: Path, velocity: Path, output: Path, method: str, iterations: int,
            weights: Path | None, shape: Any, spacing: Any, unit: str, z_positive: str, f0: float,
            space_order: int, nbl: int, workers: int, scheduler: str | None) -> None:  # fmt: skip
    """Migrate the SEG-Y SURVEY with a velocity model: RTM, LSRTM or a trained learned scheme."""
    from geolearn.viz import save_figure

    vel = _read_velocity(velocity, shape, spacing, unit)
    common = {"z_positive": z_positive, "f0": f0, "space_order": space_order, "nbl": nbl,
              "output": output, "progress": _progress(ctx)}  # fmt: skip
    if method == "learned":
        if weights is None:
            raise click.UsageError("--method learned needs --weights FILE (a trained model)")
        import numpy as np

        from geolearn.io import write_image
        from geolearn.learned_inversion import learned_migrate
        from geolearn.viz import plot_image

        image = learned_migrate(
            survey, vel, weights, z_positive=z_positive, f0=f0, space_order=space_order, nbl=nbl
        )
        write_image(output, image.astype(np.float32), vel.spacing, origin=vel.origin, sample_axis="depth")
        figure = save_figure(plot_image(image, vel.spacing, vel.origin, title="learned LSRTM image"),
                             output.with_suffix(".png"))  # fmt: skip
        click.echo(f"wrote {output}: learned image {image.shape[0]} x {image.shape[1]}")
        click.echo(f"figure: {figure}")
        return
    from geolearn.imaging import lsrtm, rtm

    parallel = {"client": _client(workers, scheduler), "n_workers": workers}
    if method == "rtm":
        result = rtm(survey, vel, **parallel, **common)
    else:
        result = lsrtm(survey, vel, method="cg", iterations=iterations, **parallel, **common)
    figure = save_figure(result.plot(), output.with_suffix(".png"))
    click.echo(f"wrote {output}: {method} image {result.image.shape[0]} x {result.image.shape[1]}")
    if result.history.get("misfit"):
        misfit = result.history["misfit"]
        click.echo(f"data misfit {misfit[0]:.4g} -> {misfit[-1]:.4g} over {len(misfit) - 1} iterations")
    click.echo(f"figure: {figure}")


def _summarise_fwi(result: Any) -> str:
    h = result.history
    lines = [f"FWI: {len(h['iteration'])} iterations, {int(h['n_solves'][-1]) if h['n_solves'] else 0} "
             f"wave-equation solves; misfit {result.misfit_initial:.4g} -> {result.misfit_final:.4g}"]  # fmt: skip
    if result.true is not None:
        lines.append(f"relative model error {h['model_error'][-1]:.4f}")
    if result.run_dir is not None:
        lines.append(f"run directory: {result.run_dir}")
    return "\n".join(lines)


def _overrides(ctx: click.Context, settings: tuple[str, ...]) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    overrides: dict[str, Any] = {"run.progress": _progress(ctx)}
    for item in settings:
        key, sep, text = item.partition("=")
        if not sep:
            raise click.UsageError(f"--set {item!r} must look like section.key=value, e.g. fwi.iterations=3")
        try:
            overrides[key.strip()] = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            overrides[key.strip()] = text  # a bare word: take it as a string
    return overrides


_set_option = click.option(
    "--set", "settings", multiple=True, metavar="SECTION.KEY=VALUE",
    help="Override a configuration value (TOML syntax), e.g. --set fwi.iterations=3; repeatable.",
)  # fmt: skip


@main.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace an existing run in the output directory.")
@_set_option
@click.pass_context
def fwi(ctx: click.Context, config: Path, overwrite: bool, settings: tuple[str, ...]) -> None:
    """Run full-waveform inversion as the TOML CONFIG describes (see docs/workflows_config.md)."""
    from geolearn.runs import load_config, run_from_config

    cfg = load_config(config, overrides=_overrides(ctx, settings))
    if cfg.run.workflow != "fwi":
        raise click.UsageError(
            f"{config} describes run.workflow = {cfg.run.workflow!r}; use 'geolearn run' for it"
        )
    try:
        result = run_from_config(cfg, overwrite=overwrite)
    except FileExistsError as exc:
        raise click.UsageError(
            f"{exc}; continue it with 'geolearn resume {cfg.run.output_dir}' or pass --overwrite"
        ) from None
    click.echo(_summarise_fwi(result))


@main.command(name="run")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace an existing FWI run in the output directory.")
@_set_option
@click.pass_context
def run_config(ctx: click.Context, config: Path, overwrite: bool, settings: tuple[str, ...]) -> None:
    """Run whichever workflow (model, rtm, lsrtm, fwi) the TOML CONFIG names in run.workflow."""
    from geolearn.runs import load_config, run_from_config

    cfg = load_config(config, overrides=_overrides(ctx, settings))
    result = run_from_config(cfg, overwrite=overwrite)
    if cfg.run.workflow == "fwi":
        click.echo(_summarise_fwi(result))
    else:
        click.echo(f"{cfg.run.workflow}: outputs in {cfg.run.output_dir}")


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_parallel_options
@click.pass_context
def resume(ctx: click.Context, run_dir: Path, workers: int, scheduler: str | None) -> None:
    """Continue the interrupted FWI run in RUN_DIR from its last saved iteration."""
    from geolearn.runs import resume as resume_run
    from geolearn.viz import save_figure

    result = resume_run(
        run_dir, client=_client(workers, scheduler), n_workers=workers, progress=_progress(ctx)
    )
    figure = save_figure(result.plot(), run_dir / "fwi.png")
    click.echo(_summarise_fwi(result))
    click.echo(f"figure: {figure}")


if __name__ == "__main__":  # pragma: no cover
    main()
