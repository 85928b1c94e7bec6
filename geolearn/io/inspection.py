"""``inspect(path)``: what a SEG-Y file holds and what is wrong with it, in one readable summary.

The findings are :func:`~geolearn.io.read_survey`'s own (same engine, same options), so ``inspect``
and every command that reads the survey agree on how the file is interpreted. Figures are drawn by
:mod:`geolearn.viz` from ``report.survey`` (``plot_acquisition(report.survey)``, ``plot_gather``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from geolearn.io.findings import Finding, format_findings
from geolearn.io.layout import sample_format_name
from geolearn.io.reader import read_survey
from geolearn.io.survey import Survey

__all__ = ["InspectionReport", "inspect"]


@dataclass
class InspectionReport:
    """Summary of a SEG-Y file (see :func:`inspect`).

    Attributes
    ----------
    survey : Survey
        The indexed file (lazy; ``plot_acquisition(report.survey)`` draws it).
    n_traces, n_shots, nt : int
    receivers_per_shot : tuple of int
        (min, max) traces per shot.
    sample_format, endian : str
    dt, t0 : float
        Seconds.
    dt_source : str
        Which header gave the interval ('binary', 'trace', 'user').
    coordinate_units : str
        Units the coordinates were read in ('m', 'ft' converted to metres, or an angular unit).
    z_positive : {'up', 'down'}
        How the elevation fields were read.
    source_extent, receiver_extent : tuple of float
        (xmin, xmax, ymin, ymax) in metres.
    coordinate_scalars, elevation_scalars : list of int
        Distinct raw scalars at bytes 71 and 69.
    dead_traces, nonfinite_traces, reversed_traces, duplicate_traces : int
        Counts from the findings.
    findings : list of Finding
        Exactly ``read_survey``'s findings for the same file and options.
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
    coordinate_units: str
    z_positive: str
    source_extent: tuple[float, float, float, float]
    receiver_extent: tuple[float, float, float, float]
    coordinate_scalars: list[int]
    elevation_scalars: list[int]
    dead_traces: int
    nonfinite_traces: int
    reversed_traces: int
    duplicate_traces: int
    findings: list[Finding]

    def __str__(self) -> str:
        sx, rx = self.source_extent, self.receiver_extent
        lines = [
            f"SEG-Y file      {self.survey.path}",
            f"traces          {self.n_traces}",
            f"shots           {self.n_shots} ({self.receivers_per_shot[0]}..{self.receivers_per_shot[1]} receivers per shot)",
            f"samples         nt={self.nt}, dt={self.dt * 1e3:g} ms ({self.dt_source} header), t0={self.t0:g} s",
            f"sample format   {self.sample_format}, {'big' if self.endian == '>' else 'little'}-endian",
            f"coordinates     {self.coordinate_units}, elevations positive {self.z_positive} in the file",
            f"sources         x {sx[0]:g}..{sx[1]:g}, y {sx[2]:g}..{sx[3]:g}",
            f"receivers       x {rx[0]:g}..{rx[1]:g}, y {rx[2]:g}..{rx[3]:g}",
            f"scalars         coordinates (byte 71) {self.coordinate_scalars}, elevations (byte 69) {self.elevation_scalars}",
            f"dead traces     {self.dead_traces}",
            f"non-finite      {self.nonfinite_traces} traces",
            f"reversed        {self.reversed_traces} traces",
            f"duplicates      {self.duplicate_traces}",
            "findings",
            format_findings(self.findings),
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"InspectionReport({str(self.survey.path)!r}, traces={self.n_traces}, shots={self.n_shots}, "
            f"nt={self.nt}, dt={self.dt:g}, findings={len(self.findings)})"
        )


def _extent(p: np.ndarray) -> tuple[float, float, float, float]:
    return float(p[:, 0].min()), float(p[:, 0].max()), float(p[:, 1].min()), float(p[:, 1].max())


def _count(findings: list[Finding], topic: str, chosen_prefix: str = "") -> int:
    return sum(len(f.traces) for f in findings if f.topic == topic and f.chosen.startswith(chosen_prefix))


def inspect(path: str | os.PathLike, **options: Any) -> InspectionReport:
    """Summarise a SEG-Y file and list its findings (contradictions, defects, readings chosen).

    Parameters
    ----------
    path : path-like
    **options
        Any keyword of :func:`~geolearn.io.read_survey` (``key``, ``header``, ``coordinate_units``,
        ``coordinate_scalar``, ``elevation_scalar``, ``z_positive``, ``dt``, ``polarity``,
        ``scan_samples`` (default True), ``progress``). Samples are read as float64.

    Returns
    -------
    InspectionReport
        ``print(report)`` gives a readable table; ``report.findings == read_survey(path,
        **options).findings``.

    Raises
    ------
    SegyFormatError
        When the file cannot be read at all (the message says why).
    """
    survey = read_survey(path, **{"dtype": np.float64, **options})
    file, mapping = survey.file, survey.mapping
    h = lambda name: file.header(*mapping.spec(name))  # noqa: E731
    rec = np.vstack([survey.receiver_positions(i) for i in range(survey.n_shots)])
    rps = survey.receivers_per_shot
    findings = survey.findings
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
        coordinate_units=survey.coordinate_units,
        z_positive=survey.z_positive,
        source_extent=_extent(survey.source_positions),
        receiver_extent=_extent(rec),
        coordinate_scalars=np.unique(h("coordinate_scalar")).tolist(),
        elevation_scalars=np.unique(h("elevation_scalar")).tolist(),
        dead_traces=int(survey.dead_traces.size),
        nonfinite_traces=_count(findings, "nonfinite_samples"),
        reversed_traces=_count(findings, "reversed_polarity"),
        duplicate_traces=_count(findings, "duplicate_traces", "the later copies"),
        findings=findings,
    )
