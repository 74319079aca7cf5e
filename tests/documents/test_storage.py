"""Content-addressed storage: path layout, atomic write, dedup, read back, damaged files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from polis.config import Settings
from polis.documents.storage import DocumentStore, relative_path, sha256_of_path
from polis.platform.errors import NotFound


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_stored_under_its_hash_and_read_back(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    data = b"%PDF-1.7 some bytes"
    digest = hashlib.sha256(data).hexdigest()
    stored = store.put(data)
    assert (stored.sha256, stored.size, stored.created) == (digest, len(data), True)
    assert stored.relative_path == f"{digest[:2]}/{digest[2:4]}/{digest}"
    assert (tmp_path / stored.relative_path).read_bytes() == data
    assert store.read(digest) == data
    assert store.exists(digest)
    assert sha256_of_path(stored.relative_path) == digest
    assert _files(tmp_path) == [tmp_path / stored.relative_path]  # no temporary file left


def test_the_same_content_is_stored_once(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    first = store.put(b"same")
    mtime = (tmp_path / first.relative_path).stat().st_mtime_ns
    second = store.put(b"same")
    assert second.relative_path == first.relative_path
    assert second.created is False
    assert (tmp_path / first.relative_path).stat().st_mtime_ns == mtime
    other = store.put(b"other")
    assert len(_files(tmp_path)) == 2
    assert other.sha256 != first.sha256


def test_unknown_hash_is_not_found_and_bad_hash_refused(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    with pytest.raises(NotFound):
        store.read("0" * 64)
    with pytest.raises(ValueError):
        relative_path("../../etc/passwd")
    with pytest.raises(ValueError):
        store.path("ABC")


def test_damaged_file_is_detected(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    stored = store.put(b"original")
    (tmp_path / stored.relative_path).write_bytes(b"tampered")
    with pytest.raises(ValueError, match="does not match"):
        store.read(stored.sha256)


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = DocumentStore(tmp_path)

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("polis.documents.storage.os.replace", boom)
    with pytest.raises(OSError):
        store.put(b"data")
    assert _files(tmp_path) == []


def test_root_from_settings(tmp_path: Path) -> None:
    assert DocumentStore.from_settings(Settings(documents_dir=tmp_path)).root == tmp_path
    default = DocumentStore.from_settings(Settings(var_dir=tmp_path, documents_dir=None))
    assert default.root == tmp_path / "documents"
