"""geolearn.io: SEG-Y surveys, volumes and models in and out; dataset manifests.

The only subpackage that imports segyio. Units at its interface are SI (metres, seconds, m/s); SEG-Y
microseconds, milliseconds and scaled integer coordinates are converted here.
"""

from geolearn.io.datasets import Dataset, available_datasets, load_dataset, load_manifest
from geolearn.io.inspection import InspectionReport, inspect, save_inspection_figures
from geolearn.io.layout import SAMPLE_FORMATS, HeaderMapping, apply_scalar, ibm_to_float
from geolearn.io.segyfile import SegyFile
from geolearn.io.survey import Shot, ShotDataset, Survey, read_survey
from geolearn.io.volume import VelocityModel, Volume, read_model, read_volume
from geolearn.io.writers import write_image, write_model, write_survey

__all__ = [
    "SAMPLE_FORMATS",
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
    "ibm_to_float",
    "inspect",
    "load_dataset",
    "load_manifest",
    "read_model",
    "read_survey",
    "read_volume",
    "save_inspection_figures",
    "write_image",
    "write_model",
    "write_survey",
]
