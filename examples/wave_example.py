"""Layered model, geometry, F, J and Jᵀ; saves a shot gather and an RTM image as PNG.

Run: ``python examples/wave_example.py [output_dir]`` (about half a minute on 2 cores).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from geolearn.imaging import laplacian_filter
from geolearn.viz.convergence import save_figure
from geolearn.viz.model import plot_image, plot_shot
from geolearn.wave import BornOperator, Geometry, Model, WaveModeling


def main(out: Path) -> None:
    nx, nz, h = 201, 101, 10.0
    vp = np.full((nx, nz), 1500.0)
    vp[:, 30:] = 2000.0
    vp[:, 60:] = 2500.0
    model = Model(vp, (h, h), nbl=40, space_order=8)
    # Migration background: the true model smoothed (same direct wave, no reflectors).
    smooth = Model(gaussian_filter(vp, 6.0), (h, h), nbl=40, space_order=8)

    n_shots = 5
    src = np.stack([np.linspace(200, 1800, n_shots), np.full(n_shots, 20.0)], 1)
    rec = np.stack([np.linspace(0, 2000, 201), np.full(201, 20.0)], 1)
    geometry = Geometry(model, src, rec, tn=1.2, f0=12.0)

    F = WaveModeling(model, geometry, progress=True)
    d_true, d_smooth = F(model.vp), F(smooth.vp)
    save_figure(
        plot_shot(d_true[2], geometry.dt, rec[:, 0], title="Shot 2, layered model"), out / "shot_gather.png"
    )

    J = BornOperator(smooth, Geometry(smooth, src, rec, tn=1.2, f0=12.0, dt=geometry.dt), progress=True)
    image = J.T(d_true - d_smooth).numpy()  # RTM of the reflections: velocity-perturbation image
    # Display processing: the Laplacian filter (removes low-wavenumber backscatter),
    # a taper muting the acquisition footprint above ~150 m, and a linear depth gain.
    image = laplacian_filter(image, model.spacing)
    depth = np.arange(nz) * h
    image *= np.clip((depth - 100.0) / 100.0, 0.0, 1.0) * depth
    save_figure(
        plot_image(image, model.spacing, title="RTM image (Laplacian-filtered)"), out / "rtm_image.png"
    )
    print(f"wrote {out / 'shot_gather.png'} and {out / 'rtm_image.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("outputs"))
