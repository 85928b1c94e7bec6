"""The seismic demonstration: Marmousi crop -> SEG-Y survey -> RTM, LSRTM and FWI.

Every step calls a public workflow, writes its SEG-Y output and a PNG figure beside it, and
reports a quality number measured against the known true model. Sizes are chosen so that
the whole demo runs in a few minutes on two CPU cores.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from geolearn.fwi.inversion import fwi
from geolearn.imaging.lsrtm import lsrtm
from geolearn.imaging.modeling import model_survey
from geolearn.imaging.rtm import rtm
from geolearn.io import write_model
from geolearn.io.marmousi import MARMOUSI_WATER_DEPTH, marmousi_crop
from geolearn.viz import save_figure

__all__ = ["seismic_demo"]

log = logging.getLogger("geolearn.cli.demo_seismic")


def _correlation(image: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> float:
    a, b = image[mask] - image[mask].mean(), reference[mask] - reference[mask].mean()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def seismic_demo(output: str | Path, *, progress: bool = True, fast: bool = False) -> str:
    """Run the survey-reconstruction demo into ``output`` and return a printable summary.

    Steps: a 160 x 70 crop of Marmousi at 15 m; a synthetic survey of 16 shots and 160
    receivers (7 Hz Ricker, 2 s) written as SEG-Y; RTM and 8-iteration CG-LSRTM in a smoothed
    migration velocity (images written as SEG-Y); a three-band multiscale FWI (4, 7, 10 Hz;
    L-BFGS, 6 iterations per band) from the smoothed model into the run directory ``fwi_run``
    (final model ``fwi_run/model.sgy``, figure ``fwi_run/fwi.png``). Quality numbers: correlation of
    each image with the true perturbation below the water, and FWI's relative model error
    and data-misfit reduction. ``fast=True`` shrinks every size (used by the tests).
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    nx, nz, factor = (60, 30, 4) if fast else (160, 70, 2)
    vp, spacing = marmousi_crop(4500.0, nx, nz, factor)
    v0 = gaussian_filter(vp, 6.0 if not fast else 3.0, mode="nearest")
    water = int(MARMOUSI_WATER_DEPTH // spacing[1])  # cells entirely in the water: known, kept fixed
    v0[:, :water] = vp[:, :water]
    common = {"nbl": 20, "space_order": 4 if fast else 8}
    lines = [f"geolearn demo: Marmousi crop {nx} x {nz} at {spacing[0]:g} m -> {output}"]

    survey = model_survey(
        vp, spacing, source_spacing=(nx - 1) * spacing[0] / (4 if fast else 15), receiver_spacing=spacing[0],
        source_depth=spacing[1], receiver_depth=spacing[1], record_length=1.2 if fast else 2.0,
        f0=5.0 if fast else 7.0, output=output / "survey.sgy", progress=progress, **common,
    )  # fmt: skip
    save_figure(survey.plot(), output / "survey.png")
    p = survey.problem
    lines.append(
        f"  survey : {p.n_shots} shots x {p.n_receivers[0]} receivers, nt={p.nt}, dt={p.dt * 1e3:g} ms "
        f"-> survey.sgy"
    )

    write_model(output / "true_velocity.sgy", vp.astype(np.float32), spacing)
    reference = vp - v0
    below_water = np.zeros_like(vp, dtype=bool)
    below_water[:, water + 2 :] = True

    image = rtm(survey, v0, output=output / "rtm.sgy", progress=progress)
    save_figure(image.plot(), output / "rtm.png")
    lines.append(
        f"  RTM    : correlation with true perturbation {_correlation(image.image, reference, below_water):.2f} -> rtm.sgy"
    )

    ls = lsrtm(
        survey, v0, method="cg", iterations=3 if fast else 8, output=output / "lsrtm.sgy", progress=progress
    )
    save_figure(ls.plot(), output / "lsrtm.png")
    misfit = ls.history["misfit"]
    lines.append(
        f"  LSRTM  : correlation {_correlation(ls.image, reference, below_water):.2f}, data misfit "
        f"{misfit[-1] / misfit[0]:.2f} of initial after {len(misfit) - 1} CG iterations -> lsrtm.sgy"
    )

    # The demo owns its output folder: a previous demo's FWI run is replaced, not resumed. The
    # run writes the final model and its figure (fwi_run/model.sgy, fwi_run/fwi.png): no copies.
    shutil.rmtree(output / "fwi_run", ignore_errors=True)
    inversion = fwi(
        survey, v0, true=vp, bands=[3.0, 5.0] if fast else [4.0, 7.0, 10.0], iterations=2 if fast else 6,
        optimizer="lbfgs", bounds=(1400.0, float(vp.max())), water_depth=water * spacing[1], run_dir=output / "fwi_run",
        progress=progress,
    )  # fmt: skip
    err0 = float(np.linalg.norm(v0 - vp) / np.linalg.norm(vp))
    lines.append(
        f"  FWI    : relative model error {err0:.4f} -> {inversion.model_error:.4f}; misfit "
        f"{inversion.misfit_initial:.3g} -> {inversion.misfit_final:.3g} -> fwi_run/model.sgy"
    )
    lines.append(
        f"  figures: survey.png rtm.png lsrtm.png fwi_run/fwi.png; total {time.perf_counter() - start:.0f} s"
    )
    return "\n".join(lines)
