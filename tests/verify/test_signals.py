"""Each support signal on hand-made claim/evidence pairs, and claims cut from answers."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from attest.ingest.entities import EntityTagger
from attest.text.embedder import SentenceTransformerEmbedder
from attest.verify.checker import FactChecker
from attest.verify.claims import split_claims
from attest.verify.signals import SIGNALS, Evidence, content_words, entity_signals, lexical_signals

EVIDENCE = (
    "Full-time employees receive 27 days of annual leave each year. Up to 5 unused days "
    "carry over to the next year. Leave requests are approved by Maria Lopez in HR."
)


def best(claim: str) -> dict[str, float]:
    evidence = Evidence.of([(1, EVIDENCE)])
    index = evidence.candidates(content_words(claim), 1)[0]
    return lexical_signals(claim, index, evidence)


@pytest.mark.unit
def test_a_supported_claim_scores_full_marks() -> None:
    signals = best("Full-time employees receive 27 days of annual leave each year.")
    assert signals == {
        "coverage": 1.0,
        "context_coverage": 1.0,
        "novel": 0.0,
        "numbers": 1.0,
        "names": 1.0,
        "entities": 1.0,  # no entity hook given: nothing to check
        "swapped": 0.0,
        "negation": 0.0,
    }


@pytest.mark.unit
def test_a_changed_number_loses_the_numbers_signal() -> None:
    assert best("Full-time employees receive 30 days of annual leave each year.")["numbers"] == 0.0
    assert best("Full-time employees receive 27 days of annual leave each year.")["numbers"] == 1.0


@pytest.mark.unit
def test_a_swapped_name_loses_the_names_signal() -> None:
    assert best("Leave requests are approved by John Smith in HR.")["names"] < 1.0
    assert best("Leave requests are approved by Maria Lopez in HR.")["names"] == 1.0


@pytest.mark.unit
def test_entity_signals_find_missing_and_swapped_entities() -> None:
    evidence = Evidence.of([(1, EVIDENCE)])
    span = [("PERSON", "Maria Lopez"), ("ORG", "HR")]
    assert entity_signals([("PERSON", "maria  LOPEZ")], span, evidence) == {"entities": 1.0, "swapped": 0.0}
    # Another person where the span names one: missing, and swapped.
    assert entity_signals([("PERSON", "John Smith")], span, evidence) == {"entities": 0.0, "swapped": -1.0}
    # A missing date where the span names no date: missing, not swapped; a claim with none checks nothing.
    both = [("PERSON", "Maria Lopez"), ("DATE", "1 May")]
    assert entity_signals(both, span, evidence) == {"entities": 0.5, "swapped": 0.0}
    assert entity_signals([], span, evidence) == {"entities": 1.0, "swapped": 0.0}


@pytest.mark.integration
@pytest.mark.parametrize(
    "swapped",
    [
        "Tomas Varga became chief executive of Kestrel Lane on 3 March 2026.",  # PERSON
        "Ilse Brandt became chief executive of Kestrel Lane on 9 June 2025.",  # DATE
    ],
)
def test_a_swapped_person_or_date_lowers_the_support_score(
    embedder: SentenceTransformerEmbedder, swapped: str
) -> None:
    passage = (
        "Kestrel Lane Analytics is a data consultancy based in Leeds. Ilse Brandt became chief "
        "executive of Kestrel Lane on 3 March 2026, after Maren Holloway retired."
    )
    faithful = "Ilse Brandt became chief executive of Kestrel Lane on 3 March 2026."
    tagger = EntityTagger()  # the shipped trained pipeline
    with_entities = FactChecker(embedder, entities=tagger.labelled)
    without = FactChecker(embedder)
    question = "Who became chief executive of Kestrel Lane, and when?"

    def score(checker: FactChecker, claim: str) -> float:
        return checker.check(claim, [(1, passage)], question).score

    assert score(with_entities, swapped) < score(with_entities, faithful)
    assert score(with_entities, swapped) < score(without, swapped)  # the entity signals see the swap
    assert score(with_entities, faithful) >= with_entities.model.threshold


@pytest.mark.integration
def test_a_claim_quoted_from_the_evidence_is_not_tagged(embedder: SentenceTransformerEmbedder) -> None:
    """Tagging a quote finds only entities the evidence has, so its entity signals are those
    of a claim naming none: the checker skips it and tags only the other claims."""
    tagger = EntityTagger()
    calls: list[list[str]] = []

    def counted(texts: Sequence[str]) -> list[list[tuple[str, str]]]:
        calls.append(list(texts))
        return tagger.labelled(texts)

    quote = "Leave requests are approved by Maria Lopez in HR."
    invented = "Leave requests are approved by John Smith in HR."
    verdict = FactChecker(embedder, entities=counted).check(f"{quote} [1] {invented} [1]", [(1, EVIDENCE)])
    assert calls[0] == [invented]  # the claims; then the invented claim's candidate spans
    named = tagger.labelled([quote])[0]
    assert named  # the quote does name entities...
    evidence = Evidence.of([(1, EVIDENCE)])
    same = entity_signals(named, [], evidence)  # ...and tagging it would have changed nothing
    assert {k: verdict.claims[0].signals[k] for k in same} == same == {"entities": 1.0, "swapped": 0.0}
    assert verdict.claims[1].signals["entities"] < 1.0  # the invented name is still caught


@pytest.mark.unit
def test_an_added_negation_is_caught() -> None:
    assert best("Unused days do not carry over to the next year.")["negation"] == -1.0
    assert best("Up to 5 unused days carry over to the next year.")["negation"] == 0.0


@pytest.mark.unit
def test_a_clause_of_a_negated_sentence_keeps_the_negation_signal() -> None:
    """The span's "not" belongs to its other clause; a dropped negation is the consistency
    model's to judge, which reads the words in order."""
    text = "Probabilistic tests are normally faster, but they do not prove that a number is prime."
    evidence = Evidence.of([(1, text)])
    claim = "Probabilistic tests are normally faster"
    signals = lexical_signals(claim, evidence.candidates(content_words(claim), 1)[0], evidence)
    assert signals["negation"] == 0.0 and signals["coverage"] == 1.0


