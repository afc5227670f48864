"""When two questions are the same question.

The answer cache serves one answer to both, and the dashboard counts them as one repeated
question; the rule is written once, here, low enough for both.
"""

from __future__ import annotations

import re


def question_key(question: str) -> str:
    """Questions that differ only in case, spacing or final punctuation share an answer."""
    return re.sub(r"\s+", " ", question).strip().rstrip("?.! ").casefold()
