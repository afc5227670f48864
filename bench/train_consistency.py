"""Train the consistency model (``attest/verify/model/``): does this evidence support this claim?

A FactCC-style classifier (Kryscinski et al., 2020): a cross-encoder reads an evidence
span and a claim and gives one logit for "the evidence supports the claim". Like FactCC
it is trained on *synthetic* data: real sentences of public text, each paired with the
evidence it came from, turned into unsupported claims by rule-based transformations. It
is fine-tuned from the all-MiniLM-L6-v2 weights that Attest ships, with the reader's
training loop (``bench/train_reader.py``: binary cross-entropy, frozen word embeddings,
fp16 file without them).

Sources, public only:

* **SQuAD 2.0 dev, even-numbered articles** (odd ones stay held out, as for the reader):
  the paragraphs' sentences, and question-answer claims ("Who wrote X? Y").
* **The 18F handbook** (``handbook-18f/pages``): its prose paragraphs, so that the model
  sees policy text as well as encyclopaedic text.

No HaluEval row is used: the support model that reads this model's score is fitted on
HaluEval's even half (``bench/calibrate_verifier.py``) and reported on its odd half.

For a sentence of a paragraph, the evidence is a window of one to three sentences that
holds it (or, for "from another passage", that does not). Claims:

* supported: the sentence itself; a faithful shorter span of it (a parenthesis dropped,
  the main clause without its leading phrase, the part after "that"); a question with its
  gold answer.
* unsupported: an entity swapped for another of the same type from the same article
  (FactCC's entity swap), a number or date changed, a negation added or removed, a
  pronoun swapped (he/she, his/her), two entities of the sentence exchanged (subject
  swap), a sentence of another paragraph of the same article (on topic, not in the
  evidence), a question with a wrong answer (another question's answer from the same
  paragraph, or SQuAD 2.0's "plausible answer" to an unanswerable question).

The shipped model: 16,001 pairs, one epoch, 874 s on this project's 2-core machine
(recorded in ``consistency.json`` with the command). Usage:
    python bench/train_consistency.py [--pairs 16000] [--epochs 1] [--out attest/verify/model]
                                      [--check | --write-slice | --write-heldout FILE | --dump FILE]

``--check`` trains on a tiny subset twice and verifies that both runs give the same
weights, without touching the shipped model. ``--write-slice`` rebuilds the tests' fixed
slice and ``--write-heldout`` a held-out set for ``attest eval factuality``, both from the
odd (held-out) articles.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_reader import Pair, kinds, train  # noqa: E402  (a sibling script: the shared training loop)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared/data"
SLICE = ROOT / "tests/verify/consistency_slice.jsonl"
SEED = 20261206
MAX_TOKENS = 192  # evidence and claim together; the evidence is cut first
WINDOW_WORDS = 80  # an evidence window's length, at most (claims are at most 60 words)

# The ``(label, text)`` entities of each of a batch of texts; a paragraph with its sentences' entities.
Tagger = Callable[[Sequence[str]], list[list[tuple[str, str]]]]
Tagged = tuple[str, list[str], list[dict], list[list[tuple[str, str]]]]
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])")
_MONTHS = [
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
]
_MONTH = re.compile(r"\b(" + "|".join(_MONTHS) + r")\b")
_AUXILIARY = re.compile(
    r"\b(is|are|was|were|has|have|had|can|could|will|would|should|may|must|does|did|do)\b(?! not\b)"
)
_NEGATED = re.compile(
    r"\b(?:(is|are|was|were|has|have|had|can|could|will|would|should|may|must|does|did|do) not)\b"
)
_CONTRACTED = re.compile(r"\b(\w+)n['’]t\b")  # don't, can’t, won't: the verb is group 1
_UNCONTRACTED = {"ca": "can", "wo": "will", "sha": "shall"}
_OPENERS = frozenset({
    "in", "on", "at", "during", "after", "before", "by", "for", "from", "since", "although", "while",
    "when", "as", "also", "however", "today", "later", "then", "thus", "finally", "currently", "often",
})  # fmt: skip
_PRONOUNS = {"he": "she", "she": "he", "his": "her", "her": "his", "him": "her", "He": "She", "She": "He",
             "His": "Her", "Her": "His"}  # fmt: skip
_PRONOUN = re.compile(r"\b(" + "|".join(_PRONOUNS) + r")\b")
_PARENTHESIS = re.compile(r"\s*\([^()]{3,80}\)")
_SWAPPABLE = {"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE",
              "DATE", "PRODUCT"}  # fmt: skip


def sentences(text: str) -> list[str]:
    from attest.text.sentences import sentence_spans

    return [" ".join(text[a:b].split()) for a, b in sentence_spans(text)]


def squad_paragraphs(path: Path, held_out: bool = False) -> list[tuple[str, str, list[dict]]]:
    """``(article title, paragraph, questions)`` of the even-numbered articles (odd ones
    with ``held_out``)."""
    articles = json.loads(path.read_text())["data"]
    return [
        (article["title"], paragraph["context"], paragraph["qas"])
        for index, article in enumerate(articles)
        if index % 2 == int(held_out)
        for paragraph in article["paragraphs"]
    ]


def write_heldout(squad: Path, entities: Tagger, out: Path, count: int = 1000) -> None:
    """Claims drawn the same way from the held-out (odd) articles, each checked against its
    whole paragraph, as ``attest eval factuality`` reads them: a sentence-level factuality
    set that is not question answering, and that neither model was trained or fitted on."""
    rng = random.Random(SEED + 2)
    paragraphs = squad_paragraphs(squad, held_out=True)
    tagged, pool = tag_paragraphs(paragraphs, entities)
    text_of = {id(t): " ".join(p[1].split()) for t, p in zip(tagged, paragraphs, strict=True)}
    rows = []
    for n, pair in enumerate(claim_pairs(tagged, pool, rng, count, source=text_of)):
        rows.append({"id": f"synthetic-{n}-{pair.kind}", "context": pair.question, "question": None,
                     "response": pair.text, "supported": bool(pair.label)})  # fmt: skip
    out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    print(f"train_consistency: wrote {len(rows)} held-out claims to {out}", file=sys.stderr)


def write_slice(squad: Path, entities: Tagger) -> None:
    """The tests' fixed slice: 64 pairs drawn the same way from held-out (odd) articles."""
    rng = random.Random(SEED + 1)
    paragraphs = squad_paragraphs(squad, held_out=True)
    rng.shuffle(paragraphs)
    pairs = claim_pairs(*tag_paragraphs(paragraphs[:80], entities), rng, 64)
    rows = [{"evidence": p.question, "claim": p.text, "label": int(p.label), "kind": p.kind} for p in pairs]
    SLICE.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def handbook_paragraphs(folder: Path) -> list[tuple[str, str, list[dict]]]:
    """Prose paragraphs of at least two sentences (no headings, lists or tables), by page."""
    found = []
    for page in sorted(folder.rglob("*.md")):
        for block in re.split(r"\n\s*\n", page.read_text(errors="replace")):
            text = " ".join(block.split())
            if text[:1] in "#|-*>`<[" or text[:2].rstrip(".").isdigit() or text.count("|") > 2:
                continue
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a Markdown link: its text
            if len(sentences(text)) >= 2 and 20 <= len(text.split()) <= 250:
                found.append((page.stem, text, []))
    return found