@pytest.mark.unit
def test_a_possessive_name_is_found_in_its_own_source() -> None:
    text = "The United States' formation of colonies differed from European empires."
    evidence = Evidence.of([(1, text)])
    assert lexical_signals(text, 0, evidence)["names"] == 1.0


@pytest.mark.unit
def test_invented_content_lowers_coverage_and_novelty() -> None:
    invented = best("Employees also receive a company car and free parking downtown.")
    assert invented["coverage"] < 0.5 and invented["novel"] < -1.0


@pytest.mark.integration
def test_a_paraphrase_keeps_its_semantic_similarity(embedder: SentenceTransformerEmbedder) -> None:
    checker = FactChecker(embedder)
    rows = checker.signals(
        "Staff working full time get 27 days off per year. Pizza is served on Fridays in the canteen.",
        [(1, EVIDENCE)],
    )
    semantic = SIGNALS.index("semantic")
    assert rows[0, semantic] > 0.6 > rows[1, semantic]


@pytest.mark.unit
def test_evidence_spans_are_sentences_and_sentence_pairs_with_offsets() -> None:
    text = "First for Women is a magazine.Arthur's Magazine was started in 1844. It closed in 1846."
    found = Evidence.of([(3, text)]).spans
    assert [s.text for s in found[:3]] == [
        "First for Women is a magazine.",
        "Arthur's Magazine was started in 1844.",
        "It closed in 1846.",
    ]
    assert all(text[s.start : s.end] == s.text and s.passage == 3 for s in found)
    assert len(found) == 5  # three sentences and two adjacent pairs


@pytest.mark.unit
def test_claims_split_at_clauses_and_keep_their_citations() -> None:
    answer = "Leave is 27 days a year [1]; unused days carry over to the next year [2]. Ask HR, and wait [3]."
    claims = split_claims(answer)
    assert [(c.text, c.citations) for c in claims] == [
        ("Leave is 27 days a year", (1,)),
        ("unused days carry over to the next year.", (2,)),
        ("Ask HR, and wait.", (3,)),  # "wait" is too short to be a claim of its own
    ]
    assert answer[claims[1].start : claims[1].end].startswith("unused days")


@pytest.mark.unit
def test_a_clause_without_markers_takes_its_sentences_citations() -> None:
    claims = split_claims("Employees get 27 days of leave, and contractors get no paid leave at all [2].")
    assert [c.citations for c in claims] == [(2,), (2,)]
