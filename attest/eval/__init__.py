"""Evaluation runners (``attest eval retrieval``, ``attest eval qa``; bench/ calls them too).

They drive the whole service, ingestion to answers, so they sit above everything they run.
"""
