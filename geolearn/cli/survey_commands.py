"""``geolearn inspect``, ``geolearn model`` and ``geolearn migrate``: SEG-Y surveys in, SEG-Y out.

Every command checks where it will write (:func:`geolearn.imaging.preflight`) before it reads
large inputs or solves anything, so ``-o /missing/dir/image.sgy`` fails at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from geolearn.cli.options import (
    client_for,
    parallel_options,
    progress,
    read_options,
    read_preprocess,
    read_velocity,
    survey_read_options,
    velocity_options,
)

__all__ = ["inspect", "migrate", "model"]


def _check_figure_beside(output: Path) -> Path:
    """Pre-flight of the PNG written beside ``output`` (and so of ``output``'s directory)."""
    from geolearn.imaging import preflight
    from geolearn.imaging.preflight import FIGURE_BYTES

    figure = output.with_suffix(".png")
    preflight(outputs={figure: FIGURE_BYTES})
    return figure


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", default="field_record", show_default=True,
              help="Trace-header field that groups traces into shots (a name, a byte position, or source_xy).")  # fmt: skip
@survey_read_options
@click.option("--figures", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write acquisition.png and a shot-gather PNG into this directory.")  # fmt: skip
@click.option("--shot", type=int, default=0, show_default=True, help="Shot (0-based) for the gather figure.")
@click.pass_context
def inspect(
    ctx: click.Context, file: Path, key: str, figures: Path | None, shot: int, **reading: Any
) -> None:
    """Summarise the SEG-Y FILE: traces, shots, format, time axis, extents, and every finding.

    A finding is a header claim the evidence contradicts, with the reading chosen and the
    option that forces another (the same findings as every command that reads the survey).
    """
    from geolearn.io import inspect as inspect_segy

    key_arg: str | int = int(key) if key.isdigit() else key
    report = inspect_segy(file, key=key_arg, progress=progress(ctx), **read_options(**reading))
    click.echo(str(report))
    if figures is not None:
        for name, path in _inspection_figures(report.survey, figures, shot).items():
            click.echo(f"{name} figure: {path}")


def _inspection_figures(survey: Any, directory: Path, shot: int) -> dict[str, Path]:
    """``acquisition.png`` (sources and receivers) and ``gather_<shot>.png`` in ``directory`` (created)."""
    from geolearn.imaging import preflight
    from geolearn.imaging.preflight import FIGURE_BYTES
    from geolearn.viz import plot_acquisition, plot_gather, save_figure

    paths = {"acquisition": directory / "acquisition.png", "gather": directory / f"gather_{shot}.png"}
    preflight(outputs=dict.fromkeys(paths.values(), FIGURE_BYTES), create_parents=True)
    gather = survey[shot]
    save_figure(plot_acquisition(survey), paths["acquisition"])
    figure = plot_gather(gather.data, dt=gather.dt, t0=gather.t0, positions=gather.receivers[:, 0],
                         title=f"{survey.path.name}: shot {gather.shot_id}")  # fmt: skip
    save_figure(figure, paths["gather"])
    return paths


@click.command()
@click.argument("velocity", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Shot records to write (SEG-Y).")  # fmt: skip
@velocity_options
@click.option("--source-spacing", type=float, default=100.0, show_default=True, help="m")
@click.option("--receiver-spacing", type=float, default=10.0, show_default=True, help="m")
@click.option("--source-depth", type=float, default=10.0, show_default=True, help="m")
@click.option("--receiver-depth", type=float, default=10.0, show_default=True, help="m")
@click.option("--record-length", type=float, default=1.0, show_default=True, help="s")
@click.option("--f0", type=float, default=10.0, show_default=True, help="Ricker peak frequency, Hz.")
@click.option("--space-order", type=int, default=8, show_default=True)
@click.option("--nbl", type=int, default=40, show_default=True, help="Absorbing layer width, grid points.")
@parallel_options
@click.pass_context
def model(ctx: click.Context, velocity: Path, output: Path, shape: Any, spacing: Any, unit: str,
          source_spacing: float, receiver_spacing: float, source_depth: float, receiver_depth: float,
          record_length: float, f0: float, space_order: int, nbl: int, workers: int, scheduler: str | None) -> None:  # fmt: skip
    """Model a synthetic survey over the VELOCITY model (SEG-Y or raw binary) and write it as SEG-Y."""
    from geolearn.imaging import model_survey
    from geolearn.viz import save_figure

    figure = _check_figure_beside(output)
    vel = read_velocity(velocity, shape, spacing, unit)
    result = model_survey(
        vel, source_spacing=source_spacing, receiver_spacing=receiver_spacing, source_depth=source_depth,
        receiver_depth=receiver_depth, record_length=record_length, f0=f0, space_order=space_order, nbl=nbl,
        output=output, client=client_for(workers, scheduler), n_workers=workers, progress=progress(ctx),
    )  # fmt: skip
    save_figure(result.plot(), figure)
    p = result.problem
    click.echo(f"wrote {output}: {p.n_shots} shots, {max(p.n_receivers)} receivers, nt={p.nt}, dt={p.dt:g} s")
    click.echo(f"figure: {figure}")


def _learned_image(
    survey: Path, vel: Any, weights: Path | None, output: Path, figure: Path, options: dict,
    safeguard: bool | None, noise_level: float | None,
) -> None:  # fmt: skip
    import numpy as np

    from geolearn.io import write_image
    from geolearn.learned_inversion import DataSafeguard, learned_migrate
    from geolearn.viz import plot_image, save_figure

    if weights is None:
        raise click.UsageError("--method learned needs --weights FILE (a trained model)")
    if noise_level is not None:
        if safeguard is False:
            raise click.UsageError(
                "--noise-level sets the safeguard's noise floor; drop it or --no-safeguard"
            )
        safeguard = DataSafeguard(noise_level)
    image = learned_migrate(survey, vel, weights, safeguard=safeguard, **options)
    write_image(output, image.astype(np.float32), vel.spacing, origin=vel.origin, sample_axis="depth")
    save_figure(plot_image(image, vel.spacing, vel.origin, title="learned LSRTM image"), figure)
    click.echo(f"wrote {output}: learned image {image.shape[0]} x {image.shape[1]}")


def _wavelet_choice(ctx: click.Context, param: click.Parameter, value: str) -> str | Path:
    if value in ("estimate", "ricker"):
        return value
    if not Path(value).is_file():
        raise click.BadParameter(f"{value!r} is neither 'estimate', 'ricker' nor an existing wavelet file")
    return Path(value)


def _image_options(f: Any) -> Any:
    """The source wavelet, preprocessing and image conditioning of ``geolearn migrate``."""
    from geolearn.imaging.conditioning import DISPLAY_GAINS

    options = [
        click.option("--wavelet", default="estimate", show_default=True, callback=_wavelet_choice,
                     metavar="estimate|ricker|FILE",
                     help="Source: estimated from the data (a Ricker of --f0 as probe), the Ricker itself, or a "
                          "measured wavelet file (time/amplitude text or one-trace SEG-Y, geolearn.io.read_wavelet) "
                          "whose amplitude is fitted to the data."),
        click.option("--wavelet-window", type=click.FloatRange(min=0, min_open=True), default=0.5, show_default=True,
                     help="Seconds after the modelled first arrivals that the wavelet estimate fits."),
        click.option("--f0", type=float, default=10.0, show_default=True,
                     help="Ricker peak frequency of the source (or of the estimation probe), Hz."),
        click.option("--preprocess", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="TOML file with a [[preprocess]] list of processing steps applied to every shot."),
        click.option("--illumination/--no-illumination", default=True, show_default=True,
                     help="Divide the RTM image by the source illumination."),
        click.option("--laplacian/--no-laplacian", default=True, show_default=True,
                     help="Laplacian filter against RTM's low-wavenumber backscatter."),
        click.option("--water-mute/--no-water-mute", default=True, show_default=True,
                     help="Zero the image above the sea bed found in the velocity model."),
        click.option("--display-gain", type=click.Choice(DISPLAY_GAINS), default="agc", show_default=True,
                     help="Amplitude gain with depth of the PNG figure only (the SEG-Y image is not gained)."),
    ]  # fmt: skip
    for option in reversed(options):
        f = option(f)
    return f


@click.command()
@click.argument("survey", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--velocity", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Migration velocity model (SEG-Y or raw binary).")  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Image to write (SEG-Y, depth axis).")  # fmt: skip
@click.option("--method", type=click.Choice(["rtm", "lsrtm", "learned"]), default="rtm", show_default=True)
@click.option("--iterations", type=int, default=10, show_default=True, help="LSRTM iterations.")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Trained learned-LSRTM weights (for --method learned; geolearn train-lsrtm writes them).")  # fmt: skip
@click.option("--safeguard/--no-safeguard", default=None,
              help="Learned gradient networks: keep a layer's learned update only where it fits the data at "
                   "least as well as the CG step it replaces (default on; the unrolled ISTA network has none).")  # fmt: skip
@click.option("--noise-level", type=click.FloatRange(min=0), default=None,
              help="Relative data noise (e.g. 0.02): misfits below it count as equal for the safeguard (default 0).")  # fmt: skip
@velocity_options
@survey_read_options
@_image_options
@click.option("--space-order", type=int, default=8, show_default=True)
@click.option("--nbl", type=int, default=40, show_default=True)
@parallel_options
@click.pass_context
def migrate(ctx: click.Context, survey: Path, velocity: Path, output: Path, method: str, iterations: int,
            weights: Path | None, safeguard: bool | None, noise_level: float | None, shape: Any, spacing: Any, unit: str, wavelet: str | Path, wavelet_window: float,
            f0: float, preprocess: Path | None, illumination: bool, laplacian: bool, water_mute: bool,
            display_gain: str, space_order: int, nbl: int, workers: int, scheduler: str | None,
            **reading: Any) -> None:  # fmt: skip
    """Migrate the SEG-Y SURVEY with a velocity model: RTM, LSRTM or a trained learned scheme.

    The headers are read on evidence (see geolearn inspect); by default the source wavelet is
    estimated from the early arrivals, and the RTM image is illumination-compensated,
    Laplacian-filtered and muted above the sea bed.
    """
    from geolearn.imaging import lsrtm, rtm
    from geolearn.viz import save_figure

    figure = _check_figure_beside(output)
    vel = read_velocity(velocity, shape, spacing, unit)
    read = read_options(**reading)
    options = {"f0": f0, "space_order": space_order, "nbl": nbl, "preprocess": read_preprocess(preprocess),
               "record_dt": read.pop("dt"), **read}  # fmt: skip
    if isinstance(wavelet, Path):
        options["wavelet"] = wavelet
    if method == "learned":
        _learned_image(survey, vel, weights, output, figure, options, safeguard, noise_level)
        click.echo(f"figure: {figure}")
        return
    parallel = {"client": client_for(workers, scheduler), "n_workers": workers, "progress": progress(ctx)}
    fit = "spectrum" if wavelet == "estimate" else "amplitude" if isinstance(wavelet, Path) else "none"
    source = {"wavelet_fit": fit, "wavelet_window": wavelet_window}
    if method == "rtm":
        result = rtm(survey, vel, output=output, illumination=illumination, laplacian=laplacian,
                     mute_water=water_mute, **source, **parallel, **options)  # fmt: skip
    else:
        result = lsrtm(survey, vel, method="cg", iterations=iterations, output=output, mute_water=water_mute,
                       **source, **parallel, **options)  # fmt: skip
    save_figure(result.plot(gain=display_gain), figure)
    click.echo(f"wrote {output}: {method} image {result.image.shape[0]} x {result.image.shape[1]}")
    if result.history.get("misfit"):
        misfit = result.history["misfit"]
        click.echo(f"data misfit {misfit[0]:.4g} -> {misfit[-1]:.4g} over {len(misfit) - 1} iterations")
    click.echo(f"figure: {figure}")
