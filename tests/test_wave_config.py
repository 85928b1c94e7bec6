"""Devito configuration through geolearn: compile options in one object, a quiet log by default."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from geolearn.errors import ConfigError
from geolearn.wave import Geometry, Model, WaveConfig, WaveModeling, build_count, configure
from geolearn.wave.config import wave_config


@pytest.fixture
def restore_config():
    before = wave_config()
    yield
    configure(**{f: getattr(before, f) for f in ("language", "platform", "opt", "compiler", "log_level")})


def devito_log_level(env: dict[str, str]) -> str:
    """Devito's log level in a fresh process after geolearn imported Devito."""
    code = "import geolearn.wave.config as c; print(c.devito().configuration['log-level'])"
    base = {k: v for k, v in os.environ.items() if not k.startswith("DEVITO_")}
    out = subprocess.run(
        [sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


def test_devito_is_quiet_unless_the_user_says_otherwise():
    assert devito_log_level({}) == "WARNING"
    assert devito_log_level({"DEVITO_LOGGING": "DEBUG"}) == "DEBUG"


def test_defaults_follow_the_environment(monkeypatch):
    from geolearn.wave import config

    monkeypatch.delenv("DEVITO_LANGUAGE", raising=False)
    monkeypatch.delenv("DEVITO_LOGGING", raising=False)
    assert config._from_environment() == WaveConfig(language="openmp", log_level="WARNING")
    monkeypatch.setenv("DEVITO_LANGUAGE", "C")
    monkeypatch.setenv("DEVITO_LOGGING", "INFO")
    assert config._from_environment() == WaveConfig(language=None, log_level=None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"language": "fortran"}, "language must be one of"),
        ({"platform": "abacus"}, "platform must be one of"),
        ({"compiler": "tcc"}, "compiler must be one of"),
        ({"opt": "fastest"}, "opt level must be one of"),
        ({"opt": ("advanced", "x")}, "opt must be one of"),
        ({"log_level": "LOUD"}, "log_level must be one of"),
        ({"threads": 2}, "unknown WaveConfig fields \\['threads'\\]"),
    ],
)
def test_configure_rejects(options, message, restore_config):
    with pytest.raises(ConfigError, match=message):
        configure(**options)


def test_compile_options_reach_the_operators(restore_config):
    """Other options build their own operators (cached apart) with the same results."""
    from geolearn.threads import set_threads

    vp = np.full((40, 30), 2000.0)
    model = Model(vp, (10.0, 10.0), nbl=10, space_order=4, dtype=torch.float64)
    geo = Geometry(model, [[200.0, 20.0]], np.array([[100.0, 30.0], [300.0, 30.0]]), tn=0.2, f0=12.0)
    F = WaveModeling(model, geo)
    set_threads(2)
    try:
        reference = F()
        assert F.performance.last.threads == 2
        configure(opt="noop", language="C")
        before = build_count()
        plain = F()
        assert build_count() == before + 1
        assert F.performance.last.threads == 1  # plain C has no threads, whatever the budget
        torch.testing.assert_close(plain, reference, rtol=1e-12, atol=1e-12 * float(reference.abs().max()))
        configure(opt=("advanced", {"blockinner": True}), language="openmp")
        assert wave_config().opt == ("advanced", (("blockinner", True),))
        F()
        assert build_count() == before + 2
    finally:
        set_threads(None)
