"""``inspect(path)``: what a SEG-Y file holds and what is wrong with it, in one readable summary."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from geolearn.io.layout import HeaderMapping, sample_format_name
from geolearn.io.survey import Survey, read_survey

__all__ = ["InspectionReport", "inspect", "save_inspection_figures"]

_CHUNK = 4096  # traces decoded at a time when scanning samples


@dataclass
class InspectionReport:
    """Summary of a SEG-Y file (see :func:`inspect`).

    Attributes
    ----------
    survey : Survey
        The indexed file (lazy; used to draw figures).
    n_traces, n_shots, nt : int
    receivers_per_shot : tuple of int
        (min, max) traces per shot.
    sample_format, endian : str
    dt, t0 : float
        Seconds.
    source_extent, receiver_extent : tuple of float
        (xmin, xmax, ymin, ymax) in metres.
    coordinate_scalars, elevation_scalars : list of int
        Distinct raw scalars at bytes 71 and 69.
    dead_traces, nan_samples, duplicate_traces : int
    anomalies : list of str
    """

    survey: Survey
    n_traces: int
    n_shots: int
    nt: int
    receivers_per_shot: tuple[int, int]
    sample_format: str
    endian: str
    dt: float
    t0: float
    dt_source: str
    source_extent: tuple[float, float, float, float]
    receiver_extent: tuple[float, float, float, float]
    coordinate_scalars: list[int]
    elevation_scalars: list[int]
    dead_traces: int = 0
    nan_samples: int = 0
    duplicate_traces: int = 0
    anomalies: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        sx, rx = self.source_extent, self.receiver_extent
        lines = [
            f"SEG-Y file      {self.survey.path}",
            f"traces          {self.n_traces}",
            f"shots           {self.n_shots} ({self.receivers_per_shot[0]}..{self.receivers_per_shot[1]} receivers per shot)",
            f"samples         nt={self.nt}, dt={self.dt * 1e3:g} ms ({self.dt_source} header), t0={self.t0:g} s",
            f"sample format   {self.sample_format}, {'big' if self.endian == '>' else 'little'}-endian",
            f"sources         x {sx[0]:g}..{sx[1]:g} m, y {sx[2]:g}..{sx[3]:g} m",
            f"receivers       x {rx[0]:g}..{rx[1]:g} m, y {rx[2]:g}..{rx[3]:g} m",
            f"scalars         coordinates (byte 71) {self.coordinate_scalars}, elevations (byte 69) {self.elevation_scalars}",
            f"dead traces     {self.dead_traces}",
            f"NaN samples     {self.nan_samples}",
            f"duplicates      {self.duplicate_traces}",
        ]
        lines += (
            ["anomalies       none"]
            if not self.anomalies
            else ["anomalies"] + [f"  - {a}" for a in self.anomalies]
        )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"InspectionReport({str(self.survey.path)!r}, traces={self.n_traces}, shots={self.n_shots}, "
            f"nt={self.nt}, dt={self.dt:g}, anomalies={len(self.anomalies)})"
        )

    def save_figures(self, outdir: str | os.PathLike, *, shot: int = 0, dpi: int = 120) -> dict[str, Path]:
        """Write ``acquisition.png`` (sources and receivers) and ``gather_<shot>.png`` into ``outdir``.

        Returns
        -------
        dict
            ``{"acquisition": path, "gather": path}``.
        """
        from geolearn.viz.acquisition import plot_acquisition
        from geolearn.viz.convergence import save_figure
        from geolearn.viz.gather import plot_gather

        outdir = Path(outdir)
        s = self.survey[shot]
        acq = save_figure(plot_acquisition(self.survey), outdir / "acquisition.png", dpi=dpi)
        fig = plot_gather(
            s.data,
            dt=s.dt,
            t0=s.t0,
            positions=s.receivers[:, 0],
            title=f"{self.survey.path.name}: shot {s.shot_id}",
        )
        gather = save_figure(fig, outdir / f"gather_{shot}.png", dpi=dpi)
        return {"acquisition": acq, "gather": gather}


def _extent(p: np.ndarray) -> tuple[float, float, float, float]:
    return float(p[:, 0].min()), float(p[:, 0].max()), float(p[:, 1].min()), float(p[:, 1].max())


def inspect(
    path: str | os.PathLike,
    *,
    key: str | int = "field_record",
    mapping: HeaderMapping | dict | None = None,
    z_positive: str = "up",
    dt: float | None = None,
    scan_samples: bool = True,
    progress: bool = False,
) -> InspectionReport:
    """Summarise a SEG-Y file and list its anomalies.

    Parameters
    ----------
    path : path-like
    key, mapping, z_positive, dt
        As for :func:`~geolearn.io.read_survey`.
    scan_samples : bool
        Also decode every sample (in chunks) to count dead traces and NaNs.
    progress : bool
        Show a tqdm bar while scanning samples.

    Returns
    -------
    InspectionReport
        ``print(report)`` gives a readable table; ``report.save_figures(outdir)`` draws the
        acquisition map and a shot gather.

    Raises
    ------
    SegyFormatError
        When the file cannot be read at all (the message says why).
    """
    survey = read_survey(path, key=key, mapping=mapping, z_positive=z_positive, dt=dt, dtype=np.float64)
    file = survey.file
    anomalies = list(survey.anomalies)
    h = lambda name: file.header(*survey.mapping.spec(name))  # noqa: E731
    rec = np.vstack([survey.receiver_positions(i) for i in range(survey.n_shots)])
    keyed = np.column_stack([h("field_record"), h("source_x"), h("source_y"), h("group_x"), h("group_y")])
    if np.any(keyed[:, 1:]):
        duplicates = int(file.n_traces - np.unique(keyed, axis=0).shape[0])
        if duplicates:
            anomalies.append(
                f"{duplicates} traces repeat another trace's field record and source/receiver position"
            )
    else:
        duplicates = 0
        anomalies.append(
            "all source and receiver coordinates are zero: no acquisition geometry in the headers"
        )
    dead = h("trace_id") == 2
    nans = 0
    if scan_samples:
        starts = range(0, file.n_traces, _CHUNK)
        for start in tqdm(starts, desc="scanning samples", disable=not progress):
            idx = np.arange(start, min(start + _CHUNK, file.n_traces))
            block = file.traces(idx, np.float64)
            nans += int(np.isnan(block).sum())
            dead[idx] |= ~np.any(np.nan_to_num(block) != 0, axis=1)
        if nans:
            anomalies.append(f"{nans} NaN samples")
    if dead.any():
        anomalies.append(f"{int(dead.sum())} dead traces (trace id 2 at byte 29, or all samples zero)")
    rps = survey.receivers_per_shot
    return InspectionReport(
        survey=survey,
        n_traces=file.n_traces,
        n_shots=survey.n_shots,
        nt=file.nt,
        receivers_per_shot=(int(rps.min()), int(rps.max())),
        sample_format=f"{file.format_code} ({sample_format_name(file.format_code)})",
        endian=file.endian,
        dt=file.dt,
        t0=file.t0,
        dt_source=file.dt_source,
        source_extent=_extent(survey.source_positions),
        receiver_extent=_extent(rec),
        coordinate_scalars=np.unique(h("coordinate_scalar")).tolist(),
        elevation_scalars=np.unique(h("elevation_scalar")).tolist(),
        dead_traces=int(dead.sum()),
        nan_samples=nans,
        duplicate_traces=duplicates,
        anomalies=anomalies,
    )


def save_inspection_figures(
    path: str | os.PathLike, outdir: str | os.PathLike, **kwargs: Any
) -> dict[str, Path]:
    """``inspect(path, scan_samples=False).save_figures(outdir, **kwargs)`` for the command line."""
    return inspect(path, scan_samples=False).save_figures(outdir, **kwargs)
