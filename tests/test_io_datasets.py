"""Dataset manifests and load_dataset: mirror first, then a verified pooch cache, clear errors otherwise."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import geolearn
from geolearn.errors import DatasetError
from geolearn.io import SegyFile, available_datasets, load_dataset
from geolearn.io.datasets import MANIFEST_DIR, load_manifest, tomllib

REPO = Path(__file__).resolve().parents[1]


def test_manifests_describe_the_files(data_dir):
    assert available_datasets() == ["judi-shots", "marmousi", "segyio-testdata"]
    for name in available_datasets():
        m = load_manifest(name)
        assert m["licence"] and m["citation"] and m["origin"].startswith("https://")
        ds = load_dataset(name, data_dir=data_dir, download=False)
        assert sorted(ds.files) == sorted(e["path"] for e in m["files"])
        for e in m["files"]:
            assert len(e["sha256"]) == 64 and e["url"].startswith("https://")
            if e["format"] == "segy" and "shape" in e:
                f = SegyFile.open(ds.path(e["path"]))
                assert [f.n_traces, f.nt] == e["shape"] and f.dt == pytest.approx(e["spacing"][0])
    assert len(load_manifest("segyio-testdata")["files"]) == 30


def test_manifests_ship_inside_the_package():
    # Found relative to the package (so a wheel finds them too), and the same files as data_manifests/.
    assert MANIFEST_DIR.parent == Path(geolearn.__file__).resolve().parent
    shipped = sorted(p.name for p in MANIFEST_DIR.glob("*.toml"))
    assert shipped == sorted(p.name for p in (REPO / "data_manifests").glob("*.toml"))
    with open(REPO / "pyproject.toml", "rb") as fh:
        package_data = tomllib.load(fh)["tool"]["setuptools"]["package-data"]["geolearn"]
    assert "data_manifests/*.toml" in package_data


def test_env_mirror_is_used(data_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("GEOLEARN_DATA_DIR", str(data_dir))
    monkeypatch.setenv("GEOLEARN_CACHE_DIR", str(tmp_path / "cache"))
    ds = load_dataset("judi-shots", download=False)
    assert (
        ds.path("unit_test_shot_records_2.segy") == data_dir / "judi-shots" / "unit_test_shot_records_2.segy"
    )
    with pytest.raises(DatasetError, match=r"has no file 'nope\.segy'"):
        ds.path("nope.segy")


def test_missing_everywhere_says_where_it_looked(tmp_path):
    with pytest.raises(
        DatasetError, match=r"not found \(looked in mirror .*empty.*judi-shots.*, cache .*cache"
    ):
        load_dataset("judi-shots", data_dir=tmp_path / "empty", cache_dir=tmp_path / "cache", download=False)
    with pytest.raises(DatasetError, match=r"no manifest .*'no-such-data'"):
        load_dataset("no-such-data")


def _copying_downloader(source_dir, corrupt=False):
    def download(url, output_file, pooch_obj):
        payload = (source_dir / url.rsplit("/", 1)[1]).read_bytes()
        with open(output_file, "wb") as fh:
            fh.write(payload[:100] + bytes([payload[100] ^ 1]) + payload[101:] if corrupt else payload)

    return download


def test_pooch_download_is_verified_and_cached(data_dir, tmp_path):
    src = data_dir / "judi-shots"
    cache = tmp_path / "cache"
    ds = load_dataset(
        "judi-shots", data_dir=tmp_path / "empty", cache_dir=cache, downloader=_copying_downloader(src)
    )
    assert ds.path("unit_test_shot_records_1.segy") == cache / "judi-shots" / "unit_test_shot_records_1.segy"
    # now cached: found without downloading
    again = load_dataset("judi-shots", data_dir=tmp_path / "empty", cache_dir=cache, download=False)
    assert again.files == ds.files
    with pytest.raises(DatasetError, match=r"download from https://.*failed"):
        load_dataset(
            "judi-shots",
            data_dir=tmp_path / "empty",
            cache_dir=tmp_path / "cache2",
            downloader=_copying_downloader(src, corrupt=True),
        )


def test_corrupted_mirror_is_refused(data_dir, tmp_path):
    mirror = tmp_path / "mirror" / "judi-shots"
    shutil.copytree(data_dir / "judi-shots", mirror)
    with open(mirror / "unit_test_shot_records_1.segy", "r+b") as fh:
        fh.seek(4000)
        fh.write(b"\x01")
    with pytest.raises(DatasetError, match=r"checksum mismatch for .*unit_test_shot_records_1\.segy"):
        load_dataset("judi-shots", data_dir=tmp_path / "mirror", download=False)
