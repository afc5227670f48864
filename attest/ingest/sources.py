"""Finding the files to ingest and hashing them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from attest.core.errors import IngestError

_HASH_BLOCK = 1 << 20


def discover(paths: Sequence[Path | str]) -> list[Path]:
    """All files named or under the named folders (hidden files skipped), in a stable order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            raise IngestError(f"{raw}: no such file or folder.")
    return sorted(set(found))


def file_hash(path: Path) -> str:
    """SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()
