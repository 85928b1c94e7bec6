"""The configuration side of field data: [survey] read overrides, [wavelet] kinds, [[preprocess]], and
examples/field_survey.toml run end to end on the field-like line."""

from __future__ import annotations

from pathlib import Path

import pytest

from geolearn.cli.demo_field import build_field_survey, image_score
from geolearn.errors import ConfigError
from geolearn.io import read_volume
from geolearn.runs import load_config, run_from_config

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "field_survey.toml"


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    return build_field_survey(tmp_path_factory.mktemp("field"), seed=0, fast=True)


def files_of(field, out: Path) -> dict:
    return {"survey.path": str(field.survey), "velocity.path": str(field.velocity), "run.output_dir": str(out),
            "run.progress": False}  # fmt: skip


def test_the_field_example_runs_with_its_preprocessing_and_estimated_wavelet(field, tmp_path):
    cfg = load_config(EXAMPLE, overrides=files_of(field, tmp_path / "rtm"))
    assert [s.name for s in cfg.preprocess.steps] == ["edit", "bandpass"]
    assert cfg.wavelet.kind == "estimate" and cfg.rtm.water_mute and cfg.rtm.display_gain == "agc"
    result = run_from_config(cfg)
    assert (tmp_path / "rtm" / "image.png").is_file()
    image = read_volume(tmp_path / "rtm" / "image.sgy").data
    # The edit step dropped the dead traces: fewer receivers than recorded.
    assert sum(result.problem.n_receivers) == 760 - len(field.answer_key()["dead_traces"])
    # Seed 0 measured: 0.552 (the command line without preprocessing: 0.571).
    assert image_score(image, field.answer_key()) > 0.5


def test_survey_overrides_and_wavelet_kinds_are_validated_at_load(field, tmp_path):
    base = files_of(field, tmp_path)
    cfg = load_config(EXAMPLE, overrides={**base, "survey.header": {"source_x": 73, "group_x": [81, 4]},
                                          "survey.coordinate_units": "m", "wavelet.kind": "file",
                                          "wavelet.path": str(field.wavelet)})  # fmt: skip
    assert cfg.survey.header == {"source_x": 73, "group_x": [81, 4]} and cfg.wavelet.path == str(
        field.wavelet
    )
    again = load_config(cfg.to_dict())  # [[preprocess]] and the header table survive the round trip
    assert again.preprocess == cfg.preprocess and again.survey.header == cfg.survey.header
    cases = [
        ({"survey.header": {"source_x": 75}}, r"survey\.header = .* byte 75 is not the start of a field"),
        ({"survey.header": {"sauce_x": 73}}, r"unknown header mapping key\(s\) \['sauce_x'\]"),
        ({"survey.z_positive": "downwards"}, r"survey\.z_positive = 'downwards' is invalid"),
        ({"wavelet.kind": "file"}, r"wavelet\.path is required for wavelet\.kind = 'file'"),
        ({"wavelet.kind": "estimate", "run.workflow": "fwi"}, r"fwi\.estimate_wavelet"),
    ]
    for overrides, message in cases:
        with pytest.raises(ConfigError, match=message):
            load_config(EXAMPLE, overrides={**base, **overrides})


def test_preprocess_steps_are_checked_at_load_and_against_the_time_axis_before_any_solve(field, tmp_path):
    text = EXAMPLE.read_text().replace('step = "bandpass"', 'step = "bandpas"')
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match=r"preprocess\[1\].*bandpas"):
        load_config(bad, overrides=files_of(field, tmp_path))
    above_nyquist = tmp_path / "nyquist.toml"
    above_nyquist.write_text(EXAMPLE.read_text().replace("high = 14.0", "high = 200.0"))
    cfg = load_config(above_nyquist, overrides=files_of(field, tmp_path / "out"))
    with pytest.raises(ConfigError, match=r"preprocess\[1\] \(bandpass\).*Nyquist"):
        run_from_config(cfg)  # 4 ms data: 125 Hz Nyquist, refused before the first solve
    assert not (tmp_path / "out" / "image.sgy").exists()
    with pytest.raises(ConfigError, match="a list of step tables"):
        load_config(
            {**load_config(EXAMPLE, overrides=files_of(field, tmp_path)).to_dict(), "preprocess": {"a": 1}}
        )
