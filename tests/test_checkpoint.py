"""Run directories and atomic state: exact round trips, crash-safe writes, resume equals uninterrupted."""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from geolearn.atomic import atomic_path, atomic_write, stale_temporaries
from geolearn.io.state import load_state, restore_rng, rng_state, save_state
from geolearn.runs import RunDirectory, load_config

TESTS = Path(__file__).resolve().parent


def _config(tmp_path: Path) -> dict:
    vp = tmp_path / "vp.npy"
    np.save(vp, np.full((4, 3), 2000.0, dtype=np.float32))
    return {"run": {"seed": 7}, "velocity": {"path": str(vp), "true_path": str(vp), "format": "npy"}}


def _rich_state() -> dict:
    model = torch.linspace(1.5, 4.5, 12, dtype=torch.float64).reshape(4, 3).requires_grad_()
    opt = torch.optim.Adam([model], lr=0.1)
    model.sum().backward()
    opt.step()
    np_rng = np.random.default_rng(12345)
    np_rng.standard_normal(3)
    mt = np.random.Generator(np.random.MT19937(3))
    gen = torch.Generator().manual_seed(99)
    torch.randn(5, generator=gen)
    return {
        "model": np.arange(12, dtype=np.float32).reshape(4, 3),
        "model_t": model.detach().clone().requires_grad_(),
        "optimizer": opt.state_dict(),
        "lbfgs": {
            "s": [np.ones(3), np.zeros(3)],
            "y": [np.full(3, 2.0), np.ones(3)],
            "rho": (0.5, 0.25),
            "H0": 1.5,
        },
        "iteration": 12,
        "band": 1,
        "rng": {**rng_state(numpy=np_rng, torch_generator=gen), "mt": mt.bit_generator.state},
        "history": [{"misfit": 1.0, "step": np.float32(0.5)}, {"misfit": float("nan"), "step": None}],
        "half": torch.tensor([1.5, -2.25], dtype=torch.bfloat16),
        "labels": {(0, "a"): "x", 3: True, "2": [1, 2]},
        "path": Path("/data/shots.sgy"),
        "empty": {},
    }


def _assert_same(a, b, where="state"):
    assert type(a) is type(b), f"{where}: {type(a)} vs {type(b)}"
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), where
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.requires_grad == b.requires_grad and torch.equal(a, b), where
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


def test_state_round_trip_is_exact(tmp_path):
    state = _rich_state()
    save_state(tmp_path, state)
    loaded = load_state(tmp_path)
    _assert_same(state, loaded)
    assert loaded["rng"]["numpy"]["state"]["state"] > 2**64  # 128-bit PCG64 integers survive
    # Restored optimiser and RNGs continue exactly like the originals.
    np_a = np.random.default_rng(0)
    np_a.bit_generator.state = state["rng"]["numpy"]
    np_b, gen_b = np.random.default_rng(1), torch.Generator()
    restore_rng(loaded["rng"], numpy=np_b, torch_generator=gen_b)
    assert np.array_equal(np_a.standard_normal(4), np_b.standard_normal(4))
    gen_a = torch.Generator()
    gen_a.set_state(state["rng"]["torch"])
    assert torch.equal(torch.randn(4, generator=gen_a), torch.randn(4, generator=gen_b))
    p = torch.zeros(4, 3, dtype=torch.float64, requires_grad=True)
    torch.optim.Adam([p], lr=0.1).load_state_dict(loaded["optimizer"])


def test_restore_rng_refuses_missing_state():
    with pytest.raises(KeyError, match="no 'torch' RNG state; captured: \\['numpy'\\]"):
        restore_rng(rng_state(numpy=np.random.default_rng(0)), torch_generator=torch.Generator())


def test_unsupported_value_names_its_position_and_writes_nothing(tmp_path):
    save_state(tmp_path, {"iteration": 1})
    with pytest.raises(TypeError, match=r"state\.optimizer\.lr: unsupported type object"):
        save_state(tmp_path, {"iteration": 2, "optimizer": {"lr": object()}})
    with pytest.raises(TypeError, match=r"state\.x: numpy array of dtype object"):
        save_state(tmp_path, {"x": np.array([1, "a"], dtype=object)})
    assert load_state(tmp_path) == {"iteration": 1}
    assert stale_temporaries(tmp_path / "state.npz") == []


