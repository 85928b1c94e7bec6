"""Tiny wave problems shared by the learned-inversion tests (40 x 24 grid, 2-3 shots, space order 4)."""

from __future__ import annotations

import numpy as np
import torch

from geolearn.learned_inversion.training_models.generator import linear_background
from geolearn.wave import Geometry, Model

SHAPE, SPACING = (40, 24), (10.0, 10.0)
VMAX = 3000.0  # largest velocity any test model reaches (generator + learned FWI updates)
#: Training seeds every assertion on a learned result is checked for.
SEEDS = (0, 1, 2)
#: The background of :func:`transfer_problem` (m/s at the top, m/s per m), unlike the training one.
TRANSFER_BACKGROUND = {"v_top": 2300.0, "gradient": 1.5}


def tiny_problem(
    dtype: torch.dtype = torch.float32, *, shift_receivers: float = 0.0, tn: float = 0.25, vmax: float = VMAX
):
    """Background-velocity model and a 2-shot surface geometry with a time step stable up to ``vmax`` m/s."""
    v0 = linear_background(SHAPE, SPACING)
    model = Model(v0, SPACING, nbl=8, space_order=4, dtype=dtype)
    src = np.stack([np.array([100.0, 290.0]), np.full(2, 10.0)], 1)
    rec = np.stack(
        [np.linspace(0.0, 390.0, 20) * (1 - shift_receivers / 390.0) + shift_receivers, np.full(20, 10.0)], 1
    )
    dt = 0.8 * model.critical_dt(vmax)
    return model, Geometry(model, src, rec, tn=tn, f0=14.0, dt=dt), torch.as_tensor(v0, dtype=dtype)


def transfer_problem(dtype: torch.dtype = torch.float32, *, spacing=SPACING, f0: float = 14.0):
    """Another survey on the same kind of grid: 3 shots at other places, 15 receivers deeper and
    shorter, a longer record, and a steeper, faster background than :func:`tiny_problem`."""
    v0 = linear_background(SHAPE, spacing, **TRANSFER_BACKGROUND)
    model = Model(v0, spacing, nbl=8, space_order=4, dtype=dtype)
    extent = (SHAPE[0] - 1) * spacing[0]
    src = np.stack([np.array([0.15, 0.5, 0.85]) * extent, np.full(3, 2 * spacing[1])], 1)
    rec = np.stack([np.linspace(0.05, 0.95, 15) * extent, np.full(15, 2 * spacing[1])], 1)
    dt = 0.8 * model.critical_dt(VMAX)
    return model, Geometry(model, src, rec, tn=0.3, f0=f0, dt=dt), torch.as_tensor(v0, dtype=dtype)


def single_torch_thread():
    """Generator for an autouse fixture: one torch thread while Devito runs its OpenMP kernels.

    torch's OpenMP workers spin after each parallel op and starve Devito's OpenMP threads on a
    2-core machine (measured: a DEQ memory test took 190 s instead of 2 s after training convs).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def flat_parameters(net: torch.nn.Module):
    """``(theta0, unflatten)``: the parameters of ``net`` as one vector, and the map back to a
    ``{name: tensor}`` dict for ``torch.func.functional_call`` (for Taylor tests over all parameters)."""
    named = list(net.named_parameters())
    theta0 = torch.cat([p.detach().flatten() for _, p in named])

    def unflatten(theta: torch.Tensor) -> dict[str, torch.Tensor]:
        params, i = {}, 0
        for name, p in named:
            params[name] = theta[i : i + p.numel()].reshape(p.shape)
            i += p.numel()
        return params

    return theta0, unflatten
