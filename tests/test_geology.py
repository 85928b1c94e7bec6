"""Training data that generalise: geological models, Marmousi training crops, migration backgrounds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.interpolate import RegularGridInterpolator
from scipy.ndimage import gaussian_filter, gaussian_filter1d

from geolearn.errors import ConfigError, ModelError
from geolearn.io.marmousi import MARMOUSI_SPACING, marmousi_crop
from geolearn.learned_inversion.training_models.backgrounds import migration_backgrounds, smooth_slowness
from geolearn.learned_inversion.training_models.geology import (
    GEOLOGY_KINDS,
    GeologyOptions,
    draw_geology,
    geological_model,
    geological_models,
)
from geolearn.learned_inversion.training_models.marmousi_augment import (
    MARMOUSI_EVALUATION_REGIONS,
    MARMOUSI_GRID,
    check_outside_evaluation,
    marmousi_evaluation_crops,
    marmousi_training_crops,
    marmousi_training_regions,
)

SHAPE, SPACING = (160, 60), (10.0, 10.0)
WIDE = (1000.0, 6000.0)  # a velocity range that no sediment reaches: contrasts are never clipped


def detrended(m):
    """Velocity minus the compaction trend of the rock rows, m/s, ``(nx, nz_rock)``."""
    return (m.velocity - m.trend)[:, m.water_rows :]


def test_same_seed_same_models_and_other_seeds_differ():
    a = geological_models(6, SHAPE, SPACING, seed=3, water_depth=(0.0, 80.0))
    b = geological_models(6, SHAPE, SPACING, seed=3, water_depth=(0.0, 80.0))
    assert a.shape == (6, *SHAPE) and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    # The first models do not depend on how many are drawn.
    np.testing.assert_array_equal(
        geological_models(2, SHAPE, SPACING, seed=3, water_depth=(0.0, 80.0)), a[:2]
    )
    other = geological_models(6, SHAPE, SPACING, seed=4, water_depth=(0.0, 80.0))
    assert all(np.abs(a[i] - other[i]).mean() > 50.0 for i in range(6))
    assert all(np.abs(a[i] - a[j]).mean() > 50.0 for i in range(6) for j in range(i))
    one = geological_model(SHAPE, SPACING, seed=11, kinds=GEOLOGY_KINDS)
    np.testing.assert_array_equal(one, geological_model(SHAPE, SPACING, seed=11, kinds=GEOLOGY_KINDS))


@pytest.mark.parametrize("velocity_range", [(1500.0, 4800.0), (1700.0, 4500.0)])
def test_every_velocity_lies_in_the_range(velocity_range):
    options = GeologyOptions(salt_velocity=(4400.0, 4500.0))
    models = geological_models(40, (64, 40), SPACING, seed=1, velocity_range=velocity_range,
                               kinds=dict.fromkeys(GEOLOGY_KINDS, 0.6), options=options)  # fmt: skip
    lo, hi = velocity_range
    assert models.min() >= lo and models.max() <= hi, (models.min(), models.max())
    assert models.max() >= 4400.0  # salt was drawn and kept inside the range


def test_water_layer_is_exactly_1500_m_s_and_only_on_top():
    m = draw_geology(SHAPE, SPACING, seed=2, water_depth=95.0, kinds=GEOLOGY_KINDS)
    assert m.water_rows == 10  # rows at 0, 10, ..., 90 m lie above 95 m
    np.testing.assert_array_equal(m.velocity[:, :10], 1500.0)
    assert m.masks["water"][:, :10].all() and not m.masks["water"][:, 10:].any()
    assert np.isnan(m.paleo_depth[:, :10]).all() and np.isfinite(m.paleo_depth[:, 10:]).all()
    assert (m.velocity[:, 10:] != 1500.0).mean() > 0.95
    depths = [
        draw_geology(SHAPE, SPACING, seed=s, water_depth=d).water_rows for s, d in ((0, 0.0), (0, 10.0))
    ]
    assert depths == [0, 1]


def test_compaction_trend_makes_velocity_increase_with_depth():
    for seed in range(3):
        m = draw_geology(SHAPE, SPACING, seed=seed, water_depth=50.0, kinds=())
        assert (np.diff(m.trend[:, m.water_rows :], axis=1) > 0).all()
    # Layer contrasts (80-350 m/s) hide the trend in one model; over 20 models it shows.
    for seed in range(3):
        rock = geological_models(20, SHAPE, SPACING, seed=seed, water_depth=50.0)[:, :, 5:].mean(axis=(0, 1))
        slope = np.polyfit(np.arange(rock.size) * SPACING[1], rock, 1)[0]
        assert slope > 0.3, slope  # 1/s: drawn gradients are 0.3-1 1/s


def test_salt_body_is_faster_than_4400_m_s_with_an_irregular_top():
    for seed in range(3):
        m = draw_geology(SHAPE, SPACING, seed=seed, kinds=("salt",))
        salt = m.masks["salt"]
        assert salt.mean() > 0.01, salt.mean()
        assert m.velocity[salt].min() >= 4400.0 and m.velocity[salt].max() <= 4800.0
        assert np.ptp(m.velocity[salt]) == 0.0  # homogeneous
        cols = salt.any(axis=1)
        top = np.argmax(salt, axis=1)[cols].astype(float)
        rugosity = np.sqrt(np.mean((top - gaussian_filter1d(top, 5.0)) ** 2))
        assert rugosity > 0.5, rugosity  # cells: the top is not a smooth dome (measured 1.7-3.6)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_fault_offsets_the_layers_by_its_throw(seed):
    options = GeologyOptions(max_dip_deg=0.0, fault_count=(1, 1))  # flat layers: only the fault moves them
    m = draw_geology(SHAPE, SPACING, seed=seed, kinds=("faults",), options=options, velocity_range=WIDE)
    (fault,) = m.faults
    paleo, dz = m.paleo_depth, SPACING[1]
    level = fault.depth_m
    sense = 1.0 if fault.style == "normal" else -1.0
    # Columns beyond both cut-offs of the horizon (at `level` and `level ± throw`), 3 cells away.
    cutoffs = [fault.plane_x(level), fault.plane_x(level + sense * fault.throw_m)]
    x_hanging = (max if fault.direction > 0 else min)(cutoffs) + fault.direction * 30.0
    x_foot = (min if fault.direction > 0 else max)(cutoffs) - fault.direction * 30.0
    i_hanging, i_foot = round(x_hanging / SPACING[0]), round(x_foot / SPACING[0])
    horizon = np.argmax(paleo >= level, axis=1) * dz  # depth of the horizon in each column
    jump = horizon[i_hanging] - horizon[i_foot]
    assert abs(jump - sense * fault.throw_m) < dz, (jump, fault)
    assert (
        np.ptp(horizon[: min(i_hanging, i_foot) - 1]) == 0
        and np.ptp(horizon[max(i_hanging, i_foot) + 1 :]) == 0
    )
    # The velocity shows the same offset: away from the fault (150 m further), the hanging-wall
    # column is the footwall column shifted by the throw, over the rows where each stays in its block.
    z = np.arange(SHAPE[1]) * dz
    i_h = int(np.clip(i_hanging + fault.direction * 15, 0, SHAPE[0] - 1))
    i_f = int(np.clip(i_foot - fault.direction * 15, 0, SHAPE[0] - 1))
    in_h = fault.hanging_wall(np.full(z.shape, i_h * SPACING[0]), z)
    in_f = ~fault.hanging_wall(np.full(z.shape, i_f * SPACING[0]), z)
    a, b = detrended(m)[i_f], detrended(m)[i_h]
    misfit = {}
    for lag in range(-15, 16):
        rows = [j for j in range(SHAPE[1]) if in_h[j] and 0 <= j - lag < SHAPE[1] and in_f[j - lag]]
        if len(rows) >= 15:
            misfit[lag] = np.abs(b[rows] - a[np.array(rows) - lag]).mean()
    best = min(misfit, key=misfit.get)
    assert abs(best * dz - sense * fault.throw_m) <= dz, (best, misfit)


def test_channels_change_the_velocity_within_a_bounded_depth_band():
    for seed in range(3):
        m = draw_geology(SHAPE, SPACING, seed=seed, kinds=("channels",), velocity_range=WIDE)
        channel = m.masks["channel"][:, m.water_rows :]
        assert channel.sum() >= 6 and channel.any(axis=1).mean() < 0.8
        fills = {c.fill_contrast for c in m.channels}
        inside = detrended(m)[channel]
        assert np.abs(inside[:, None] - np.array(sorted(fills))[None]).min(axis=1).max() < 1e-9
        assert min(abs(f) for f in fills) >= 150.0
        # Each cut is at most its channel's depth thick (tilting keeps vertical thicknesses).
        X = np.arange(SHAPE[0])[:, None] * SPACING[0] + 0 * channel
        for c in m.channels:
            assert c.mask(X, m.paleo_depth).sum(axis=1).max() * SPACING[1] <= c.depth_m + SPACING[1]
        # Channels are drawn last: the same seed without them gives the same layers, so the
        # channels change the velocity inside their cuts and nowhere else.
        plain = draw_geology(SHAPE, SPACING, seed=seed, kinds=(), velocity_range=WIDE).velocity
        np.testing.assert_array_equal(m.velocity[~m.masks["channel"]], plain[~m.masks["channel"]])
        assert (np.abs(m.velocity - plain)[m.masks["channel"]] > 1.0).mean() > 0.8


def test_thin_beds_are_thinner_than_the_wavelength():
    spacing = (5.0, 5.0)
    wavelength = 1500.0 / 20.0  # m: the shortest wavelength of a 20 Hz survey
    for seed in range(3):
        m = draw_geology((100, 80), spacing, seed=seed, kinds=("thin_beds",), velocity_range=WIDE)
        beds = np.array(m.thin_bed_thicknesses_m)
        assert beds.size >= 6 and beds.min() >= spacing[1] and beds.max() <= 3 * spacing[1] < wavelength / 4
        thin = m.masks["thin_beds"][:, m.water_rows :]
        column = int(np.argmax(thin.sum(axis=1)))
        rows = np.nonzero(thin[column])[0]
        profile = detrended(m)[column, rows]
        boundaries = np.nonzero(np.abs(np.diff(profile)) > 1.0)[0]
        assert boundaries.size >= 4, boundaries
        assert np.diff(boundaries).max() * spacing[1] < wavelength / 2


def test_an_unconformity_truncates_older_dipping_layers():
    for seed in range(3):
        m = draw_geology(SHAPE, SPACING, seed=seed, kinds=("unconformity",), velocity_range=WIDE)
        below = m.masks["below_unconformity"][:, m.water_rows :]
        assert 0.1 < below.mean() < 0.9
        paleo = m.paleo_depth[:, m.water_rows :]
        gx, gz = np.gradient(paleo, *SPACING)
        dip = np.degrees(np.arctan2(-gx, gz))
        inner = np.zeros_like(below)
        inner[2:-2, 2:-2] = True
        above_dip = np.median(dip[~below & inner & ~np.roll(below, 2, 1)])
        below_dip = np.median(dip[below & inner & np.roll(below, -2, 1)])
        assert abs(below_dip - above_dip) >= 5.0, (above_dip, below_dip)
        # The erosion surface cuts several old layers: they subcrop it side by side.
        first_old = np.argmax(below, axis=1)
        subcrop = detrended(m)[np.arange(SHAPE[0]), first_old + 1]
        assert np.unique(np.round(subcrop, 6)).size >= 3


def test_folds_make_the_dip_vary_laterally():
    def dip_spread(kinds, seed):
        m = draw_geology(SHAPE, SPACING, seed=seed, kinds=kinds)
        gx, gz = np.gradient(m.paleo_depth, *SPACING)
        return np.std(np.degrees(np.arctan2(-gx, gz))[5:-5, SHAPE[1] // 2])

    for seed in range(3):
        assert dip_spread((), seed) < 0.01
        assert dip_spread(("folds",), seed) > 1.0


def test_kind_probabilities_set_the_mix():
    drawn = [
        draw_geology((16, 16), SPACING, seed=s, kinds={"salt": 0.5, "faults": 1.0}).kinds for s in range(200)
    ]
    assert all("faults" in k for k in drawn) and all(set(k) <= {"salt", "faults"} for k in drawn)
    n_salt = sum("salt" in k for k in drawn)
    assert 70 <= n_salt <= 130, n_salt  # binomial(200, 0.5): mean 100, 3 sigma 21
    assert draw_geology((16, 16), SPACING, seed=0, kinds=["channels", "folds"]).kinds == ("folds", "channels")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"shape": (4, 40)},
        {"spacing": (10.0, -1.0)},
        {"kinds": ("faults", "volcano")},
        {"kinds": {"salt": 1.5}},
        {"kinds": "salt"},
        {"velocity_range": (1500.0, 4000.0), "kinds": ("salt",)},
        {"velocity_range": (1600.0, 4800.0), "water_depth": 50.0},
        {"water_depth": 590.0},
        {"options": GeologyOptions(thin_bed_m=(2.0, 20.0))},
    ],
)
def test_bad_input_is_refused_with_the_value_named(kwargs):
    args = {"shape": SHAPE, "spacing": SPACING, "seed": 0} | kwargs
    with pytest.raises(ConfigError):
        draw_geology(**args)


def test_bad_options_are_refused():
    with pytest.raises(ConfigError, match="fault_count"):
        GeologyOptions(fault_count=(3, 1))
    with pytest.raises(ConfigError, match="max_dip_deg"):
        GeologyOptions(max_dip_deg=80.0)


# --- Marmousi training crops ---------------------------------------------------------------


@pytest.fixture(scope="module")
def marmousi(data_dir):
    return marmousi_crop(0.0, *MARMOUSI_GRID, 1, data_dir=data_dir)[0]


def test_evaluation_and_training_regions_split_marmousi():
    regions = sorted(MARMOUSI_EVALUATION_REGIONS)
    assert len(regions) >= 2 and all(hi - lo >= 3060.0 for lo, hi in regions)  # a 300-cell crop at 10 m
    assert all(a[1] < b[0] for a, b in itertools.pairwise(regions))
    training = marmousi_training_regions()
    total = sum(hi - lo for lo, hi in training) + sum(hi - lo for lo, hi in regions)
    assert total == (MARMOUSI_GRID[0] - 1) * MARMOUSI_SPACING
    with pytest.raises(ConfigError, match="evaluation region"):
        check_outside_evaluation(4000.0, 4400.0)
    check_outside_evaluation(training[0][0], training[0][1] - 1.0)


@pytest.mark.parametrize(("shape", "spacing"), [((24, 16), (25.0, 25.0)), ((120, 40), (25.0, 20.0))])
def test_training_crops_never_read_an_evaluation_region(marmousi, shape, spacing):
    # Every evaluation column of the reference becomes a sentinel; a crop that read one would show it.
    x = np.arange(MARMOUSI_GRID[0]) * MARMOUSI_SPACING
    marked = marmousi.copy()
    for lo, hi in MARMOUSI_EVALUATION_REGIONS:
        marked[(x >= lo) & (x <= hi)] = 1e6
    extents = []
    for seed in range(8):
        crops = marmousi_training_crops(
            25, shape, spacing, seed=seed, reference=marked, max_displacement_m=60.0
        )
        assert crops.velocity.max() < 5000.0
        for lo, hi in crops.x_extent_m:
            check_outside_evaluation(lo, hi)
        extents.append(crops.x_extent_m)
    extents = np.concatenate(extents)
    edges = [e for region in MARMOUSI_EVALUATION_REGIONS for e in region if 0 < e < x[-1]]
    closest = min(min(abs(extents[:, 0] - e).min(), abs(extents[:, 1] - e).min()) for e in edges)
    assert closest < 300.0, closest  # crops do come right up to the evaluation regions
    if shape == (24, 16):  # small crops are drawn from every training region
        used = {
            i for lo, _ in extents for i, (a, b) in enumerate(marmousi_training_regions()) if a <= lo <= b
        }
        assert used == set(range(len(marmousi_training_regions())))


def test_crops_are_stretched_flipped_and_resampled_as_stated(marmousi):
    # At 7.5 m / stretch 1 and 15 m / stretch 2 no anti-alias smoothing applies: the crop is the
    # bilinear interpolant of Marmousi's slowness at origin + (x / stretch_x, z / stretch_z).
    slowness = RegularGridInterpolator([np.arange(n) * MARMOUSI_SPACING for n in MARMOUSI_GRID], 1 / marmousi)
    for spacing, stretch in (((7.5, 7.5), (1.0, 1.0)), ((15.0, 7.5), (2.0, 1.0)), ((7.5, 15.0), (1.0, 2.0))):
        crops = marmousi_training_crops(3, (40, 30), spacing, seed=5, reference=marmousi, max_displacement_m=0.0,
                                        horizontal_stretch=(stretch[0],) * 2, vertical_stretch=(stretch[1],) * 2,
                                        flip_probability=0.0)  # fmt: skip
        X, Z = np.meshgrid(np.arange(40) * spacing[0], np.arange(30) * spacing[1], indexing="ij")
        for v, (ox, oz) in zip(crops.velocity, crops.origin_m):
            expected = 1 / slowness(np.stack([ox + X / stretch[0], oz + Z / stretch[1]], axis=-1))
            np.testing.assert_allclose(v, expected, rtol=1e-10)
    kwargs = {"seed": 7, "reference": marmousi, "max_displacement_m": 0.0}
    plain = marmousi_training_crops(4, (40, 30), (20.0, 20.0), flip_probability=0.0, **kwargs)
    flipped = marmousi_training_crops(4, (40, 30), (20.0, 20.0), flip_probability=1.0, **kwargs)
    assert flipped.flipped.all() and not plain.flipped.any()
    np.testing.assert_allclose(flipped.velocity, plain.velocity[:, ::-1], rtol=1e-12)
    warped = marmousi_training_crops(4, (40, 30), (20.0, 20.0), seed=7, reference=marmousi, flip_probability=0.0,
                                     max_displacement_m=60.0)  # fmt: skip
    change = np.abs(warped.velocity - plain.velocity).mean(axis=(1, 2))
    assert (change > 1.0).sum() >= 3, change  # drawn amplitudes are uniform in [0, 60] m


def test_training_crops_with_water_and_evaluation_crops(marmousi):
    crops = marmousi_training_crops(10, (40, 30), (20.0, 20.0), seed=1, reference=marmousi, water_depth=60.0)
    np.testing.assert_array_equal(crops.velocity[:, :, :3], 1500.0)
    assert (crops.z_extent_m[:, 0] >= 202.5).all()  # only Marmousi's rock under the new water
    assert 0 < crops.flipped.sum() < 10
    evaluation = marmousi_evaluation_crops((300, 100), (10.0, 10.0), reference=marmousi)
    assert evaluation.shape == (len(MARMOUSI_EVALUATION_REGIONS), 300, 100)
    # Marmousi's own water (0-195 m); the 10 m anti-alias Gaussian reaches the sea floor from 190 m.
    np.testing.assert_allclose(evaluation[:, :, :19], 1500.0, rtol=1e-12)
    assert (evaluation[:, :, 21:] > 1500.0).mean() > 0.99
    with pytest.raises(ConfigError, match="evaluation"):
        marmousi_evaluation_crops((330, 40), (10.0, 10.0), reference=marmousi)
    with pytest.raises(ConfigError, match="training regions"):
        marmousi_training_crops(1, (200, 40), (25.0, 25.0), reference=marmousi)
    with pytest.raises(ConfigError, match="shape"):
        marmousi_training_crops(1, (20, 20, 3), (25.0, 25.0), reference=marmousi)
    with pytest.raises(ModelError, match="reference"):
        marmousi_training_crops(1, (20, 20), (25.0, 25.0), reference=marmousi[:100])


# --- Migration backgrounds ---------------------------------------------------------------


def high_wavenumber_energy(v):
    """Energy of the second differences along x and z: a high-pass filter (|H|² ∝ k⁴), per model."""
    return (np.diff(v, 2, axis=-2) ** 2).sum(axis=(-2, -1)) + (np.diff(v, 2, axis=-1) ** 2).sum(axis=(-2, -1))


def test_backgrounds_are_smoother_than_the_truth_and_ordered_by_length():
    truth = draw_geology(SHAPE, SPACING, seed=4, water_depth=80.0, kinds=GEOLOGY_KINDS).velocity
    lengths = (30.0, 60.0, 120.0, 240.0)
    backgrounds = migration_backgrounds(truth, SPACING, lengths, water_depth=80.0)
    assert backgrounds.shape == (4, *SHAPE)
    np.testing.assert_array_equal(
        backgrounds[:, :, :8], np.broadcast_to(truth[:, :8], (4, 160, 8))
    )  # exact water
    ratio = high_wavenumber_energy(backgrounds[:, :, 8:]) / high_wavenumber_energy(truth[:, 8:])
    assert ratio[0] < 0.05 and (np.diff(ratio) < 0).all(), ratio
    assert backgrounds.min() >= truth.min() and backgrounds.max() <= truth.max()  # averages of slowness
    # Smoothing is in slowness: a weighted harmonic mean, never above the same weights' arithmetic mean.
    in_slowness = smooth_slowness(truth, 60.0, SPACING)
    in_velocity = gaussian_filter(truth, (6.0, 6.0), mode="nearest")
    assert (in_slowness <= in_velocity + 1e-9).all() and (in_velocity - in_slowness).max() > 10.0


def test_backgrounds_with_velocity_errors_are_seeded_and_batched():
    truth = geological_models(3, (64, 40), SPACING, seed=2, water_depth=50.0)
    a = migration_backgrounds(truth, SPACING, (40.0, 80.0), seed=1, water_depth=50.0, velocity_error=0.03)
    b = migration_backgrounds(truth, SPACING, (40.0, 80.0), seed=1, water_depth=50.0, velocity_error=0.03)
    exact = migration_backgrounds(truth, SPACING, (40.0, 80.0), water_depth=50.0)
    assert a.shape == (3, 2, 64, 40)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, migration_backgrounds(truth, SPACING, (40.0, 80.0), seed=2, water_depth=50.0,
                                                       velocity_error=0.03))  # fmt: skip
    np.testing.assert_array_equal(a[..., :5], 1500.0)
    error = a[..., 5:] / exact[..., 5:] - 1
    assert 0.02 < np.sqrt(np.mean(error**2)) < 0.04
    with pytest.raises(ConfigError, match="lengths_m"):
        migration_backgrounds(truth, SPACING, (0.0,))
    with pytest.raises(ModelError):
        migration_backgrounds(-truth, SPACING)