# --- transformations: each returns the changed sentence, or None when it does not apply ---


def change_number(sentence: str, rng: random.Random, _: object) -> str | None:
    found = list(_NUMBER.finditer(sentence))
    if not found:
        return None
    match = rng.choice(found)
    value = int(match.group(1).replace(",", ""))
    if 1500 <= value <= 2100 and "," not in match.group(1):
        new = value + rng.choice([-1, 1]) * rng.randint(1, 30)  # a year
    else:
        new = max(0, value + rng.choice([-1, 1]) * max(1, int(value * rng.uniform(0.2, 1.5))))
    text = f"{new:,}" if "," in match.group(1) else str(new)
    return sentence[: match.start(1)] + text + sentence[match.end(1) :] if new != value else None


def change_month(sentence: str, rng: random.Random, _: object) -> str | None:
    found = list(_MONTH.finditer(sentence))
    if not found:
        return None
    match = rng.choice(found)
    other = rng.choice([m for m in _MONTHS if m != match.group(1)])
    return sentence[: match.start()] + other + sentence[match.end() :]


def negate(sentence: str, rng: random.Random, _: object) -> str | None:
    """A negation added after the first auxiliary verb, or the sentence's one negation dropped."""
    if " not only" in sentence:
        return None
    negated = _NEGATED.search(sentence)
    if negated:  # drop the negation
        return sentence[: negated.start()] + negated.group(1) + sentence[negated.end() :]
    contracted = _CONTRACTED.search(sentence)
    if contracted:
        verb = _UNCONTRACTED.get(contracted.group(1).lower(), contracted.group(1))
        return sentence[: contracted.start()] + verb + sentence[contracted.end() :]
    if re.search(r"\b(?:never|no|not)\b", sentence, re.IGNORECASE):
        return None
    found = list(_AUXILIARY.finditer(sentence))
    if not found:
        return None
    match = found[0]
    return sentence[: match.end()] + " not" + sentence[match.end() :]


