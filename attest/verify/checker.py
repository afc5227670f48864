"""The factuality checker: every claim of an answer scored against the answer's own passages.

For each claim (:mod:`attest.verify.claims`) the spans that cover most of its content
words, and the best span of each passage it cites, are candidates; each gets the signals
of :mod:`attest.verify.signals`, among them the consistency model's reading of the pair
(:mod:`attest.verify.consistency`). The claim's score is the support model's probability for
the best value of each signal over its candidates (the same reduction the calibration
trains on), and its evidence is the single candidate the model likes best. A claim is
``supported`` when the score reaches the model's threshold. A citation is *wrong* when the
cited passage's candidates do not support the claim; the passage that does, if any, is
named as the better source. The answer's score is its weakest claim's: one unsupported
statement is enough to distrust an answer.

Everything is computed from the passages the answer was generated from, never the whole
corpus; only the claims are embedded, and the consistency model reads one pair per claim,
which keeps it fast enough for every answer.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from attest.reader.reading import Scorer, sigmoid, titled
from attest.text.embedder import Embedder
from attest.text.sentences import MARK
from attest.text.words import spell_out
from attest.verify.claims import Claim, split_claims
from attest.verify.consistency import ConsistencyModel, shipped_consistency
from attest.verify.model import SupportModel
from attest.verify.signals import (
    CANDIDATES,
    CONSISTENCY_CLIP,
    SIGNALS,
    Evidence,
    Span,
    TypedEntities,
    content_words,
    folded,
    is_statement,
    lexical_signals,
    vector,
)


@dataclass(frozen=True)
class ClaimVerdict:
    """How well one claim is supported, and by what."""

    claim: Claim
    score: float  # P(supported) of the best evidence span
    supported: bool
    evidence: Span | None
    signals: dict[str, float]
    wrong_citations: tuple[int, ...]  # cited passages that do not support the claim
    better_source: int | None  # an uncited passage that does, when a citation is wrong or missing

    def to_dict(self) -> dict[str, Any]:
        evidence = self.evidence
        return {
            "text": self.claim.text,
            "start": self.claim.start,
            "end": self.claim.end,
            "citations": list(self.claim.citations),
            "score": round(self.score, 4),
            "supported": self.supported,
            "evidence": None
            if evidence is None
            else {
                "passage": evidence.passage,
                "start": evidence.start,
                "end": evidence.end,
                "quote": evidence.text,
            },
            "signals": {name: round(value, 4) for name, value in self.signals.items()},
            "wrong_citations": list(self.wrong_citations),
            "better_source": self.better_source,
        }


@dataclass(frozen=True)
class Verdict:
    """The verdict on a whole answer."""

    claims: tuple[ClaimVerdict, ...]
    score: float  # the weakest claim's score; 1.0 for an answer without claims
    threshold: float
    latency_ms: float
    relevance: float | None = None  # the reader's P(the answer answers the question); None: not checked
    relevance_threshold: float | None = None

    @property
    def answers_question(self) -> bool | None:
        """Whether the answer answers the question (``None`` when that was not checked)."""
        if self.relevance is None or self.relevance_threshold is None:
            return None
        return self.relevance >= self.relevance_threshold

    @property
    def supported(self) -> int:
        return sum(c.supported for c in self.claims)

    @property
    def unsupported(self) -> int:
        return len(self.claims) - self.supported

    @property
    def wrong_citations(self) -> int:
        return sum(len(c.wrong_citations) for c in self.claims)

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 4),
            "threshold": self.threshold,
            "supported": self.supported,
            "unsupported": self.unsupported,
            "wrong_citations": self.wrong_citations,
            "claims": [c.to_dict() for c in self.claims],
            "answers_question": self.answers_question,
            "relevance": None if self.relevance is None else round(self.relevance, 4),
            "relevance_threshold": self.relevance_threshold,
            "latency_ms": round(self.latency_ms, 2),
        }


class FactChecker:
    """Scores claims against evidence passages; safe to share between threads."""

    def __init__(
        self,
        embedder: Embedder,
        model: SupportModel | None = None,
        candidates: int = CANDIDATES,
        *,
        reader: Scorer | None = None,
        relevant: float | None = None,
        entities: TypedEntities | None = None,
        consistency: ConsistencyModel | None = None,
        settle: bool = False,
    ) -> None:
        """``reader`` and ``relevant`` (its threshold) check that an answer answers its
        question; without them only faithfulness is checked. ``entities`` tags the claims
        and their candidate spans for the entity signals; without it they check nothing.
        ``consistency`` scores (span, claim) pairs; the shipped model unless one is given.

        With ``settle``, a claim whose decisions (supported; each citation right or wrong)
        come out the same whatever the consistency model would say is not read by it: the
        decisions are exactly those of a full check, but the claim's score is then the bound
        that decided it (:meth:`_settled`). The answering service settles unless a
        threshold other than the model's is applied to scores (``ATTEST_VERIFY_REFUSE_BELOW``);
        evaluations, which rank by score, do not."""
        self.settle = settle
        self.embedder = embedder
        self.consistency = consistency or shipped_consistency()
        self.entities = entities
        self._model = model
        self.candidates = candidates
        self.reader = reader
        self.relevant = relevant

    @property
    def model(self) -> SupportModel:
        """The support model; the shipped weights unless one was given."""
        if self._model is None:
            self._model = SupportModel.load()
        return self._model

    def check(
        self,
        answer: str,
        passages: Sequence[tuple[int, str]],
        question: str | None = None,
        passage_vectors: np.ndarray | None = None,
        titles: Mapping[int, str] | None = None,
    ) -> Verdict:
        """The verdict on ``answer`` given the ``(number, text)`` passages it was generated from.

        ``question``, when given, is read with each claim for the semantic signal: "Delhi"
        alone means little, "In what city is the head office? Delhi" can be compared.
        ``passage_vectors`` (normalised, one row per passage) saves embedding the passages:
        the answering service passes the mean of their chunks' index vectors.
        ``titles`` (the passages' titles by number): the reader reads the answer after the
        title of the first passage it cites, as it reads a passage's units.
        """
        began = time.perf_counter()
        claims = split_claims(answer)
        cited = next((titles[n] for c in claims for n in c.citations if titles and n in titles), None)
        relevance = self._relevance(answer, question, cited, [text for _, text in passages])
        if not claims:
            return Verdict((), 1.0, self.model.threshold, _ms(began), relevance, self.relevant)
        evidence = Evidence.of(passages)
        if not evidence.spans:
            verdicts = tuple(ClaimVerdict(c, 0.0, False, None, {}, c.citations, None) for c in claims)
            return Verdict(verdicts, 0.0, self.model.threshold, _ms(began), relevance, self.relevant)
        vectors = self._passage_vectors(passages, passage_vectors)
        judged = self._signals(claims, evidence, question, vectors, settle=self.settle)
        verdicts = tuple(self._judge(claim, rows) for claim, rows in judged)
        weakest = min(v.score for v in verdicts)
        return Verdict(verdicts, weakest, self.model.threshold, _ms(began), relevance, self.relevant)

    def _relevance(
        self, answer: str, question: str | None, title: str | None = None, texts: Sequence[str] = ()
    ) -> float | None:
        """The reader's probability that ``answer`` (without its citation marks, after
        ``title``) answers ``question``; the better of two when the passages' ``texts`` spell
        out an abbreviation of the question (as the reader reads passages)."""
        if self.reader is None or self.relevant is None or not question or not answer.strip():
            return None
        text = titled(title, " ".join(MARK.sub(" ", answer).split()))
        spelled = spell_out(question, texts)
        asked = [question] if spelled == question else [question, spelled]
        return max(float(sigmoid(self.reader.logits(q, [text]))[0]) for q in asked)

    def signals(
        self, answer: str, passages: Sequence[tuple[int, str]], question: str | None = None
    ) -> np.ndarray:
        """Each claim's best signals (rows in claim order), as the support model sees them;
        the calibration script trains on these."""
        claims = split_claims(answer)
        evidence = Evidence.of(passages)
        if not claims or not evidence.spans:
            return np.empty((0, len(SIGNALS)))
        vectors = self._passage_vectors(passages, None)
        return np.stack([_best(rows) for _, rows in self._signals(claims, evidence, question, vectors)])

    def _passage_vectors(
        self, passages: Sequence[tuple[int, str]], given: np.ndarray | None
    ) -> dict[int, np.ndarray]:
        if given is None:
            given = self.embedder.embed([text for _, text in passages])
        return {number: vector for (number, _), vector in zip(passages, given, strict=True)}

    def _signals(
        self,
        claims: list[Claim],
        evidence: Evidence,
        question: str | None,
        passage_vectors: dict[int, np.ndarray],
        *,
        settle: bool = False,
    ) -> list[tuple[Claim, list[tuple[Span, dict[str, float]]]]]:
        """For each claim, its candidate spans with their signals. With ``settle``, a claim
        whose decisions the other signals settle is not read by the consistency model
        (:meth:`_settled`); the calibration reads every claim.

        Only the claims are embedded here; ``semantic`` compares a claim with the passage its
        span comes from, which keeps the check to one small batch per answer. The
        consistency model reads one pair per claim, in one batch too.
        """
        prefix = f"{' '.join(question.split())} " if question else ""
        claim_vectors = self.embedder.embed([prefix + c.text for c in claims])
        candidates = [self._candidates(claim, evidence) for claim in claims]
        claim_entities, span_entities = self._entities(claims, candidates, evidence)
        result = []
        for n, (claim, claim_vector) in enumerate(zip(claims, claim_vectors, strict=True)):
            rows = []
            for i in candidates[n]:
                span = evidence.spans[i]
                entities = claim_entities[n], span_entities.get(i, [])
                signals = lexical_signals(claim.text, i, evidence, *entities)
                signals["semantic"] = float(claim_vector @ passage_vectors[span.passage])
                signals["consistency"] = 0.0  # read below, once for all the claims
                rows.append((span, signals))
            result.append((claim, rows))
        candidate_rows = [rows for _, rows in result] if settle else None
        consistency = self._consistency(claims, candidates, evidence, candidate_rows)
        for (_, rows), value in zip(result, consistency, strict=True):
            for _, signals in rows:
                signals["consistency"] = value
        return result

    def _consistency(
        self,
        claims: list[Claim],
        candidates: list[list[int]],
        evidence: Evidence,
        settle: list[list[tuple[Span, dict[str, float]]]] | None,
    ) -> list[float]:
        """The consistency model's clipped logit for each claim against its best-covering span:
        one value per claim, shared by its candidates. A claim too short to be a statement
        gets 0; one quoted word for word from that span gets the top of the range unasked;
        with ``settle`` (each claim's candidate rows), one whose decisions its other signals
        already settle gets the bound that settles them (:meth:`_settled`).
        A pair costs a few milliseconds on two cores: reading every candidate doubled the check's
        time for a five-sentence answer, and the span that covers the claim's words best is
        the one it was written from, if any."""
        values = [0.0] * len(claims)
        read = []
        for n, claim in enumerate(claims):
            if not is_statement(claim.text) or not candidates[n]:
                continue
            if folded(claim.text) in folded(evidence.spans[candidates[n][0]].text):
                values[n] = CONSISTENCY_CLIP
            elif settle is not None and (value := self._settled(settle[n])) is not None:
                values[n] = value
            else:
                read.append(n)
        logits = self.consistency.logits(
            [evidence.spans[candidates[n][0]].text for n in read], [claims[n].text for n in read]
        )
        for n, logit in zip(read, np.clip(logits, -CONSISTENCY_CLIP, CONSISTENCY_CLIP), strict=True):
            values[n] = float(logit)
        return values

    def _settled(self, rows: list[tuple[Span, dict[str, float]]]) -> float | None:
        """The consistency value that decides a claim as the model's own reading would, when
        its verdict and each of its citations' come out the same at both ends of the
        consistency range (the support model rises with it, so any reading in between decides
        alike): the top of the range for a supported claim, the bottom for an unsupported one.
        ``None`` when reading the claim could change a decision."""
        model = self.model
        if model.coef[SIGNALS.index("consistency")] <= 0:
            return None
        groups = [rows, *_by_passage(rows).values()]
        matrix = np.stack([_best(group) for group in groups])
        column = SIGNALS.index("consistency")
        matrix[:, column] = -CONSISTENCY_CLIP
        low = model.probability(matrix) >= model.threshold
        matrix[:, column] = CONSISTENCY_CLIP
        high = model.probability(matrix) >= model.threshold
        if not np.array_equal(low, high):
            return None
        return CONSISTENCY_CLIP if low[0] else -CONSISTENCY_CLIP

    def _entities(
        self, claims: list[Claim], candidates: list[list[int]], evidence: Evidence
    ) -> tuple[list[list[tuple[str, str]]], dict[int, list[tuple[str, str]]]]:
        """The entities of each claim and, where a claim names one the evidence lacks, of
        its candidate spans (only then can one be swapped; a quote needs no span tagged).
        A claim found word for word in the evidence is not tagged either: every entity it
        names is then in the evidence, so its entity signals are those of a claim naming
        none (all found, none swapped). An extractive answer is all quotes."""
        if self.entities is None:
            return [[] for _ in claims], {}
        quoted = [folded(c.text) in evidence.text for c in claims]
        unquoted = [c.text for c, q in zip(claims, quoted, strict=True) if not q]
        named = iter(self.entities(unquoted) if unquoted else [])
        claim_entities = [[] if q else next(named) for q in quoted]
        spans = {
            i
            for found, entities in zip(candidates, claim_entities, strict=True)
            if any(folded(text) not in evidence.text for _, text in entities)
            for i in found
        }
        # A pair of sentences names what its two sentences name: each sentence is tagged once.
        sentences = sorted({n for i in spans for n in evidence.span_sentences[i]})
        tagged = self.entities([evidence.spans[n].text for n in sentences]) if sentences else []
        by_sentence = dict(zip(sentences, tagged, strict=True))
        span_entities = {i: [e for n in evidence.span_sentences[i] for e in by_sentence[n]] for i in spans}
        return claim_entities, span_entities

    def _candidates(self, claim: Claim, evidence: Evidence) -> list[int]:
        """The best-covering spans overall, and the best one of each cited passage."""
        words = content_words(claim.text)
        chosen = evidence.candidates(words, self.candidates)
        for number in claim.citations:
            own = [i for i, span in enumerate(evidence.spans) if span.passage == number]
            if own:
                best = max(
                    own, key=lambda i: (len(words & evidence.span_words[i]), -len(evidence.spans[i].text))
                )
                chosen.append(best)
        return list(dict.fromkeys(chosen))

    def _judge(self, claim: Claim, rows: list[tuple[Span, dict[str, float]]]) -> ClaimVerdict:
        """The claim's score from its best signals; its evidence is the single best span."""
        threshold = self.model.threshold
        score = float(self.model.probability(_best(rows))[0])
        singles = self.model.probability(np.stack([vector(signals) for _, signals in rows]))
        evidence, signals = rows[int(np.argmax(singles))]
        groups = _by_passage(rows)
        passage_scores = {n: float(self.model.probability(_best(found))[0]) for n, found in groups.items()}
        wrong = tuple(n for n in claim.citations if passage_scores.get(n, 0.0) < threshold)
        best_passage = max(passage_scores, key=lambda n: passage_scores[n])
        better = (
            best_passage
            if passage_scores[best_passage] >= threshold
            and (wrong or not claim.citations)
            and best_passage not in claim.citations
            else None
        )
        return ClaimVerdict(claim, score, score >= threshold, evidence, signals, wrong, better)


def _best(rows: list[tuple[Span, dict[str, float]]]) -> np.ndarray:
    """The best value of each signal over the candidates: the claim's strongest evidence."""
    return np.max(np.stack([vector(signals) for _, signals in rows]), axis=0)


def _by_passage(rows: list[tuple[Span, dict[str, float]]]) -> dict[int, list[tuple[Span, dict[str, float]]]]:
    """The candidates grouped by the passage they come from."""
    groups: dict[int, list[tuple[Span, dict[str, float]]]] = {}
    for span, signals in rows:
        groups.setdefault(span.passage, []).append((span, signals))
    return groups


def _span_dict(span: Span) -> dict[str, Any]:
    return {"passage": span.passage, "start": span.start, "end": span.end, "quote": span.text}


def _ms(began: float) -> float:
    return (time.perf_counter() - began) * 1000
