"""geolearn.io: SEG-Y surveys, volumes and models in and out; dataset manifests.

The only subpackage that imports segyio. Units at its interface are SI (metres, seconds, m/s);
SEG-Y microseconds, milliseconds and scaled integer coordinates are converted here.

- :func:`read_survey` / :func:`write_survey` — prestack shots (:class:`Survey` of :class:`Shot`),
  read on evidence: each header contradiction is settled and listed in ``Survey.findings``;
  :class:`HeaderMapping` names non-standard header bytes.
- :func:`inspect` — what :func:`read_survey` would decide, as an :class:`InspectionReport`.
- :func:`edit_headers`, :func:`edit_binary_header`, :func:`edit_samples` — fix (or plant) header
  values and samples in place.
- :func:`read_model` / :func:`write_model` (:class:`VelocityModel`), :func:`read_volume`
  (:class:`Volume`), :func:`write_image` — post-stack images and velocity models.
- :func:`read_wavelet` / :func:`write_wavelet` — a measured source signature (:class:`SourceWavelet`).
- :class:`SegyFile` — low-level access to one SEG-Y file (memory-mapped headers and traces).
- :func:`load_dataset`, :func:`available_datasets` — reference data from the manifests;
  :func:`marmousi_crop` — the Marmousi model cropped and block-averaged.

Also in submodules (their public home):

- :mod:`geolearn.io.layout` — header fields and sample formats (``TRACE_FIELDS``, ``SAMPLE_FORMATS``,
  :func:`~geolearn.io.layout.ibm_to_float`, :func:`~geolearn.io.layout.float_to_ibm`,
  :func:`~geolearn.io.layout.encode_samples`, :func:`~geolearn.io.layout.decode_samples`,
  :func:`~geolearn.io.layout.apply_scalar`, :func:`~geolearn.io.layout.sample_format_name`);
- :mod:`geolearn.io.findings` — :class:`~geolearn.io.findings.Finding`, ``TOPICS``,
  :func:`~geolearn.io.findings.format_findings`;
- :mod:`geolearn.io.evidence` (``COORDINATE_UNITS``) and :mod:`geolearn.io.trace_evidence`
  (:func:`~geolearn.io.trace_evidence.dead_traces`, ``nonfinite_traces``, ``reversed_traces``);
- :mod:`geolearn.io.header_edit` (``BINARY_FIELDS``), :mod:`geolearn.io.writers`
  (:func:`~geolearn.io.writers.choose_scalar`);
- :mod:`geolearn.io.line` (:class:`~geolearn.io.line.StraightLine`, :func:`~geolearn.io.line.fit_line`),
  :mod:`geolearn.io.survey` (:func:`~geolearn.io.survey.to_model_frame`),
  :mod:`geolearn.io.shot_dataset` (:class:`~geolearn.io.shot_dataset.ShotDataset`);
- :mod:`geolearn.io.datasets` (:class:`~geolearn.io.datasets.Dataset`, ``load_manifest``),
  :mod:`geolearn.io.marmousi` (``MARMOUSI_WATER_DEPTH``, ``MARMOUSI_SPACING``);
- :mod:`geolearn.io.state` — the pickle-free inversion state file.
"""

from geolearn.io.datasets import available_datasets, load_dataset
from geolearn.io.header_edit import edit_binary_header, edit_headers, edit_samples
from geolearn.io.inspection import InspectionReport, inspect
from geolearn.io.layout import HeaderMapping
from geolearn.io.marmousi import marmousi_crop
from geolearn.io.reader import read_survey
from geolearn.io.segyfile import SegyFile
from geolearn.io.survey import Shot, Survey
from geolearn.io.volume import VelocityModel, Volume, read_model, read_volume
from geolearn.io.wavelet_file import SourceWavelet, read_wavelet, write_wavelet
from geolearn.io.writers import write_image, write_model, write_survey

__all__ = [
    "HeaderMapping",
    "InspectionReport",
    "SegyFile",
    "Shot",
    "SourceWavelet",
    "Survey",
    "VelocityModel",
    "Volume",
    "available_datasets",
    "edit_binary_header",
    "edit_headers",
    "edit_samples",
    "inspect",
    "load_dataset",
    "marmousi_crop",
    "read_model",
    "read_survey",
    "read_volume",
    "read_wavelet",
    "write_image",
    "write_model",
    "write_survey",
    "write_wavelet",
]