def swap_pronoun(sentence: str, rng: random.Random, _: object) -> str | None:
    found = list(_PRONOUN.finditer(sentence))
    if not found:
        return None
    match = rng.choice(found)
    return sentence[: match.start()] + _PRONOUNS[match.group(1)] + sentence[match.end() :]


def swap_entity(sentence: str, rng: random.Random, context: object) -> str | None:
    """An entity replaced by another of the same type named elsewhere in the article."""
    own, pool = context  # type: ignore[misc]
    choices = [(label, text) for label, text in own if label in _SWAPPABLE and text in sentence]
    rng.shuffle(choices)
    for label, text in choices:
        others = sorted(t for t in pool.get(label, ()) if t.lower() not in sentence.lower())
        if others:
            return sentence.replace(text, rng.choice(others), 1)
    return None


def swap_subject(sentence: str, rng: random.Random, context: object) -> str | None:
    """Two different entities of the same type in the sentence exchanged."""
    own, _ = context  # type: ignore[misc]
    by_label: dict[str, list[str]] = {}
    for label, text in own:
        if label in _SWAPPABLE and text in sentence and text not in by_label.get(label, []):
            by_label.setdefault(label, []).append(text)
    for texts in by_label.values():
        if len(texts) >= 2:
            first, second = texts[:2]
            if first in second or second in first:
                continue
            marker = "\x00"
            return sentence.replace(first, marker, 1).replace(second, first, 1).replace(marker, second, 1)
    return None


CORRUPTIONS: dict[str, Callable[[str, random.Random, object], str | None]] = {
    "entity_swap": swap_entity,
    "number": change_number,
    "date": change_month,
    "negation": negate,
    "pronoun": swap_pronoun,
    "subject_swap": swap_subject,
}
# How often each applicable kind is drawn: negation applies to almost every sentence and
# would crowd out the rest; entity and number changes are the commonest real errors.
WEIGHTS = {
    "entity_swap": 3.0,
    "number": 3.0,
    "date": 2.0,
    "negation": 1.0,
    "pronoun": 2.0,
    "subject_swap": 2.0,
}


def corrupt(sentence: str, rng: random.Random, context: object) -> tuple[str, str] | None:
    """``(kind, changed sentence)``: one applicable corruption, drawn by :data:`WEIGHTS`."""
    applicable = [
        (k, c) for k, f in CORRUPTIONS.items() if (c := f(sentence, rng, context)) and c != sentence
    ]
    if not applicable:
        return None
    return rng.choices(applicable, weights=[WEIGHTS[k] for k, _ in applicable])[0]


def shorter_span(sentence: str, rng: random.Random) -> str | None:
    """A faithful part of the sentence: a parenthesis dropped, the main clause after a
    leading phrase, or what follows "that"."""
    options = []
    if _PARENTHESIS.search(sentence):
        options.append(_PARENTHESIS.sub("", sentence))
    head, _, tail = sentence.partition(", ")
    opener = head.split()[0].lower() if head.split() else ""
    if tail and opener in _OPENERS and len(head.split()) <= 8 and len(tail.split()) >= 6:
        options.append(tail[:1].upper() + tail[1:])
    that = sentence.find(" that ")
    if that > 0 and len(sentence[that + 6 :].split()) >= 6:
        rest = sentence[that + 6 :]
        options.append(rest[:1].upper() + rest[1:])
    return rng.choice(options) if options else None


