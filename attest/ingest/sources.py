"""Finding the files to ingest, hashing them, and the sources they come from."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from attest.core.errors import IngestError
from attest.core.models import Source

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


def enclosing(sources: Sequence[Source], path: Path) -> Source | None:
    """The most specific source that ``path`` is, or lies under; None when there is none."""
    best: Source | None = None
    for source in sources:
        root = Path(source.path)
        if (path == root or root in path.parents) and (best is None or len(source.path) > len(best.path)):
            best = source
    return best


def register_sources(
    session: Session,
    kb_id: int,
    roots: Sequence[Path],
    *,
    acl: Sequence[str] | None,
    tags: Sequence[str] | None,
    created_by: str = "",
) -> list[Source]:
    """Record each root a job reads as a source of the knowledge base; its sources, after.

    An ACL or tags given to the job replace a source's own. A root seen for the first time
    without them takes those of the source it lies under, so that a sub-folder of a
    restricted folder is restricted too; with none above it, it is open.
    """
    known = list(session.scalars(select(Source).where(Source.kb_id == kb_id)))
    by_path = {s.path: s for s in known}
    for root in sorted(roots, key=lambda r: len(str(r))):  # parents before their sub-folders
        source = by_path.get(str(root))
        if source is None:
            parent = enclosing(known, root)
            source = Source(
                kb_id=kb_id,
                path=str(root),
                acl=list(parent.acl) if parent else [],
                tags=list(parent.tags) if parent else [],
                created_by=created_by,
            )
            session.add(source)
            known.append(source)
            by_path[source.path] = source
        if acl is not None:
            source.acl = list(acl)
        if tags is not None:
            source.tags = list(tags)
    session.flush()
    return known
