"""``geolearn train-lsrtm``: train a learned gradient LSRTM network for one survey from a TOML file.

The configuration is read and checked by :func:`geolearn.runs.train_config.load_train_config`
(every key is listed by ``--help`` from the schema, and ``--example`` prints a complete file);
training runs :func:`geolearn.runs.train_config.train_from_config`. Rerunning the same
configuration resumes from the last checkpoint in ``output.work_dir``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from geolearn.cli.options import overrides, progress, set_option

__all__ = ["train_lsrtm"]


class _SchemaHelp(click.Command):
    """Help that ends with every ``[training]`` and ``[output]`` key, read from the schema when shown."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        import dataclasses

        from geolearn.runs.train_config import OWN_SECTIONS

        for name, cls in OWN_SECTIONS.items():
            rows = []
            for f in dataclasses.fields(cls):
                default = (
                    ""
                    if f.default is None
                    else f" (default {list(f.default) if isinstance(f.default, tuple) else f.default})"
                )
                rows.append((f"{name}.{f.name}", f.metadata["doc"] + default))
            with formatter.section(f"[{name}] keys"):
                formatter.write_dl(rows)
        super().format_epilog(ctx, formatter)


def _migrate_hint(cfg: Any, weights: Path) -> str:
    c = cfg.survey
    f0 = (
        f" --f0 {c.wavelet.peak_frequency:g}"
        if c.wavelet.kind == "ricker"
        else f" --wavelet {c.wavelet.path}"
    )
    return (f"apply it: geolearn migrate {c.survey.path} --velocity {c.velocity.path} --method learned "
            f"--weights {weights}{f0} --space-order {c.modelling.space_order} --nbl {c.modelling.nbl} -o image.sgy")  # fmt: skip


@click.command(name="train-lsrtm", cls=_SchemaHelp)
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False)
@click.option("--example", is_flag=True, help="Print a complete example configuration and exit.")
@set_option
@click.pass_context
def train_lsrtm(ctx: click.Context, config: Path | None, example: bool, settings: tuple[str, ...]) -> None:
    """Train a learned gradient LSRTM network for the survey of the TOML CONFIG and write its weights.

    CONFIG names the survey as a workflow configuration does ([survey] SEG-Y path and header
    readings, [velocity] the migration velocity, [wavelet] 'ricker' or 'file', [modelling],
    [geometry], [[preprocess]]: docs/workflows_config.md), and has two sections of its own,
    [training] and [output] (below). Training models are drawn on the survey's grid in the
    range of the migration velocity, with backgrounds smoothed like it; every step images a
    new random supershot. Rerun the same CONFIG to resume from output.work_dir. The weights
    file is applied with: geolearn migrate SURVEY --velocity V --method learned --weights FILE.
    """
    if example:
        from geolearn.runs.train_config import example_train_config

        click.echo(example_train_config(), nl=False)
        return
    if config is None:
        raise click.UsageError("give a CONFIG.toml (geolearn train-lsrtm --example prints one)")
    from geolearn.runs.train_config import load_train_config, train_from_config

    values = {k: v for k, v in overrides(ctx, settings).items() if k != "run.progress"}
    cfg = load_train_config(config, overrides=values)
    result = train_from_config(cfg, progress=progress(ctx))
    click.echo(f"trained {result.steps} steps ({result.encoding} supershots, {cfg.training.models} models, "
               f"velocities {result.velocity_range[0]:.0f}-{result.velocity_range[1]:.0f} m/s): "
               f"{result.solves:.0f} wave-equation solves ({result.solves_this_run:.0f} in this run)")  # fmt: skip
    click.echo(f"loss {result.history.train_loss[0]:.4g} -> {result.history.train_loss[-1]:.4g}")
    click.echo(f"wrote {result.weights}")
    click.echo(_migrate_hint(cfg, result.weights))
