"""Reference datasets described by ``data_manifests/*.toml`` and found, verified, or downloaded.

Each manifest lists a dataset's files with their sha256, origin URL, format, shape, spacing, units,
licence and citation. :func:`load_dataset` looks for the files

1. in the local mirror ``$GEOLEARN_DATA_DIR/<name>/`` (or ``data_dir=``), then
2. in the download cache (``$GEOLEARN_CACHE_DIR`` or pooch's OS cache, ``<cache>/<name>/``),
   fetching missing files from their URL with pooch when ``download=True``,

and verifies every file's checksum wherever it was found. When a file is nowhere, or a checksum
differs, it raises :class:`~geolearn.errors.DatasetError` saying where it looked.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pooch

from geolearn.errors import DatasetError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["Dataset", "available_datasets", "load_dataset", "load_manifest"]

log = logging.getLogger("geolearn.io.datasets")

# geolearn/data_manifests is a link to the repository's data_manifests/ (copied into wheels).
MANIFEST_DIR = Path(__file__).resolve().parents[1] / "data_manifests"
_SHA_MEMO: dict[tuple[str, int, int], str] = {}


def _sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA_MEMO:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        _SHA_MEMO[key] = digest.hexdigest()
    return _SHA_MEMO[key]


def available_datasets(manifest_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the datasets with a manifest."""
    return sorted(p.stem for p in Path(manifest_dir or MANIFEST_DIR).glob("*.toml"))


def load_manifest(name: str, manifest_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Parse ``<manifest_dir>/<name>.toml`` (default: the repository's ``data_manifests/``)."""
    path = Path(manifest_dir or MANIFEST_DIR) / f"{name}.toml"
    if not path.is_file():
        raise DatasetError(
            f"no manifest {path} for dataset {name!r}; known: {available_datasets(manifest_dir)}"
        )
    with open(path, "rb") as fh:
        manifest = tomllib.load(fh)
    for entry in manifest.get("files", []):
        if not {"path", "sha256", "url"} <= set(entry):
            raise DatasetError(f"{path}: file entry {entry} lacks path, sha256 or url")
    return manifest


@dataclass(frozen=True)
class Dataset:
    """A verified local copy of a reference dataset.

    Attributes
    ----------
    name : str
    files : dict of str to pathlib.Path
        Manifest path (e.g. ``"multiformats/Format1msb.sgy"``) to the verified local file.
    manifest : dict
        The parsed manifest (licence, citation, per-file format/shape/spacing/units).
    """

    name: str
    files: dict[str, Path]
    manifest: dict[str, Any]

    def path(self, relpath: str) -> Path:
        """Local path of one file of the dataset."""
        if relpath not in self.files:
            raise DatasetError(f"dataset {self.name!r} has no file {relpath!r}; files: {sorted(self.files)}")
        return self.files[relpath]

    def info(self, relpath: str) -> dict[str, Any]:
        """Manifest entry (format, shape, spacing, units, ...) of one file."""
        self.path(relpath)
        return next(e for e in self.manifest["files"] if e["path"] == relpath)


def _verify(path: Path, sha: str) -> None:
    got = _sha256(path)
    if got != sha:
        raise DatasetError(f"checksum mismatch for {path}: sha256 {got}, manifest says {sha}")


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    download: bool = True,
    downloader: Callable | None = None,
    manifest_dir: str | os.PathLike | None = None,
) -> Dataset:
    """Find (or fetch) and verify every file of dataset ``name``.

    Parameters
    ----------
    name : str
        Manifest name, e.g. ``"judi-shots"``, ``"segyio-testdata"``, ``"marmousi"``.
    data_dir : path-like, optional
        Local mirror holding ``<name>/``; default ``$GEOLEARN_DATA_DIR``.
    cache_dir : path-like, optional
        Download cache; default ``$GEOLEARN_CACHE_DIR`` or pooch's OS cache for "geolearn".
    download : bool
        Fetch files missing from mirror and cache (pooch checks the sha256 of each download).
    downloader : callable, optional
        A pooch downloader ``(url, output_file, pooch)``, e.g. with authentication or a proxy.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        A file is in neither place (and cannot be downloaded), or a checksum differs.
    """
    manifest = load_manifest(name, manifest_dir)
    mirror_root = data_dir or os.environ.get("GEOLEARN_DATA_DIR")
    mirror = Path(mirror_root) / name if mirror_root else None
    cache = Path(cache_dir or os.environ.get("GEOLEARN_CACHE_DIR") or pooch.os_cache("geolearn")) / name
    files: dict[str, Path] = {}
    for entry in manifest["files"]:
        rel, sha = entry["path"], entry["sha256"]
        local = mirror / rel if mirror else None
        cached = cache / rel
        if local is not None and local.is_file():
            _verify(local, sha)
            files[rel] = local
            continue
        if cached.is_file():
            _verify(cached, sha)
            files[rel] = cached
            continue
        looked = f"mirror {local if local else '(GEOLEARN_DATA_DIR unset)'}, cache {cached}"
        if not download:
            raise DatasetError(f"dataset {name!r}: {rel} not found (looked in {looked}; downloads disabled)")
        try:
            fetched = pooch.retrieve(
                entry["url"],
                known_hash=f"sha256:{sha}",
                fname=cached.name,
                path=cached.parent,
                downloader=downloader,
                progressbar=False,
            )
        except Exception as exc:  # network, HTTP and checksum failures all mean "not available"
            raise DatasetError(
                f"dataset {name!r}: {rel} not found (looked in {looked}) and download from {entry['url']} failed: {exc}"
            ) from exc
        files[rel] = Path(fetched)
        log.info("downloaded %s to %s", entry["url"], fetched)
    return Dataset(name, files, manifest)
