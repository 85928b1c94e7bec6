"""geolearn.io: SEG-Y surveys, volumes and models in and out; dataset manifests.

The only subpackage that imports segyio. Units at its interface are SI (metres, seconds, m/s); SEG-Y
microseconds, milliseconds and scaled integer coordinates are converted here.
"""

from geolearn.io.datasets import Dataset, available_datasets, load_dataset, load_manifest
from geolearn.io.inspection import InspectionReport, inspect, save_inspection_figures
from geolearn.io.layout import (
    SAMPLE_FORMATS,
    TRACE_FIELDS,
    HeaderMapping,
    apply_scalar,
    decode_samples,
    ibm_to_float,
    sample_format_name,
)
from geolearn.io.marmousi import MARMOUSI_WATER_DEPTH, marmousi_crop
from geolearn.io.segyfile import SegyFile
from geolearn.io.survey import Shot, ShotDataset, Survey, read_survey
from geolearn.io.volume import VelocityModel, Volume, read_model, read_volume
from geolearn.io.writers import choose_scalar, write_image, write_model, write_survey

__all__ = [
    "MARMOUSI_WATER_DEPTH",
    "SAMPLE_FORMATS",
    "TRACE_FIELDS",
    "Dataset",
    "HeaderMapping",
    "InspectionReport",
    "SegyFile",
    "Shot",
    "ShotDataset",
    "Survey",
    "VelocityModel",
    "Volume",
    "apply_scalar",
    "available_datasets",
    "choose_scalar",
    "decode_samples",
    "ibm_to_float",
    "inspect",
    "load_dataset",
    "load_manifest",
    "marmousi_crop",
    "read_model",
    "read_survey",
    "read_volume",
    "sample_format_name",
    "save_inspection_figures",
    "write_image",
    "write_model",
    "write_survey",
]
