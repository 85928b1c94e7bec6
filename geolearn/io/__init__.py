"""geolearn.io: SEG-Y surveys, volumes and models in and out; dataset manifests.

The only subpackage that imports segyio. :func:`edit_headers`, :func:`edit_binary_header` and
:func:`edit_samples` fix (or plant) header values and samples in place; :func:`read_wavelet` reads a
measured source signature. Units at its interface are SI (metres, seconds, m/s); SEG-Y
microseconds, milliseconds and scaled integer coordinates are converted here.
"""

from geolearn.io.datasets import Dataset, available_datasets, load_dataset, load_manifest
from geolearn.io.evidence import COORDINATE_UNITS
from geolearn.io.findings import TOPICS, Finding, format_findings
from geolearn.io.header_edit import BINARY_FIELDS, edit_binary_header, edit_headers, edit_samples
from geolearn.io.inspection import InspectionReport, inspect
from geolearn.io.layout import (
    SAMPLE_FORMATS,
    TRACE_FIELDS,
    HeaderMapping,
    apply_scalar,
    decode_samples,
    encode_samples,
    float_to_ibm,
    ibm_to_float,
    sample_format_name,
)
from geolearn.io.line import StraightLine, fit_line
from geolearn.io.marmousi import MARMOUSI_WATER_DEPTH, marmousi_crop
from geolearn.io.reader import read_survey
from geolearn.io.segyfile import SegyFile
from geolearn.io.shot_dataset import ShotDataset
from geolearn.io.survey import Shot, Survey, to_model_frame
from geolearn.io.trace_evidence import dead_traces, nonfinite_traces, reversed_traces
from geolearn.io.volume import VelocityModel, Volume, read_model, read_volume
from geolearn.io.wavelet_file import SourceWavelet, read_wavelet, write_wavelet
from geolearn.io.writers import choose_scalar, write_image, write_model, write_survey

__all__ = [
    "BINARY_FIELDS",
    "COORDINATE_UNITS",
    "MARMOUSI_WATER_DEPTH",
    "SAMPLE_FORMATS",
    "TOPICS",
    "TRACE_FIELDS",
    "Dataset",
    "Finding",
    "HeaderMapping",
    "InspectionReport",
    "SegyFile",
    "Shot",
    "ShotDataset",
    "SourceWavelet",
    "StraightLine",
    "Survey",
    "VelocityModel",
    "Volume",
    "apply_scalar",
    "available_datasets",
    "choose_scalar",
    "dead_traces",
    "decode_samples",
    "edit_binary_header",
    "edit_headers",
    "edit_samples",
    "encode_samples",
    "fit_line",
    "float_to_ibm",
    "format_findings",
    "ibm_to_float",
    "inspect",
    "load_dataset",
    "load_manifest",
    "marmousi_crop",
    "nonfinite_traces",
    "read_model",
    "read_survey",
    "read_volume",
    "read_wavelet",
    "reversed_traces",
    "sample_format_name",
    "to_model_frame",
    "write_image",
    "write_model",
    "write_survey",
    "write_wavelet",
]