def test_exception_mid_write_leaves_previous_state(tmp_path, monkeypatch):
    import numpy.lib.format as npformat

    save_state(tmp_path, {"iteration": 1, "model": np.ones(100)})
    real_write, calls = npformat.write_array, []

    def failing_write(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("No space left on device")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(npformat, "write_array", failing_write)
    with pytest.raises(OSError, match="No space left"):
        save_state(tmp_path, {"iteration": 2, "model": np.zeros(100), "extra": np.zeros(3)})
    monkeypatch.undo()
    state = load_state(tmp_path)
    assert state["iteration"] == 1 and np.array_equal(state["model"], np.ones(100))
    assert stale_temporaries(tmp_path / "state.npz") == []


def test_process_killed_mid_write_leaves_previous_state(tmp_path):
    script = textwrap.dedent(
        f"""
        import os, signal
        import numpy as np, numpy.lib.format as npformat
        from geolearn.io.state import save_state
        save_state({str(tmp_path)!r}, {{"iteration": 1, "model": np.ones((200, 100))}})
        real, calls = npformat.write_array, []
        def dying_write(fid, arr, *a, **k):
            calls.append(1)
            if len(calls) == 2:  # the model array is half on disk: die without any cleanup
                fid.write(b"x" * 1000)
                os.kill(os.getpid(), signal.SIGKILL)
            return real(fid, arr, *a, **k)
        npformat.write_array = dying_write
        save_state({str(tmp_path)!r}, {{"iteration": 2, "model": np.zeros((200, 100)), "b": np.zeros(5)}})
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    leftovers = stale_temporaries(tmp_path / "state.npz")
    assert len(leftovers) == 1 and leftovers[0].stat().st_size > 1000  # the interrupted write existed
    state = load_state(tmp_path)
    assert state["iteration"] == 1 and np.array_equal(state["model"], np.ones((200, 100)))
    (tmp_path / "config.toml").write_text("")  # make it look like a run for open()
    RunDirectory.open(tmp_path)
    assert stale_temporaries(tmp_path / "state.npz") == []


def test_run_directory_create_open_and_config(tmp_path):
    raw = _config(tmp_path)
    run = RunDirectory.create(tmp_path / "runs" / "a", raw)
    assert run.config_path.is_file() and not run.has_state
    given, stored = load_config(raw), run.load_config()
    # The stored configuration names its own directory ("." in the file), wherever it was asked to go.
    assert (
        stored.run.output_dir == str(run.path.resolve()) and 'output_dir = "."' in run.config_path.read_text()
    )
    assert (
        dataclasses.replace(stored, run=dataclasses.replace(stored.run, output_dir=given.run.output_dir))
        == given
    )
    with pytest.raises(FileExistsError, match="already holds a run"):
        RunDirectory.create(tmp_path / "runs" / "a", raw)
    run.save_state({"iteration": 3})
    again = RunDirectory.create(tmp_path / "runs" / "a", raw, overwrite=True)
    assert not again.has_state
    with pytest.raises(FileNotFoundError, match=r"config\.toml is missing"):
        RunDirectory.open(tmp_path)
    with pytest.raises(FileNotFoundError, match="no saved state"):
        again.load_state()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        RunDirectory(tmp_path / "nowhere")


def test_atomic_write_helpers(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_write(target, "w") as fh:
        fh.write("first")
    with pytest.raises(RuntimeError), atomic_write(target, "w") as fh:
        fh.write("second, never visible")
        raise RuntimeError
    assert target.read_text() == "first" and stale_temporaries(target) == []
    with pytest.raises(FileNotFoundError, match="nothing was written"), atomic_path(target):
        pass
    with pytest.raises(ValueError, match="'a'"), atomic_write(target, "a"):
        pass
    with pytest.raises(FileNotFoundError, match="does not exist"), atomic_write(tmp_path / "no" / "x"):
        pass


# -- resume equals uninterrupted ------------------------------------------------------------------

TOY_SHOTS, TOY_ITERS, KILL_AT = 6, 7, 4


def toy_inversion(run_dir: str, kill_at: int | None = None) -> tuple[torch.Tensor, list]:
    """A stochastic inversion with Adam, random shot subsets (numpy) and gradient noise (torch)."""
    run = RunDirectory.open(run_dir)
    seed = run.load_config().run.seed
    ops = torch.from_numpy(np.random.default_rng(seed).standard_normal((TOY_SHOTS, 5, 8)))
    true = torch.linspace(1.0, 2.0, 8, dtype=torch.float64)
    data = ops @ true
    model = torch.zeros(8, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([model], lr=0.05)
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    start, history = 0, []
    if run.has_state:
        state = run.load_state()
        with torch.no_grad():
            model.copy_(state["model"])
        opt.load_state_dict(state["optimizer"])
        restore_rng(state["rng"], numpy=rng, torch_generator=gen)
        start, history = state["iteration"], state["history"]
    for it in range(start, TOY_ITERS):
        shots = rng.choice(TOY_SHOTS, size=3, replace=False)
        loss = sum(((ops[s] @ model - data[s]) ** 2).sum() for s in shots)
        opt.zero_grad()
        loss.backward()
        if it == kill_at:  # die mid-iteration, after its random draws
            os.kill(os.getpid(), signal.SIGKILL)
        model.grad += 1e-2 * torch.randn(8, generator=gen, dtype=torch.float64)
        opt.step()
        history.append({"iteration": it + 1, "misfit": float(loss.detach()), "shots": shots})
        run.save_state(
            {
                "model": model.detach(),
                "optimizer": opt.state_dict(),
                "iteration": it + 1,
                "rng": rng_state(numpy=rng, torch_generator=gen),
                "history": history,
            }
        )
    return model.detach(), history


def test_killed_and_resumed_run_equals_uninterrupted(tmp_path):
    raw = _config(tmp_path)
    straight = RunDirectory.create(tmp_path / "straight", raw)
    expected_model, expected_history = toy_inversion(str(straight.path))

    interrupted = RunDirectory.create(tmp_path / "interrupted", raw)
    code = f"import sys; sys.path.insert(0, {str(TESTS)!r}); import test_checkpoint as t; t.toy_inversion({str(interrupted.path)!r}, kill_at={KILL_AT})"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert load_state(interrupted.path)["iteration"] == KILL_AT

    model, history = toy_inversion(str(interrupted.path))
    assert torch.equal(model, expected_model)
    _assert_same(history, expected_history, "history")
    assert history[-1]["misfit"] < history[0]["misfit"]
