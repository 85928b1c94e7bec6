"""Simultaneous-source encoding: supershots equal the weighted sums of single shots, dot and Taylor
tests of the encoded operators, reproducible draws, the common-receiver rule, solve counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geolearn import ledger
from geolearn.errors import ConfigError, GeometryError, NonFiniteError, ShapeError
from geolearn.operators import dot_test, taylor_test
from geolearn.wave import (
    BornOperator,
    Geometry,
    Model,
    ShotPropagator,
    SourceEncoding,
    SourceModeling,
    WaveModeling,
    encode,
    encode_records,
    fwi_objective,
)

F64 = torch.float64
# Encoded F, J, Jᵀ against weighted sums of single-shot results, float64: measured 1.3e-15 (F),
# 6.7e-15 to 1.1e-14 (J, Jᵀ) relative; the sum inside the propagation and the sum after it only
# round differently.
AGREE = 1e-12
# Misfit and gradient: the residual F(v) − d is 370x smaller than the records here, so the
# records' rounding shows larger in it: measured 1.1e-13 (value) and 3.3e-13 (gradient).
AGREE_RESIDUAL = 1e-10


def layered(fs=False, dtype=F64):
    v = np.full((40, 30), 2000.0)
    v[:, 15:] = 2500.0
    return Model(v, (10.0, 10.0), nbl=8, space_order=8, free_surface=fs, dtype=dtype)


def fixed_spread(model, n_shots=4, wavelet_per_shot=False):
    """Sources along the surface, 20 receivers shared by every shot (ocean-bottom style)."""
    src = np.stack([np.linspace(50.0, 340.0, n_shots), np.full(n_shots, 20.0)], 1)
    rec = np.stack([np.linspace(0.0, 390.0, 20), np.full(20, 30.0)], 1)
    if not wavelet_per_shot:
        return Geometry(model, src, rec, tn=0.3, f0=15.0)
    geo = Geometry(model, src, rec, tn=0.3, f0=15.0)
    shifts = [np.roll(geo.wavelets[0].numpy(), 3 * i) * (1 + 0.2 * i) for i in range(n_shots)]
    return Geometry(model, src, rec, tn=0.3, wavelet=np.stack(shifts))


def perturbation(model, amp=40.0):
    x, z = np.meshgrid(*[np.arange(n) for n in model.shape], indexing="ij")
    return torch.as_tensor(amp * np.exp(-(((x - 20) / 5.0) ** 2 + ((z - 18) / 4.0) ** 2)), dtype=model.dtype)


def rel(a, b):
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


# ---------------------------------------------------------------- exactness of the encoded experiment
@pytest.mark.parametrize(("kind", "fs"), [("rademacher", False), ("gaussian", True)])
def test_encoded_modeling_and_born_equal_weighted_sums(kind, fs):
    model = layered(fs=fs)
    geo = fixed_spread(model, wavelet_per_shot=True)
    enc = SourceEncoding(geo, kind, n_supershots=2, seed=3)
    W = enc.weights
    assert enc.geometry.n_shots == 2 and tuple(enc.geometry.wavelets.shape) == (2, 4, geo.nt)

    d = WaveModeling(model, geo)()
    d_enc = WaveModeling(model, enc.geometry)()
    assert rel(d_enc, encode_records(d, W)) < AGREE
    assert rel(d_enc, enc.encode_data(d)) < AGREE

    v0 = model.vp * 0.98
    J, J_enc = BornOperator(model, geo, v0), BornOperator(model, enc.geometry, v0)
    dv = perturbation(model)
    assert rel(J_enc(dv), encode_records(J(dv), W)) < AGREE
    r = torch.randn(J_enc.range_shape, dtype=F64, generator=torch.Generator().manual_seed(0))
    # (W ⊗ I) J is the encoded J, so its adjoint is Jᵀ applied to Wᵀ r.
    assert rel(J_enc.T(r), J.T(torch.einsum("ks,krt->srt", W, r))) < AGREE


def test_encoded_gradient_equals_gradient_of_encoded_single_shot_misfit():
    """fwi_objective on the supershots = autograd of ½‖Σ_i w_i (F_i(v) − d_i)‖² through single shots."""
    model = layered()
    geo = fixed_spread(model)
    obs = WaveModeling(model, geo)(model.vp + perturbation(model))
    enc = SourceEncoding(geo, "gaussian", seed=5)
    v0 = model.vp.clone()
    value, grad = fwi_objective(v0, enc.geometry, enc.encode_data(obs))
    v = v0.clone().requires_grad_(True)
    loss = 0.5 * encode_records(WaveModeling(model, geo)(v) - obs, enc.weights).pow(2).sum()
    loss.backward()
    assert abs(float(value) - float(loss.detach())) < AGREE_RESIDUAL * float(loss.detach())
    assert rel(grad, v.grad) < AGREE_RESIDUAL
    # Checkpointing a supershot: same arithmetic as the stored wavefield.
    _, grad_ckpt = fwi_objective(v0, enc.geometry, enc.encode_data(obs), memory="checkpoint", n_checkpoints=5)
    assert rel(grad_ckpt, grad) < 1e-13


# ---------------------------------------------------------------- dot and Taylor tests
@pytest.mark.parametrize(
    ("kind", "subset", "fs", "dtype", "tol"),
    [
        ("rademacher", None, False, F64, 1e-6),
        ("gaussian", 3, True, F64, 1e-6),
        ("rademacher", 2, False, torch.float32, 1e-4),
    ],
)
def test_encoded_born_dot(kind, subset, fs, dtype, tol):
    model = layered(fs=fs, dtype=dtype)
    enc = SourceEncoding(fixed_spread(model, n_shots=5), kind, n_supershots=2, subset=subset, seed=1)
    assert dot_test(BornOperator(model, enc.geometry, model.vp * 1.02), n_trials=2, tol=tol) < tol


def test_encoded_source_modeling_dot():
    """Wavelets of a supershot, one per source point: domain (n_supershots, npoint, nt)."""
    model = layered()
    enc = SourceEncoding(fixed_spread(model), "gaussian", n_supershots=2, seed=2)
    S = SourceModeling(model, enc.geometry)
    assert S.domain_shape == (2, 4, enc.geometry.nt)
    assert dot_test(S, n_trials=1, tol=1e-6) < 1e-6


def test_taylor_encoded_objective_and_modeling():
    model = layered()
    geo = fixed_spread(model)
    obs = WaveModeling(model, geo)(model.vp + perturbation(model))
    enc = SourceEncoding(geo, "rademacher", n_supershots=2, subset=3, seed=4)
    obs_enc = enc.encode_data(obs)
    v0 = model.vp.clone()
    _, grad = fwi_objective(v0, enc.geometry, obs_enc)
    res = taylor_test(
        lambda v: fwi_objective(v, enc.geometry, obs_enc)[0],
        v0,
        perturbation(model, 20.0),
        grad=grad,
        n_halvings=6,
        n_fit=4,
    )
    assert res.passed, res.table()
    # Through the encoded F with autograd, w.r.t. velocity; the wavelet gradient is linear and exact.
    F = WaveModeling(model, enc.geometry)
    res = taylor_test(
        lambda v: 0.5 * (F(v) - obs_enc).pow(2).sum(), v0, perturbation(model, 20.0), n_halvings=6, n_fit=4
    )
    assert res.passed, res.table()
    weights = torch.randn(enc.geometry.record_shape, generator=torch.Generator().manual_seed(0), dtype=F64)
    w = enc.geometry.wavelets.clone().requires_grad_(True)
    (F(model.vp, w) * weights).sum().backward()
    dw = torch.randn(w.shape, generator=torch.Generator().manual_seed(1), dtype=F64)
    lin = float((F(model.vp, dw) * weights).sum())
    assert abs(float((w.grad * dw).sum()) - lin) < 1e-10 * abs(lin)


def test_shot_propagator_on_a_supershot():
    model = layered()
    geo = fixed_spread(model)
    enc = SourceEncoding(geo, "gaussian", n_supershots=2, seed=6)
    d_enc = WaveModeling(model, enc.geometry)()
    prop = ShotPropagator(model, enc.geometry, model.vp, shot=1)
    d, _ = prop.forward()
    assert np.array_equal(d, d_enc[1].numpy())


# ---------------------------------------------------------------- draws
def test_draws_are_reproducible_and_redrawn():
    model = layered()
    geo = fixed_spread(model, n_shots=6)

    def four_draws(enc):
        out = [enc.weights.clone()]
        for _ in range(3):
            enc.draw()
            out.append(enc.weights.clone())
        return out

    a = SourceEncoding(geo, "rademacher", n_supershots=2, subset=4, seed=11)
    first = four_draws(a)
    second = four_draws(SourceEncoding(geo, "rademacher", n_supershots=2, subset=4, seed=11))
    assert all(torch.equal(x, y) for x, y in zip(first, second))
    assert not torch.equal(first[0], first[1])  # redrawn
    assert a.n_draws == 4
    assert not torch.equal(
        SourceEncoding(geo, "rademacher", n_supershots=2, subset=4, seed=12).weights, first[0]
    )
    # ±scale on exactly 4 shots per supershot, scale sqrt(6 / (2·4)).
    for w in first:
        assert ((w != 0).sum(1) == 4).all()
        assert torch.allclose(w[w != 0].abs(), torch.full_like(w[w != 0], (6 / 8) ** 0.5))
    # A shared generator continues; state_dict resumes the sequence of draws.
    state = a.state_dict()
    a.draw()
    nxt = a.weights.clone()
    c = SourceEncoding(geo, "rademacher", n_supershots=2, subset=4, seed=0)
    c.load_state_dict(state)
    assert torch.equal(c.weights, first[-1]) and c.n_draws == 4
    c.draw()
    assert torch.equal(c.weights, nxt)


@pytest.mark.parametrize(
    ("kind", "n_supershots", "subset"), [("rademacher", 2, 3), ("gaussian", 1, None), ("subset", 1, 2)]
)
def test_unbiased_scaling(kind, n_supershots, subset):
    """E[WᵀW] = I: the encoded misfit is an unbiased estimate of the full one (no wave solve)."""
    model = layered()
    enc = SourceEncoding(
        fixed_spread(model, n_shots=5), kind, n_supershots=n_supershots, subset=subset, seed=0
    )
    draws, total = 4000, torch.zeros(5, 5, dtype=F64)
    for _ in range(draws):
        enc.draw()
        total += enc.weights.T @ enc.weights
    mean = total / draws
    # Entries of WᵀW have standard deviation ≤ sqrt(2) · 5/(K·s) · K (Gaussian, K=1, s=5: 1.41);
    # over 4000 draws that is ≤ 0.022 standard errors: 0.1 is > 4.4 of them.
    assert float((mean - torch.eye(5, dtype=F64)).abs().max()) < 0.1


def test_random_shot_subsets_need_no_common_receivers():
    model = layered()
    src = np.stack([np.linspace(50.0, 340.0, 4), np.full(4, 20.0)], 1)
    recs = [np.stack([np.linspace(0.0, 390.0, 8 + 2 * i), np.full(8 + 2 * i, 30.0)], 1) for i in range(4)]
    geo = Geometry(model, src, recs, tn=0.3, f0=15.0)
    enc = SourceEncoding(geo, "subset", subset=2, seed=7)
    assert enc.geometry.n_shots == 2 and len(enc.shots) == 2
    d = WaveModeling(model, geo)()
    d_sub = WaveModeling(model, enc.geometry)()
    assert rel(d_sub, enc.encode_data(d)) < AGREE  # scale sqrt(4/2) on the wavelets and on the data
    assert enc.encode_data(d).shape == enc.geometry.record_shape


# ---------------------------------------------------------------- bad input, before any solve
def test_shots_with_different_receivers_are_refused():
    model = layered()
    src = np.stack([np.linspace(50.0, 340.0, 4), np.full(4, 20.0)], 1)
    spread = np.stack([np.linspace(0.0, 390.0, 20), np.full(20, 30.0)], 1)
    moved = spread + np.array([0.0, 10.0])
    geo = Geometry(model, src, [spread, moved, spread, spread[:10]], tn=0.3, f0=15.0)
    with pytest.raises(GeometryError, match=r"shots 1, 3 record at other positions than shot 0"):
        SourceEncoding(geo, "rademacher")
    with pytest.raises(GeometryError, match=r"shots 1 record"):
        encode(geo, [1.0, -1.0, 0.0, 0.0])
    assert encode(geo, [1.0, 0.0, -1.0, 0.0]).n_shots == 1  # shots 0 and 2 share their spread


def test_bad_encodings():
    model = layered()
    geo = fixed_spread(model)
    with pytest.raises(ShapeError, match=r"\(n_supershots, 4\)"):
        encode(geo, np.ones((2, 3)))
    with pytest.raises(NonFiniteError):
        encode(geo, [1.0, np.nan, 1.0, 1.0])
    with pytest.raises(ConfigError, match="all weights are zero"):
        encode(geo, np.zeros(4))
    with pytest.raises(ConfigError, match="kind must be one of"):
        SourceEncoding(geo, "hadamard")
    with pytest.raises(ConfigError, match=r"subset must be a number of shots in 1\.\.4"):
        SourceEncoding(geo, "gaussian", subset=5)
    with pytest.raises(ConfigError, match="give subset"):
        SourceEncoding(geo, "subset")
    with pytest.raises(ConfigError, match="n_supershots"):
        SourceEncoding(geo, n_supershots=0)
    with pytest.raises(ShapeError, match="records have shape"):
        SourceEncoding(geo, seed=0).encode_data(torch.zeros(3, 20, geo.nt, dtype=F64))


# ---------------------------------------------------------------- cost in wave-equation solves
def test_one_propagation_per_supershot():
    """J and Jᵀ of the encoded survey propagate once per supershot where the full survey does once
    per shot; the cost ledger counts the same."""
    model = layered()
    geo = fixed_spread(model, n_shots=6)
    enc = SourceEncoding(geo, "rademacher", seed=0)
    J, J_enc = BornOperator(model, geo, cache=None), BornOperator(model, enc.geometry, cache=None)
    dv = perturbation(model)
    solves = []
    for op in (J, J_enc):
        with ledger.count_solves() as cost:
            op.T(op(dv))
        solves.append(cost.solves)
        assert op.applications == {"forward": 1, "adjoint": 1}
    calls = {
        name: {k: s.calls for k, s in op.performance.summary().items()}
        for name, op in (("full", J), ("enc", J_enc))
    }
    assert calls["full"] == {"geolearn_born": 6, "geolearn_forward": 6, "geolearn_adjoint": 6}
    assert calls["enc"] == {"geolearn_born": 1, "geolearn_forward": 1, "geolearn_adjoint": 1}
    # Nothing kept (cache=None): J is a Born sweep of background and scattered field (2 solves),
    # Jᵀ a background forward and an adjoint (2), per supershot; 6 times that for the full survey.
    assert solves == [6 * 4, 4]
