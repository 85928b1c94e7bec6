"""Workflow configuration: defaults, round trip, and errors that name the key, the value and what is valid."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from geolearn.errors import ConfigError
from geolearn.runs import Config, describe_keys, load_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    vel = tmp_path / "vp.bin"
    vel.write_bytes(b"\0" * 16)
    shots = tmp_path / "shots.sgy"
    shots.write_bytes(b"\0" * 16)
    return {"vel": vel, "shots": shots, "dir": tmp_path}


def minimal(files, **sections):
    raw = {"velocity": {"path": str(files["vel"]), "format": "npy"}, "survey": {"path": str(files["shots"])}}
    for name, table in sections.items():
        raw.setdefault(name, {}).update(table)
    return raw


def test_defaults_and_types(files):
    cfg = load_config(minimal(files))
    assert isinstance(cfg, Config)
    assert cfg.fwi.iterations == 10 and cfg.fwi.bounds == (1400.0, 5000.0) and cfg.fwi.bands == ()
    assert cfg.parallel.client == "serial" and cfg.parallel.ordered is True
    cfg = load_config(minimal(files, fwi={"bounds": [1500, 4500], "bands": [3, 5.5]}))
    assert cfg.fwi.bounds == (1500.0, 4500.0) and all(isinstance(b, float) for b in cfg.fwi.bands)


def test_toml_file_relative_paths_and_round_trip(files):
    toml = files["dir"] / "run.toml"
    toml.write_text(
        '[run]\nworkflow = "rtm"\noutput_dir = "out"\n'
        '[survey]\npath = "shots.sgy"\n[velocity]\npath = "vp.bin"\nformat = "bin"\nshape = [2, 2]\n'
        '[parallel]\nclient = "tcp://10.0.0.5:8786"\n'
    )
    cfg = load_config(toml)
    assert cfg.run.workflow == "rtm"
    assert cfg.survey.path == str(files["shots"].resolve())
    assert cfg.run.output_dir == str((files["dir"] / "out").resolve())
    assert load_config(cfg.to_dict()) == cfg  # absolute paths survive a round trip from anywhere


def test_n_workers_auto_is_the_python_apis_none(files):
    """``parallel.n_workers`` defaults to "auto" (TOML has no null): the workflows' n_workers=None,
    one single-threaded worker per usable core; the run's written config round-trips it."""
    assert load_config(minimal(files)).parallel.n_workers is None
    cfg = load_config(minimal(files, parallel={"client": "local", "n_workers": "auto"}))
    assert cfg.parallel.n_workers is None and "n_workers" not in cfg.to_dict()["parallel"]
    assert load_config(cfg.to_dict()) == cfg
    assert load_config(minimal(files, parallel={"n_workers": 3})).parallel.n_workers == 3


def test_overrides_are_validated(files):
    assert load_config(minimal(files), overrides={"fwi.iterations": 3}).fwi.iterations == 3
    with pytest.raises(ConfigError, match=r"^fwi\.iterations = 0 is invalid: must be >= 1$"):
        load_config(minimal(files), overrides={"fwi.iterations": 0})
    with pytest.raises(ConfigError, match=r"must look like 'section\.key'"):
        load_config(minimal(files), overrides={"iterations": 3})


def test_environment_variables_in_paths(files, monkeypatch):
    monkeypatch.setenv("GL_TEST_DATA", str(files["dir"]))
    cfg = load_config(minimal(files, velocity={"path": "${GL_TEST_DATA}/vp.bin"}))
    assert cfg.velocity.path == str(files["vel"].resolve())
    monkeypatch.delenv("GL_TEST_DATA")
    with pytest.raises(ConfigError, match=r"velocity\.path = '\$\{GL_TEST_DATA\}/vp\.bin' .*not set"):
        load_config(minimal(files, velocity={"path": "${GL_TEST_DATA}/vp.bin"}))