def window(units: Sequence[str], index: int, rng: random.Random) -> str:
    """One to three consecutive sentences of ``units`` that include ``index``, at most
    :data:`WINDOW_WORDS` words unless the sentence alone is longer (so that the evidence
    is not cut to fit the model, which could cut away what supports the claim)."""
    size = rng.choice([1, 2, 2, 3])
    start = max(0, min(index - rng.randint(0, size - 1), len(units) - size))
    chosen = list(range(start, min(start + size, len(units))))
    while len(chosen) > 1 and sum(len(units[i].split()) for i in chosen) > WINDOW_WORDS:
        chosen.remove(chosen[0] if chosen[0] != index else chosen[-1])
    return " ".join(units[i] for i in chosen)


def tag_paragraphs(
    paragraphs: list[tuple[str, str, list[dict]]], entities: Tagger
) -> tuple[list[Tagged], dict[str, dict[str, set[str]]]]:
    """Each paragraph's sentences with their entities, and each article's entities by type."""
    split = [(title, sentences(text), qas) for title, text, qas in paragraphs]
    split = [(t, units, qas) for t, units, qas in split if units]
    tagged = entities([u for _, units, _ in split for u in units])
    pool: dict[str, dict[str, set[str]]] = {}
    result, offset = [], 0
    for title, units, qas in split:
        found = tagged[offset : offset + len(units)]
        offset += len(units)
        result.append((title, units, qas, found))
        for labelled in found:
            for label, text in labelled:
                pool.setdefault(title, {}).setdefault(label, set()).add(text)
    return result, pool


def claim_pairs(
    paragraphs: list[Tagged],
    pool: dict[str, dict[str, set[str]]],
    rng: random.Random,
    limit: int,
    source: dict[int, str] | None = None,
) -> list[Pair]:
    """Evidence-claim pairs (as the reader's ``Pair``: ``question`` holds the evidence),
    about half supported; each pass over the paragraphs draws another sentence of each.
    With ``source`` (a paragraph's whole text by ``id`` of its entry), sentence claims
    are checked against the whole paragraph and no question claims are made."""
    by_article: dict[str, list[str]] = {}
    for title, units, _, _ in paragraphs:
        by_article.setdefault(title, []).extend(units)
    pairs: list[Pair] = []
    while len(pairs) < limit:
        order = paragraphs[:]
        rng.shuffle(order)
        for entry in order:
            title, units, qas, found = entry
            if len(pairs) >= limit:
                break
            if source is None:
                pairs.extend(question_pairs(units, qas, rng))
            index = rng.randrange(len(units))
            sentence = units[index]
            if not 6 <= len(sentence.split()) <= 60:
                continue
            evidence = window(units, index, rng) if source is None else source[id(entry)]
            changed = corrupt(sentence, rng, (found[index], pool.get(title, {})))
            if rng.random() < 0.5:
                short = shorter_span(sentence, rng) if rng.random() < 0.4 else None
                pairs.append(Pair(evidence, short or sentence, 1.0, "shorter" if short else "same"))
            elif changed is None or rng.random() < 0.15:
                elsewhere = [u for u in by_article[title] if u not in units and 6 <= len(u.split()) <= 60]
                if elsewhere:
                    pairs.append(Pair(evidence, rng.choice(elsewhere), 0.0, "other_passage"))
            else:
                pairs.append(Pair(evidence, changed[1], 0.0, changed[0]))
    return pairs


