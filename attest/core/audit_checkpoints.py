"""Published checkpoints of the audit chain: the head's id and hash, kept outside the database.

One JSON line per checkpoint, appended to ``ATTEST_AUDIT_CHECKPOINT_FILE`` (default
``<data dir>/audit-checkpoints.jsonl``, mode 0600) by a single ``O_APPEND`` write, which
keeps each line whole when several worker processes publish at once. Lines need not be
in id order. Each line also names the key it was published under (an HMAC of a fixed
label, which tells nothing about the key), so that a changed key is reported as such
rather than as every record having changed.

The checkpoints hold against whoever can write the database but not this file: point
the setting at storage the database's writers cannot change for that to mean something.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from attest.core.settings import Settings

_KEY_LABEL = b"attest audit checkpoint key id"


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    key: str
    line: int = 0  # where it was read from (0: just written)
    source: str = ""

    @property
    def where(self) -> str:
        return f"the checkpoint of {self.at} (line {self.line} of {self.source})"


@dataclass(frozen=True)
class Published:
    items: list[Checkpoint]
    problems: list[str]

    def by_seq(self) -> dict[int, list[Checkpoint]]:
        found: dict[int, list[Checkpoint]] = {}
        for item in self.items:
            found.setdefault(item.seq, []).append(item)
        return found


def path(settings: Settings) -> Path:
    return Path(settings.audit_checkpoint_file or Path(settings.data_dir) / "audit-checkpoints.jsonl")


def key_id(key: bytes) -> str:
    return hmac.new(key, _KEY_LABEL, hashlib.sha256).hexdigest()[:16]


def publish(settings: Settings, *, seq: int, hash: str, key: bytes) -> Checkpoint:
    """Append one checkpoint: record ``seq`` exists and has hash ``hash``."""
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    point = Checkpoint(seq=seq, hash=hash, at=at, key=key_id(key))
    line = json.dumps({"seq": seq, "hash": hash, "at": at, "key": point.key}, separators=(",", ":"))
    target = path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
    return point


def read(settings: Settings, *, key: bytes) -> Published:
    """Every checkpoint published so far (none when the file does not exist yet)."""
    source = path(settings)
    items: list[Checkpoint] = []
    problems: list[str] = []
    try:
        handle = source.open(encoding="utf-8")
    except FileNotFoundError:
        return Published(items, problems)
    with handle:
        for number, text in enumerate(handle, start=1):
            try:
                data = json.loads(text)
                items.append(
                    Checkpoint(
                        seq=int(data["seq"]),
                        hash=str(data["hash"]),
                        at=str(data["at"]),
                        key=str(data["key"]),
                        line=number,
                        source=str(source),
                    )
                )
            except (ValueError, KeyError, TypeError):
                problems.append(f"line {number} of {source} is not a checkpoint (the file was edited)")
    foreign = [item for item in items if item.key != key_id(key)]
    if foreign:
        problems.append(
            f"{len(foreign)} checkpoint(s) in {source}, the first on line {foreign[0].line}, were "
            "published under another audit key: ATTEST_AUDIT_KEY or the audit-key file has changed"
        )
    return Published(items, problems)
