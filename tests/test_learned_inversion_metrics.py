"""Model generator, quality metrics (PSNR, SSIM by hand), operator application counts and memory measurement."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from geolearn.errors import ConfigError, ModelError, ShapeError
from geolearn.learned_inversion.metrics import (
    data_misfit,
    gaussian_window,
    peak_memory,
    psnr,
    relative_misfit,
    ssim,
    ssim_map,
)
from geolearn.learned_inversion.training_models.generator import (
    MODEL_KINDS,
    WATER_VELOCITY,
    linear_background,
    random_model,
    random_models,
    reflectivity,
    smooth_velocity,
    stack_models,
    starting_models,
)
from geolearn.operators import MatrixOperator

SHAPE, SPACING = (40, 30), (10.0, 10.0)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_random_model_structure(kind):
    m = random_model(SHAPE, SPACING, kind=kind, seed=3, contrast=250.0)
    assert m.velocity.shape == SHAPE and m.kind == kind
    np.testing.assert_allclose(m.velocity, m.background + m.perturbation, rtol=0, atol=1e-9)
    # Background: 2000 m/s at the top, 0.5 (m/s)/m gradient, identical in every column.
    np.testing.assert_allclose(m.background[:, 0], 2000.0)
    np.testing.assert_allclose(m.background[7, -1], 2000.0 + 0.5 * 290.0)
    assert np.abs(m.perturbation).max() <= 250.0 + 1e-9
    assert np.abs(m.perturbation).max() >= 0.3 * 250.0  # at least one real interface
    # Reflectivity is the normal-incidence formula along depth.
    i, j = 11, 13
    v = m.velocity
    assert m.reflectivity[i, j] == pytest.approx((v[i, j + 1] - v[i, j]) / (v[i, j + 1] + v[i, j]))
    assert np.all(m.reflectivity[:, -1] == 0)
    # The detail field has (nearly) no mean: the smooth part is removed.
    assert abs(m.detail.mean()) < 0.05 * np.abs(m.detail).max()


def test_generator_seeded_and_kinds_differ():
    a = random_models(4, SHAPE, SPACING, seed=7)
    b = random_models(4, SHAPE, SPACING, seed=7)
    c = random_models(4, SHAPE, SPACING, seed=8)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.velocity, y.velocity)
    assert not np.array_equal(a[0].velocity, c[0].velocity)
    assert [m.kind for m in a] == ["layered", "faulted", "lens", "layered"]
    # A faulted model is not laterally invariant up to dip: columns left/right of the fault differ.
    t = stack_models(a, "perturbation", torch.float64)
    assert t.shape == (4, *SHAPE) and t.dtype == torch.float64


def test_water_layer_is_known_and_unperturbed():
    m = random_model(SHAPE, SPACING, kind="lens", seed=2, water_depth_m=25.0)  # rows at 0, 10, 20 m
    assert np.all(m.velocity[:, :3] == WATER_VELOCITY) and np.all(m.background[:, :3] == WATER_VELOCITY)
    assert np.all(m.perturbation[:, :3] == 0)
    np.testing.assert_allclose(m.background[:, 3], 2000.0 + 0.5 * 30.0)  # rock below keeps its background
    np.testing.assert_allclose(m.velocity, m.background + m.perturbation, rtol=0, atol=1e-9)
    with pytest.raises(ModelError, match=r"water_depth_m must lie in \[0, 290\) m"):
        random_model(SHAPE, SPACING, water_depth_m=300.0)


def test_parameter_ranges_are_drawn_per_model_and_seeded():
    ranges = {"v_top": (1500.0, 2200.0), "gradient": (0.0, 6.0), "water_depth_m": (0.0, 40.0)}
    a = random_models(12, SHAPE, SPACING, seed=4, **ranges)
    b = random_models(12, SHAPE, SPACING, seed=4, **ranges)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.velocity, y.velocity)
    slopes = np.array([(m.background[0, -1] - m.background[0, -2]) / 10.0 for m in a])  # 1/s
    rock_tops = np.array([m.background[0, -1] for m in a]) - 290.0 * slopes  # v_top, m/s
    assert np.all((rock_tops >= 1500.0 - 1e-6) & (rock_tops <= 2200.0 + 1e-6)) and np.ptp(rock_tops) > 100.0
    assert np.all((slopes >= 0) & (slopes <= 6.0)) and np.ptp(slopes) > 1.0
    assert len({int((m.background[0] == WATER_VELOCITY).sum()) for m in a}) > 1  # varied water depths
    # Scalars still give every model the same background (one Born operator for a training set).
    same = random_models(3, SHAPE, SPACING, seed=4, v_top=1800.0)
    assert all(np.array_equal(m.background, same[0].background) for m in same)
    with pytest.raises(ConfigError, match="gradient must be a number or a"):
        random_models(2, SHAPE, SPACING, gradient=(3.0, 1.0))


def test_starting_models_mix_backgrounds_and_smoothed_truths():
    models = random_models(20, SHAPE, SPACING, seed=1)
    starts = starting_models(models, smoothed_fraction=0.5, sigma_m=(30.0, 30.0), seed=0, dtype=torch.float64)
    assert starts.shape == (20, *SHAPE) and starts.dtype == torch.float64
    background = [torch.equal(s, torch.as_tensor(m.background)) for s, m in zip(starts, models)]
    smoothed = [
        torch.allclose(s, torch.as_tensor(smooth_velocity(m.velocity, 30.0, SPACING)))
        for s, m in zip(starts, models)
    ]
    assert all(a != b for a, b in zip(background, smoothed))  # each start is exactly one of the two
    assert 0 < sum(smoothed) < 20
    assert torch.equal(starting_models(models, seed=0), starting_models(models, seed=0))
    assert all(torch.equal(s, torch.as_tensor(m.background, dtype=torch.float32))
               for s, m in zip(starting_models(models, smoothed_fraction=0.0), models))  # fmt: skip
    with pytest.raises(ConfigError, match="smoothed_fraction"):
        starting_models(models, smoothed_fraction=1.5)


def test_generator_errors():
    with pytest.raises(ConfigError, match="kind must be one of"):
        random_model(SHAPE, SPACING, kind="salt")
    with pytest.raises(ConfigError, match="shape must be"):
        random_model((40,), SPACING)
    with pytest.raises(ModelError, match="contrast"):
        random_model(SHAPE, SPACING, contrast=5000.0)
    with pytest.raises(ConfigError, match="field must be"):
        stack_models(random_models(1, SHAPE, SPACING), "density")
    with pytest.raises(ModelError, match="gradient"):
        linear_background(SHAPE, SPACING, v_top=100.0, gradient=-10.0)


def test_reflectivity_hand_values():
    v = np.array([[1000.0, 1000.0, 3000.0]])
    np.testing.assert_allclose(reflectivity(v), [[0.0, 0.5, 0.0]])


def test_psnr_hand_value():
    ref = torch.zeros(4, 5, dtype=torch.float64)
    ref[0, 0] = 2.0  # data range 2
    est = ref + 0.1  # MSE 0.01
    assert float(psnr(est, ref)) == pytest.approx(10 * math.log10(4 / 0.01))
    batch = psnr(torch.stack([est, ref + 0.2]), torch.stack([ref, ref]), data_range=2.0)
    np.testing.assert_allclose(batch.numpy(), [10 * math.log10(400), 10 * math.log10(100)])
    with pytest.raises(ShapeError):
        psnr(est, ref[:3])
    with pytest.raises(ConfigError, match="constant"):
        psnr(est, torch.zeros(4, 5))


def _ssim_by_hand(x: np.ndarray, y: np.ndarray, i: int, j: int, w: np.ndarray, R: float) -> float:
    """SSIM of the window whose top-left corner is (i, j), with explicit weighted sums."""
    n = w.shape[0]
    px, py = x[i : i + n, j : j + n], y[i : i + n, j : j + n]
    mx, my = (w * px).sum(), (w * py).sum()
    vx = (w * (px - mx) ** 2).sum()
    vy = (w * (py - my) ** 2).sum()
    cxy = (w * (px - mx) * (py - my)).sum()
    c1, c2 = (0.01 * R) ** 2, (0.03 * R) ** 2
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))


def test_ssim_against_hand_computation():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(24, 20))
    x = 0.7 * y + 0.3 * rng.normal(size=y.shape) + 0.2
    w = gaussian_window(11, 1.5).numpy()
    assert w.sum() == pytest.approx(1.0) and w[5, 5] == w.max()
    R = float(y.max() - y.min())
    smap = ssim_map(torch.as_tensor(x), torch.as_tensor(y))[0].numpy()
    assert smap.shape == (14, 10)
    for i, j in [(0, 0), (5, 7), (13, 9)]:
        assert smap[i, j] == pytest.approx(_ssim_by_hand(x, y, i, j, w, R), rel=1e-10)
    assert float(ssim(torch.as_tensor(y), torch.as_tensor(y))) == pytest.approx(1.0)
    s = float(ssim(torch.as_tensor(x), torch.as_tensor(y)))
    assert s == pytest.approx(smap.mean()) and 0.05 < s < 0.5


def test_data_misfit():
    obs = torch.ones(2, 3, 4)
    value, rel = data_misfit(obs * 1.5, obs)
    assert value == pytest.approx(0.5 * 24 * 0.25) and rel == pytest.approx(0.5)


def test_relative_misfit_per_sample():
    obs = torch.tensor([[[3.0, 4.0]], [[1.0, 0.0]]])  # norms 5 and 1
    pred = torch.tensor([[[3.0, 4.0]], [[0.0, 0.0]]])
    torch.testing.assert_close(relative_misfit(pred, obs), torch.tensor([0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(relative_misfit(2 * obs, obs), torch.ones(2, dtype=torch.float64))
    with pytest.raises(ShapeError, match="equal-shape batches"):
        relative_misfit(pred, obs[:1])
    with pytest.raises(ValueError, match="identically zero"):
        relative_misfit(pred, torch.zeros_like(obs))


def test_an_operator_counts_the_applications_of_training_backward_and_skips_zero():
    """The cost the learned schemes are compared at: J/Jᵀ applications, counted by the operator
    itself, autograd's backward included (what training through J costs)."""
    M = torch.randn(6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    A = MatrixOperator(M)
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    loss = A.adjoint(A(x)).pow(2).sum()
    assert A.applications == {"forward": 5, "adjoint": 5}
    loss.backward()  # backward applies A and Aᵀ once more each, per sample
    assert A.applications == {"forward": 10, "adjoint": 10}
    assert torch.equal(A(torch.zeros(2, 4, dtype=torch.float64)), torch.zeros(2, 6, dtype=torch.float64))
    assert A.applications == {"forward": 10, "adjoint": 10}  # the zero batch cost nothing


def test_peak_memory_grows_with_held_tensors():
    def hold(n):
        return [torch.ones(100_000) for _ in range(n)]  # 400 kB each

    _, small = peak_memory(lambda: hold(2))
    _, large = peak_memory(lambda: hold(8))
    assert small.torch_bytes >= 2 * 400_000
    assert 3.0 < large.torch_bytes / small.torch_bytes < 5.0
    _, numpy_peak = peak_memory(lambda: np.ones(500_000))
    assert numpy_peak.python_bytes >= 4_000_000
