"""Text extraction, one module per supported format: txt, md, html, pdf and docx.

Each format module names its ``MEDIA_TYPE`` and has an ``extract`` function (an
:class:`Extractor`) that takes the raw bytes and the file's name (for messages) and returns
an :class:`Extracted`; :mod:`attest.ingest.loaders` detects the media type, picks the
extractor from :data:`EXTRACTORS` and turns what it returns into a ``LoadedDocument``.
Every failure is a ``LoadError`` naming the file.
"""

from __future__ import annotations

from attest.ingest.formats import docx, html, md, pdf, txt
from attest.ingest.formats.base import Extracted, Extractor, human_size

__all__ = ["EXTRACTORS", "Extracted", "Extractor", "docx", "html", "human_size", "md", "pdf", "txt"]

# Media type -> extractor, for every media type the loader detects.
EXTRACTORS: dict[str, Extractor] = {
    txt.MEDIA_TYPE: txt.extract,
    md.MEDIA_TYPE: md.extract,
    html.MEDIA_TYPE: html.extract,
    pdf.MEDIA_TYPE: pdf.extract,
    docx.MEDIA_TYPE: docx.extract,
}