def question_pairs(units: Sequence[str], qas: list[dict], rng: random.Random) -> list[Pair]:
    """At most one question-answer claim per paragraph: right, or wrong but plausible."""
    if not qas:
        return []
    qa = rng.choice(qas)
    answers = [a["text"] for q in qas if not q["is_impossible"] for a in q["answers"][:1]]
    if qa["is_impossible"]:
        plausible = [a["text"] for a in qa.get("plausible_answers", [])]
        answer, label, kind = (plausible[0], 0.0, "plausible_answer") if plausible else (None, 0.0, "")
    elif rng.random() < 0.5:
        answer, label, kind = qa["answers"][0]["text"], 1.0, "gold_answer"
    else:
        gold = {a["text"].lower() for a in qa["answers"]}
        wrong = [a for a in answers if a.lower() not in gold and not any(a.lower() in g for g in gold)]
        answer, label, kind = (rng.choice(wrong), 0.0, "wrong_answer") if wrong else (None, 0.0, "")
    if not answer:
        return []
    start = qa["answers"][0]["answer_start"] if qa["answers"] else -1
    holding = next((i for i, u in enumerate(units) if answer in u), None)
    index = holding if holding is not None else rng.randrange(len(units))
    if start < 0 and holding is None:
        return []
    return [Pair(window(units, index, rng), f"{qa['question'].strip()} {answer}", label, kind)]


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--squad", type=Path, default=DATA / "squad-v2-dev/dev-v2.0.json")
    parser.add_argument("--handbook", type=Path, default=DATA / "handbook-18f/pages")
    parser.add_argument("--pairs", type=int, default=16000, help="pairs to train on (about)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=ROOT / "attest/verify/model")
    parser.add_argument("--check", action="store_true", help="train a tiny subset twice; compare")
    parser.add_argument("--dump", type=Path, help="write the pairs as JSON lines and stop")
    parser.add_argument(
        "--write-heldout",
        type=Path,
        help="write held-out claims (odd articles) in the factuality format, for attest eval factuality",
    )
    parser.add_argument(
        "--write-slice", action="store_true", help=f"rebuild the tests' fixed slice ({SLICE.name}) and stop"
    )
    args = parser.parse_args()
    for path in (args.squad, args.handbook):
        if not path.exists():
            sys.exit(f"train_consistency: {path} is missing (the public data lives in ../shared/data)")
    import torch

    from attest.core.settings import get_settings
    from attest.ingest.entities import EntityTagger
    from attest.reader.model import save

    if args.threads:
        torch.set_num_threads(args.threads)
    tagger = EntityTagger(get_settings().spacy_pipeline)
    rng = random.Random(SEED)
    if args.write_slice:
        write_slice(args.squad, tagger.labelled)
        return
    if args.write_heldout:
        write_heldout(args.squad, tagger.labelled, args.write_heldout)
        return
    paragraphs = squad_paragraphs(args.squad) + handbook_paragraphs(args.handbook)
    if args.check:
        pairs = claim_pairs(*tag_paragraphs(paragraphs[:40], tagger.labelled), rng, 24)
        options = {"max_tokens": MAX_TOKENS, "truncation": "only_first", "log": False}
        first, second = (train(pairs, 1, SEED, **options).model.state_dict() for _ in range(2))
        same = all(torch.equal(first[k], second[k]) for k in first)
        print(json.dumps({"pairs": len(pairs), "reproducible": same}))
        sys.exit(0 if same else 1)
    pairs = claim_pairs(*tag_paragraphs(paragraphs, tagger.labelled), rng, args.pairs)
    counts = kinds(pairs)
    print(f"train_consistency: {len(pairs)} pairs {counts}", file=sys.stderr)
    if args.dump:
        args.dump.write_text("".join(json.dumps(p.__dict__) + "\n" for p in pairs))
        return
    began = time.perf_counter()
    encoder = train(pairs, args.epochs, SEED, max_tokens=MAX_TOKENS, truncation="only_first")
    seconds = time.perf_counter() - began
    about = {
        "script": "bench/train_consistency.py",
        "command": " ".join(["python", "bench/train_consistency.py", *sys.argv[1:]]),
        "data": "synthetic claims from SQuAD 2.0 dev even-numbered articles and the 18F handbook's "
        "prose; no HaluEval",
        "seed": SEED,
        "pairs": counts,
        "epochs": args.epochs,
        "max_tokens": MAX_TOKENS,
        "train_seconds": round(seconds, 1),
        "threads": torch.get_num_threads(),
        "entities": f"{tagger.pipeline_name} (trained: {tagger.trained})",
        "trained_at": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    save(encoder.model, args.out, about, name="consistency")
    record_slice(args.out)
    print(json.dumps(about, indent=2))


def record_slice(out: Path) -> None:
    """Score the saved model, loaded as Attest loads it, on the tests' fixed slice; record it."""
    from attest.core.enums import Precision
    from attest.verify.consistency import ConsistencyModel, slice_scores

    model = ConsistencyModel(out, precision=Precision.FLOAT32)  # the recorded score is float32's
    manifest = model.manifest
    manifest["slice"] = {"file": str(SLICE.relative_to(ROOT)), **slice_scores(model, SLICE)}
    (out / model.files.manifest).write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
