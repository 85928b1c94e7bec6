"""``geolearn fwi``, ``geolearn run``, ``geolearn resume`` and ``geolearn demo``: runs from a configuration.

Progress bars follow ``run.progress`` of the configuration (``geolearn -q`` turns them off);
an FWI run, fresh or resumed, writes the same run directory (:func:`geolearn.fwi.finish`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from geolearn.cli.options import client_for, overrides, parallel_options, progress, set_option

__all__ = ["demo", "fwi", "resume", "run_config"]


def _summarise_fwi(result: Any) -> str:
    h = result.history
    lines = [f"FWI: {len(h['iteration'])} iterations, {h['n_solves'][-1] if h['n_solves'] else 0:g} "
             f"wave-equation solves; misfit {result.misfit_initial:.4g} -> {result.misfit_final:.4g}"]  # fmt: skip
    if result.true is not None:
        lines.append(f"relative model error {h['model_error'][-1]:.4f}")
    if result.run_dir is not None:
        lines.append(f"run directory: {result.run_dir} (model.sgy, fwi.png)")
    return "\n".join(lines)


@click.command()
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=Path("outputs/demo"),
              show_default=True, help="Directory for the demo's outputs.")  # fmt: skip
@click.option("--kind", type=click.Choice(["seismic", "field", "sparse"]), default="seismic", show_default=True,
              help="seismic: Marmousi survey -> RTM, LSRTM, FWI; field: a field-like marine line with header "
                   "defects -> RTM; sparse: ISTA vs FISTA on a LASSO problem.")  # fmt: skip
@click.pass_context
def demo(ctx: click.Context, output: Path, kind: str) -> None:
    """Run the demonstration and write its outputs and figures to OUTPUT."""
    from geolearn.cli.demo_sparse import run_demo

    click.echo(run_demo(output, kind=kind, progress=progress(ctx)))


def _config_arguments(f: Any) -> Any:
    """CONFIG, ``--overwrite`` and ``--set`` of the commands that run a configuration."""
    f = set_option(f)
    f = click.option(
        "--overwrite", is_flag=True, help="Replace an existing FWI run in the output directory."
    )(f)
    return click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))(f)


def _run(
    ctx: click.Context, config: Path, overwrite: bool, settings: tuple[str, ...], only: str | None
) -> None:
    from geolearn.runs import load_config, run_from_config

    cfg = load_config(config, overrides=overrides(ctx, settings))
    if only is not None and cfg.run.workflow != only:
        raise click.UsageError(
            f"{config} describes run.workflow = {cfg.run.workflow!r}; use 'geolearn run' for it"
        )
    try:
        result = run_from_config(cfg, overwrite=overwrite)
    except FileExistsError as exc:
        raise click.UsageError(
            f"{exc}; continue it with 'geolearn resume {cfg.run.output_dir}' or pass --overwrite"
        ) from None
    if cfg.run.workflow == "fwi":
        click.echo(_summarise_fwi(result))
    else:
        click.echo(f"{cfg.run.workflow}: outputs in {cfg.run.output_dir}")


@click.command()
@_config_arguments
@click.pass_context
def fwi(ctx: click.Context, config: Path, overwrite: bool, settings: tuple[str, ...]) -> None:
    """Run full-waveform inversion as the TOML CONFIG describes (see docs/workflows_config.md)."""
    _run(ctx, config, overwrite, settings, "fwi")


@click.command(name="run")
@_config_arguments
@click.pass_context
def run_config(ctx: click.Context, config: Path, overwrite: bool, settings: tuple[str, ...]) -> None:
    """Run whichever workflow (model, rtm, lsrtm, fwi) the TOML CONFIG names in run.workflow."""
    _run(ctx, config, overwrite, settings, None)


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@parallel_options
@click.pass_context
def resume(ctx: click.Context, run_dir: Path, workers: int, scheduler: str | None) -> None:
    """Continue the interrupted FWI run in RUN_DIR from its last saved iteration and write its outputs."""
    from geolearn.runs import resume as resume_run

    result = resume_run(run_dir, client=client_for(workers, scheduler), n_workers=workers,
                        progress=None if progress(ctx) else False)  # fmt: skip
    click.echo(_summarise_fwi(result))
