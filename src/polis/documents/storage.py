"""Content-addressed document storage on the local file system (decision 0026).

A file is stored once under its SHA-256: `<root>/<aa>/<bb>/<sha256>`, where `aa` and `bb`
are the first two pairs of hex digits (at most 65,536 directories, a few files in each).
Writing is atomic: the bytes go to a temporary file in the target directory, are flushed
to disk, then renamed into place, so a reader never sees a half-written file and a crash
leaves at most a stray `.tmp-*` file. The same content stored twice is written once.

Callers keep the *relative* path (`aa/bb/<sha256>`) in their rows (for example
claims.claim_document.file_path), so the root can move without touching the database.
Nothing is ever overwritten or deleted here: a row whose insert fails after the file was
stored leaves a harmless, unreferenced file (the same bytes would map to the same path).

    store = DocumentStore.from_settings(get_settings())
    stored = store.put(b"%PDF-1.7 ...")
    assert store.read(stored.sha256) == b"%PDF-1.7 ..."
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from polis.config import Settings
from polis.platform.errors import NotFound

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StoredFile:
    """Where a file was stored: its hash, size and path relative to the store's root."""

    sha256: str
    size: int
    relative_path: str
    created: bool  # False when the same content was already stored


def sha256_hex(data: bytes) -> str:
    """The lower-case hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def relative_path(sha256: str) -> str:
    """`aa/bb/<sha256>` for a hex SHA-256 (ValueError for anything else)."""
    if not _SHA256.match(sha256):
        raise ValueError("not a lower-case hex SHA-256")
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def sha256_of_path(path: str) -> str:
    """The hash a stored relative path names (its last part)."""
    return path.rsplit("/", 1)[-1]


class DocumentStore:
    """Files by content hash under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def from_settings(cls, settings: Settings) -> DocumentStore:
        """The store under `documents_dir`, or `<var_dir>/documents` when unset."""
        return cls(settings.documents_dir or settings.var_dir / "documents")

    def path(self, sha256: str) -> Path:
        """The absolute path of a hash (whether or not it is stored)."""
        return self.root / relative_path(sha256)

    def exists(self, sha256: str) -> bool:
        """Whether content with this hash is stored."""
        return self.path(sha256).is_file()

    def put(self, data: bytes) -> StoredFile:
        """Store `data` under its hash (atomically; once per distinct content)."""
        digest = sha256_hex(data)
        target = self.path(digest)
        rel = relative_path(digest)
        if target.is_file() and target.stat().st_size == len(data):
            return StoredFile(digest, len(data), rel, created=False)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o640)
            os.replace(tmp, target)  # atomic on POSIX; a concurrent writer wrote the same bytes
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
        return StoredFile(digest, len(data), rel, created=True)

    def read(self, sha256: str) -> bytes:
        """The stored bytes of a hash; NotFound when absent, ValueError when the bytes no
        longer match their hash (the file was damaged outside Polis)."""
        try:
            data = self.path(sha256).read_bytes()
        except (FileNotFoundError, ValueError):
            raise NotFound("The stored file is missing.", type_="document-file-missing") from None
        if sha256_hex(data) != sha256:
            raise ValueError(f"stored file {sha256} does not match its hash")
        return data


def _fsync_dir(directory: Path) -> None:
    """Persist a rename (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
