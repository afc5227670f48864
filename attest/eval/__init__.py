"""Evaluation: the ``attest eval`` runners, their metrics and data readers (bench/ calls them too).

``beir`` (``attest eval retrieval``), ``squad`` (``attest eval qa``) and ``factuality``
(``attest eval factuality``) drive the whole service, ingestion to answers, so they sit above
everything they run; ``metrics`` and ``datasets`` are the pure parts they share.
"""