@pytest.mark.parametrize(
    ("section", "table", "message"),
    [
        (
            "fwi",
            {"iteratons": 5},
            r"unknown key 'fwi\.iteratons' \(did you mean 'fwi\.iterations'\?\); valid keys in \[fwi\]: misfit, ",
        ),
        ("fwi", {"misfit": "l3"}, r"fwi\.misfit = 'l3' is invalid: must be one of 'l2', 'ncc', 'envelope'"),
        ("fwi", {"optimizer": "sgd"}, r"fwi\.optimizer = 'sgd' is invalid: must be one of 'lbfgs', 'adam'"),
        (
            "fwi",
            {"bounds": [3000, 2000]},
            r"fwi\.bounds = \[3000\.0, 2000\.0\] is invalid: must be \[v_min, v_max\] with v_min < v_max",
        ),
        ("fwi", {"bounds": [1500.0]}, r"fwi\.bounds = \[1500\.0\] is invalid: must have exactly 2 elements"),
        (
            "fwi",
            {"bands": [5.0, 3.0]},
            r"fwi\.bands = \[5\.0, 3\.0\] is invalid: must be strictly increasing",
        ),
        ("fwi", {"bands": [3.0, "x"]}, r"fwi\.bands\[1\] = 'x' is invalid: must be a number"),
        ("fwi", {"bands": [0.0, 3.0]}, r"fwi\.bands = \[0\.0, 3\.0\] is invalid: must be > 0\.0"),
        ("fwi", {"iterations": 2.5}, r"fwi\.iterations = 2\.5 is invalid: must be an integer"),
        ("fwi", {"iterations": True}, r"fwi\.iterations = True is invalid: must be an integer"),
        (
            "fwi",
            {"estimate_wavelet": "yes"},
            r"fwi\.estimate_wavelet = 'yes' is invalid: must be true or false",
        ),
        ("modelling", {"space_order": 7}, r"modelling\.space_order = 7 is invalid: must be even"),
        ("modelling", {"space_order": 20}, r"modelling\.space_order = 20 is invalid: must be <= 16 and >= 2"),
        (
            "parallel",
            {"client": "lcoal"},
            r"parallel\.client = 'lcoal' is invalid: must be 'serial', 'local' or a scheduler address",
        ),
        ("parallel", {"n_workers": 0}, r"parallel\.n_workers = 0 is invalid: must be >= 1"),
        (
            "parallel",
            {"n_workers": "four"},
            r"parallel\.n_workers = 'four' is invalid: must be \"auto\" or an integer",
        ),
        ("parallel", {"n_workers": 2.5}, r"parallel\.n_workers = 2\.5 is invalid: must be an integer"),
        (
            "run",
            {"dtype": "float16"},
            r"run\.dtype = 'float16' is invalid: must be one of 'float32', 'float64'",
        ),
        (
            "velocity",
            {"crop": [10.0, 5.0, 0.0, 100.0]},
            r"velocity\.crop = \[10\.0, 5\.0, 0\.0, 100\.0\] is invalid: must be \[x_min, x_max",
        ),
        ("wavelet", {"peak_frequency": -5}, r"wavelet\.peak_frequency = -5\.0 is invalid: must be > 0\.0"),
    ],
)
def test_errors_name_key_value_and_valid_choices(files, section, table, message):
    with pytest.raises(ConfigError, match=message):
        load_config(minimal(files, **{section: table}))


def test_structural_and_cross_key_errors(files):
    with pytest.raises(ConfigError, match=r"unknown section \[fwii\] \(did you mean \[fwi\]\?\)"):
        load_config({**minimal(files), "fwii": {}})
    with pytest.raises(ConfigError, match=r"fwi must be a table \(\[fwi\]\), got int 3"):
        load_config({**minimal(files), "fwi": 3})
    raw = minimal(files, velocity={"format": "bin"})
    with pytest.raises(ConfigError, match=r"velocity\.shape is required when velocity\.format = 'bin'"):
        load_config(raw)
    with pytest.raises(ConfigError, match=r"velocity\.path is required for run\.workflow = 'fwi'"):
        load_config({"survey": {"path": str(files["shots"])}})
    with pytest.raises(ConfigError, match=r"survey\.path is required for run\.workflow = 'lsrtm'"):
        load_config({"run": {"workflow": "lsrtm"}, "velocity": {"path": str(files["vel"])}})
    cfg = load_config({"velocity": {"path": str(files["vel"]), "true_path": str(files["vel"])}})
    assert cfg.survey.path is None  # FWI on data synthesised from the true model
    with pytest.raises(ConfigError, match=r"survey\.path = '.*missing\.sgy' is invalid: file not found"):
        load_config(minimal(files, survey={"path": str(files["dir"] / "missing.sgy")}))


def test_bad_toml_and_missing_file(files):
    bad = files["dir"] / "bad.toml"
    bad.write_text("[fwi\niterations = 3\n")
    with pytest.raises(ConfigError, match=r"bad\.toml is not valid TOML"):
        load_config(bad)
    with pytest.raises(FileNotFoundError, match=r"nope\.toml"):
        load_config(files["dir"] / "nope.toml")


def test_example_config_loads(monkeypatch, data_dir):
    monkeypatch.setenv("GEOLEARN_DATA_DIR", str(data_dir))
    cfg = load_config(REPO / "examples" / "fwi_marmousi.toml")
    assert cfg.velocity.shape == (1601, 401) and cfg.velocity.units == "km/s"
    assert cfg.fwi.bands == (4.0, 6.0, 10.0) and cfg.parallel.client == "local"
    assert Path(cfg.velocity.true_path) == (data_dir / "marmousi" / "vp_marmousi_bi").resolve()


def test_every_key_is_documented_with_its_default():
    doc = (REPO / "docs" / "workflows_config.md").read_text()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z_]+\.[a-z_]+)` \|.*$", doc, re.M)}
    keys = describe_keys()
    assert len(keys) > 40
    for entry in keys:
        assert entry["key"] in rows, f"{entry['key']} missing from docs/workflows_config.md"
        if entry["default"] is not None:
            default = (
                repr(list(entry["default"]))
                if isinstance(entry["default"], tuple)
                else repr(entry["default"])
            )
            assert (
                default.replace("'", '"').replace("True", "true").replace("False", "false")
                in rows[entry["key"]]
            ), entry["key"]
    assert set(rows) == {e["key"] for e in keys}  # no stale keys documented
