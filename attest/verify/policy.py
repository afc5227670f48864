"""What a user sees of an answer whose claims the checker could not all verify.

* ``flag`` (default): the answer as written, each unsupported claim followed by
  :data:`UNVERIFIED_MARK`, and a note that counts them.
* ``strip``: unsupported claims are removed and the note says how many; when nothing
  is left, the answer is refused.
* ``refuse``: when the answer's score (its weakest claim's) is below the threshold, the
  answer is replaced by :data:`COULD_NOT_VERIFY` and the sources are shown instead.
* ``regenerate``: the answering service asks the model once more with a stricter prompt,
  checks that answer, and applies ``strip`` to it (see :mod:`attest.answers`).

An answer that the verdict finds does not answer the question (however faithful) is
treated like an unsupported claim: ``flag`` shows it followed by
:data:`OFF_TOPIC_MARK` with a note, ``strip`` and ``refuse`` replace it with
:data:`DOES_NOT_ANSWER`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from attest.core.models import Policy

if TYPE_CHECKING:
    from attest.verify.checker import Verdict

UNVERIFIED_MARK = "[unverified]"
COULD_NOT_VERIFY = "Attest could not verify this answer against the documents; please read the sources below."
OFF_TOPIC_MARK = "[does not answer the question]"
DOES_NOT_ANSWER = (
    "The documents found do not answer this question; Attest will not show an answer that does not "
    "answer it. Please read the sources below."
)
OFF_TOPIC_NOTE = "the answer does not answer the question"


@dataclass(frozen=True)
class Gated:
    """The answer text a user is shown, and what the gate did to it."""

    text: str
    action: str  # "shown", "flagged", "stripped" or "refused"
    removed: int  # unsupported claims removed (strip)
    note: str | None


def apply(policy: Policy, text: str, verdict: Verdict, refuse_below: float | None = None) -> Gated:
    """Apply ``policy`` to ``text`` (the answer ``verdict`` was computed on)."""
    if verdict.answers_question is False:
        if policy is Policy.FLAG:
            flagged = _apply_claims(policy, text, verdict, refuse_below)
            note = "; ".join(n for n in (OFF_TOPIC_NOTE, flagged.note) if n)
            return Gated(f"{flagged.text} {OFF_TOPIC_MARK}", "flagged", 0, note)
        return Gated(DOES_NOT_ANSWER, "refused", 0, OFF_TOPIC_NOTE)
    return _apply_claims(policy, text, verdict, refuse_below)


def _apply_claims(policy: Policy, text: str, verdict: Verdict, refuse_below: float | None) -> Gated:
    """The policy for the answer's unsupported claims."""
    unsupported = [c for c in verdict.claims if not c.supported]
    if policy is Policy.REFUSE:
        threshold = verdict.threshold if refuse_below is None else refuse_below
        if verdict.claims and verdict.score < threshold:
            return Gated(COULD_NOT_VERIFY, "refused", 0, "the answer's support score is below the threshold")
        return Gated(text, "shown", 0, None)
    if not unsupported:
        return Gated(text, "shown", 0, None)
    if policy is Policy.FLAG:
        marked = text
        for claim in sorted(unsupported, key=lambda c: c.claim.end, reverse=True):
            end = claim.claim.end
            marked = f"{marked[:end]} {UNVERIFIED_MARK}{marked[end:]}"
        return Gated(marked, "flagged", 0, f"{_count(len(unsupported))} could not be verified in the sources")
    # strip, and regenerate's second answer
    kept, start = [], 0
    for claim in sorted(unsupported, key=lambda c: c.claim.start):
        kept.append(text[start : claim.claim.start])
        start = claim.claim.end
    kept.append(text[start:])
    stripped = " ".join("".join(kept).split()).strip(" ,;")
    if not any(c.supported for c in verdict.claims) or not stripped:
        return Gated(COULD_NOT_VERIFY, "refused", len(unsupported), "no statement could be verified")
    return Gated(stripped, "stripped", len(unsupported), f"{_count(len(unsupported))} removed: not supported")


def _count(n: int) -> str:
    return f"{n} statement{'s' if n != 1 else ''}"
