"""The one answer path: a question in, a checked :class:`Answer` out, typed end to end.

* :mod:`~attest.answers.service`: :class:`Answerer`, the composition root and the
  orchestration (retrieve, read, generate, check citations, verify, apply the policy);
* :mod:`~attest.answers.records`: the records (:class:`Query`, :class:`Answer` and its
  :class:`Citation` and :class:`Source`), with the one ``to_public()``;
* :mod:`~attest.answers.cache`: kept answers to repeated questions;
* :mod:`~attest.answers.generators`: the answer backends by name;
* :mod:`~attest.answers.audit`: the ``ask`` audit record and its outcome.
"""

from attest.answers.audit import audit_details, outcome_of, record_ask
from attest.answers.generators import GENERATORS, make_generator
from attest.answers.records import Answer, Citation, Query, Retrieved, Source
from attest.answers.service import (
    NOT_IN_DOCUMENTS,
    Answerer,
    Delta,
    Event,
    EventStream,
    Final,
    Started,
    answer_context,
    question_entities,
)

__all__ = [
    "GENERATORS",
    "NOT_IN_DOCUMENTS",
    "Answer",
    "Answerer",
    "Citation",
    "Delta",
    "Event",
    "EventStream",
    "Final",
    "Query",
    "Retrieved",
    "Source",
    "Started",
    "answer_context",
    "audit_details",
    "make_generator",
    "outcome_of",
    "question_entities",
    "record_ask",
]
