"""Figures of the training data for learned inversion: generated geology, Marmousi crops, backgrounds.

Writes three PNGs (default ``docs/figures/``):

- ``training_models.png``: one generated model per structure kind and two with all kinds, next to
  four augmented Marmousi training crops, all on one 300 × 100 grid at 10 m under 100 m of
  water and on one colour scale.
- ``training_models_marmousi_regions.png``: the full Marmousi model with its evaluation regions
  hatched and the footprints of 40 small training crops.
- ``training_models_backgrounds.png``: one model and its migration backgrounds over four lengths.

Run: ``python examples/plot_training_models.py [output_dir]`` (a few seconds; needs the
Marmousi file through ``GEOLEARN_DATA_DIR``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from geolearn.io.marmousi import MARMOUSI_SPACING, marmousi_crop
from geolearn.learned_inversion.training_models.backgrounds import migration_backgrounds
from geolearn.learned_inversion.training_models.geology import GEOLOGY_KINDS, draw_geology
from geolearn.learned_inversion.training_models.marmousi_augment import (
    MARMOUSI_EVALUATION_REGIONS,
    MARMOUSI_GRID,
    marmousi_training_crops,
)
from geolearn.viz import save_figure

SHAPE, SPACING, WATER = (300, 100), (10.0, 10.0), 100.0
COLOURS = {"cmap": "jet", "vmin": 1500.0, "vmax": 4800.0}  # one scale for every panel, m/s


def _show(ax: plt.Axes, v: np.ndarray, title: str, spacing=SPACING, origin=(0.0, 0.0)):
    extent = (origin[0], origin[0] + v.shape[0] * spacing[0], origin[1] + v.shape[1] * spacing[1], origin[1])
    im = ax.imshow(v.T, extent=extent, aspect="auto", interpolation="nearest", **COLOURS)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    return im


def models_panel(marmousi: np.ndarray, out: Path) -> None:
    generated = [
        draw_geology(SHAPE, SPACING, seed=s, water_depth=WATER, kinds=(k,))
        for s, k in enumerate(GEOLOGY_KINDS)
    ]
    generated += [
        draw_geology(SHAPE, SPACING, seed=100 + s, water_depth=WATER, kinds=GEOLOGY_KINDS) for s in range(2)
    ]
    crops = marmousi_training_crops(4, SHAPE, SPACING, seed=0, water_depth=WATER, reference=marmousi)
    fig, axes = plt.subplots(4, 3, figsize=(15, 10.5), sharex=True, sharey=True, constrained_layout=True)
    for ax, m in zip(axes.flat, generated):
        im = _show(ax, m.velocity, "generated: " + (", ".join(m.kinds) or "layers only"))
    for ax, v, (lo, hi), flip in zip(
        axes.flat[len(generated) :], crops.velocity, crops.x_extent_m, crops.flipped
    ):
        _show(ax, v, f"Marmousi training crop: x {lo:.0f}–{hi:.0f} m{', flipped' if flip else ''}")
    for ax in axes[-1]:
        ax.set_xlabel("x (m)", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("depth (m)", fontsize=8)
    fig.colorbar(im, ax=axes, shrink=0.6, label="velocity (m/s)")
    save_figure(fig, out / "training_models.png", dpi=90)


def regions_panel(marmousi: np.ndarray, out: Path) -> None:
    crops = marmousi_training_crops(40, (36, 30), (25.0, 25.0), seed=1, reference=marmousi)
    fig, ax = plt.subplots(figsize=(14, 4.2), constrained_layout=True)
    im = _show(ax, marmousi, "Marmousi: evaluation regions (hatched) and the footprints of 40 training crops of 875 m × 725 m",
               spacing=(MARMOUSI_SPACING,) * 2)  # fmt: skip
    for lo, hi in MARMOUSI_EVALUATION_REGIONS:
        ax.axvspan(lo, hi, facecolor="none", edgecolor="w", hatch="//", lw=1.5)
        ax.text((lo + hi) / 2, 150, "evaluation", color="w", ha="center", fontsize=10, weight="bold")
    for k, ((x0, x1), (z0, z1)) in enumerate(zip(crops.x_extent_m, crops.z_extent_m)):
        ax.add_patch(
            plt.Rectangle((x0, z0), x1 - x0, z1 - z0, fill=False, ec="k", lw=0.8, alpha=0.4 + 0.015 * k)
        )
    ax.set(xlabel="x (m)", ylabel="depth (m)", xlim=(0, (MARMOUSI_GRID[0] - 1) * MARMOUSI_SPACING))
    fig.colorbar(im, ax=ax, label="velocity (m/s)")
    save_figure(fig, out / "training_models_marmousi_regions.png", dpi=90)


def backgrounds_panel(out: Path) -> None:
    truth = draw_geology(SHAPE, SPACING, seed=101, water_depth=WATER, kinds=GEOLOGY_KINDS).velocity
    lengths = (50.0, 100.0, 200.0, 400.0)
    backgrounds = migration_backgrounds(
        truth, SPACING, lengths, seed=0, water_depth=WATER, velocity_error=0.02
    )
    fig, axes = plt.subplots(1, 5, figsize=(18, 2.8), sharey=True, constrained_layout=True)
    im = _show(axes[0], truth, "true model")
    for ax, v, length in zip(axes[1:], backgrounds, lengths):
        _show(ax, v, f"background: σ = {length:.0f} m in slowness, 2 % error")
    fig.colorbar(im, ax=axes, label="velocity (m/s)")
    save_figure(fig, out / "training_models_backgrounds.png", dpi=90)


def main(out: Path) -> None:
    marmousi = marmousi_crop(0.0, *MARMOUSI_GRID, 1)[0]
    models_panel(marmousi, out)
    regions_panel(marmousi, out)
    backgrounds_panel(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs" / "figures")
