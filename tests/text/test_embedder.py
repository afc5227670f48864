"""What is embedded while a question is answered runs in bfloat16 where the CPU has it; the
vectors stay float32, normalized, and within a few thousandths of float32's cosines."""

from __future__ import annotations

import numpy as np
import pytest

from attest.core.enums import Precision
from attest.text.embedder import QuestionTimeEmbedder, SentenceTransformerEmbedder

pytestmark = pytest.mark.integration

TEXTS = [
    "How many days of annual leave do full-time employees get?",
    "Full-time employees receive 27 days of paid annual leave a year.",
    "International travel: up to $85 per day.",
    "The guest wifi in our offices, KLA-Guest, is for visitors only.",
]


def test_bfloat16_question_time_vectors_are_float32_and_close_to_float32s(
    embedder: SentenceTransformerEmbedder,
) -> None:
    exact = embedder.embed(TEXTS)
    fast = QuestionTimeEmbedder(embedder, Precision.BFLOAT16).embed(TEXTS)
    assert fast.dtype == np.float32 and fast.shape == exact.shape
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert np.abs(fast @ exact.T - exact @ exact.T).max() < 0.01  # every cosine, not only the diagonal
    assert not np.array_equal(fast, exact)  # and not float32 again, which would mean bfloat16 never ran
    assert np.array_equal(QuestionTimeEmbedder(embedder, Precision.FLOAT32).embed(TEXTS), exact)
    assert embedder.embed(TEXTS).tobytes() == exact.tobytes()  # documents stay float32 after it
