"""How table rows fare when documents are cut into windows.

A table longer than a window, or one a window boundary crosses, is read a window at a
time: by the retriever, the reader and the checker. This script loads every document of a
folder as ingestion does, cuts it into the configured windows, and counts the table-row
answer units (:mod:`attest.text.units`) the windows give: how many are a whole row of the
document, as the whole document renders it, and how many are not (a row rendered with
the wrong column names, or a piece of a row cut at the window's edge).

Usage:
    python bench/table_windows.py [FOLDER]   (default: ../shared/data/handbook-18f/pages)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared/data/handbook-18f/pages"


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("folder", type=Path, nargs="?", default=DEFAULT)
    args = parser.parse_args()
    if not args.folder.exists():
        sys.exit(f"table_windows: skipped: {args.folder} is missing (the public data is in ../shared/data)")

    from attest.core.errors import LoadError
    from attest.core.settings import Settings
    from attest.ingest.chunker import SlidingWindowChunker, hf_offsets
    from attest.ingest.loaders import load_file
    from attest.text.embedder import SentenceTransformerEmbedder
    from attest.text.units import UnitKind, answer_units

    settings = Settings()
    embedder = SentenceTransformerEmbedder(settings.embedding_model)
    chunker = SlidingWindowChunker(
        hf_offsets(embedder.tokenizer),
        window=settings.chunk_tokens,
        overlap=settings.chunk_overlap,
        slack=settings.chunk_boundary_slack,
    )
    counts = {"documents": 0, "windows": 0, "document_rows": 0, "window_rows": 0, "whole": 0, "not_whole": 0}
    examples: list[str] = []
    for path in sorted(p for p in args.folder.rglob("*") if p.is_file()):
        try:
            document = load_file(path, max_bytes=settings.max_file_bytes)
        except LoadError:
            continue
        rows = {u.text for u in answer_units(document.text) if u.kind is UnitKind.ROW}
        counts["documents"] += 1
        counts["document_rows"] += len(rows)
        for window in chunker.windows(document.text):
            counts["windows"] += 1
            for unit in answer_units(document.text[window.char_start : window.char_end]):
                if unit.kind is not UnitKind.ROW:
                    continue
                counts["window_rows"] += 1
                whole = unit.text in rows
                counts["whole" if whole else "not_whole"] += 1
                if not whole and len(examples) < 3:
                    examples.append(f"{path.name}: {unit.text[:100]}")
    print(json.dumps({"folder": str(args.folder), **counts, "examples_not_whole": examples}, indent=2))


if __name__ == "__main__":
    main()
