"""Matplotlib figures: shot gathers, acquisition maps, models and images, wavelets, convergence curves.

Every function returns a :class:`matplotlib.figure.Figure`; :func:`save_figure` writes a PNG
atomically. Arrays follow the project layout: models and images ``(nx, nz)`` with depth last,
shot records ``(n_receivers, nt)`` with time last; axes are labelled in metres and seconds.
"""

from geolearn.viz.acquisition import plot_acquisition
from geolearn.viz.convergence import plot_convergence, save_figure
from geolearn.viz.gather import plot_gather
from geolearn.viz.model import plot_image, plot_model, plot_shot
from geolearn.viz.training import plot_training
from geolearn.viz.wavelet import plot_wavelets

__all__ = [
    "plot_acquisition",
    "plot_convergence",
    "plot_gather",
    "plot_image",
    "plot_model",
    "plot_shot",
    "plot_training",
    "plot_wavelets",
    "save_figure",
]
