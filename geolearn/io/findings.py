"""Findings: what a SEG-Y file's headers claim, what the evidence says, and which reading geolearn chose.

:func:`~geolearn.io.read_survey` and :func:`~geolearn.io.inspect` report every contradiction between
headers, or between headers and data, as a :class:`Finding`; both get them from the same engine
(:mod:`geolearn.io.evidence` and :mod:`geolearn.io.trace_evidence`), so they always agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from geolearn.errors import ConfigError

__all__ = ["TOPICS", "Finding", "format_findings"]

# Every topic a finding can carry, with the override that changes the choice (empty: none needed).
TOPICS: dict[str, str] = {
    "sample_count": "",
    "sample_interval": "dt=<seconds> (CLI --dt)",
    "coordinate_units": "coordinate_units='m'|'ft'|'deg'|'arcsec'|'dms' (CLI --coordinate-units)",
    "coordinate_scalar": "coordinate_scalar=<int> (CLI --coordinate-scalar)",
    "elevation_scalar": "elevation_scalar=<int> (CLI --elevation-scalar)",
    "elevation_sign": "z_positive='up'|'down' (CLI --z-positive)",
    "delay": "",
    "no_geometry": "header={'source_x': BYTE, ...} (CLI --header source_x=BYTE)",
    "moving_source": "",
    "line_geometry": "",
    "duplicate_traces": "",
    "dead_traces": "",
    "nonfinite_samples": "",
    "reversed_polarity": "polarity='as_recorded' (CLI --polarity as_recorded)",
}


@dataclass(frozen=True)
class Finding:
    """One contradiction (or defect) found in a SEG-Y file and the interpretation chosen for it.

    Attributes
    ----------
    topic : str
        What it is about, one of :data:`TOPICS` (e.g. ``"coordinate_units"``, ``"dead_traces"``).
    claimed : str
        What the headers say (field, byte position, value).
    evidence : str
        What the other headers, the file size or the samples say instead.
    chosen : str
        The interpretation geolearn uses from here on.
    override : str
        The keyword (and command-line option) that forces another reading; by default the topic's
        entry in :data:`TOPICS`, empty when no override applies.
    traces : tuple of int
        The affected traces (0-based file order); empty when the finding concerns the whole file.
    """

    topic: str
    claimed: str
    evidence: str
    chosen: str
    override: str | None = None
    traces: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.topic not in TOPICS:
            raise ConfigError(f"unknown finding topic {self.topic!r}; known: {sorted(TOPICS)}")
        if self.override is None:
            object.__setattr__(self, "override", TOPICS[self.topic])
        object.__setattr__(self, "traces", tuple(int(t) for t in self.traces))

    def __str__(self) -> str:
        text = f"{self.topic}: headers claim {self.claimed}; evidence: {self.evidence}; chosen: {self.chosen}"
        return f"{text} (override: {self.override})" if self.override else text


def format_findings(findings: Sequence[Finding], indent: str = "  - ") -> str:
    """One line per finding (``"none"`` when there are none), for reports and log messages."""
    return "\n".join(f"{indent}{f}" for f in findings) if findings else f"{indent}none"
