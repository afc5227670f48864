"""What a user sees of an answer whose claims the checker could not all verify.

* ``flag`` (default): the answer as written, each unsupported claim followed by
  :data:`UNVERIFIED_MARK`, and a note that counts them.
* ``strip``: unsupported claims are removed and the note says how many; when nothing
  is left, the answer is refused.
* ``refuse``: when the answer's score (its weakest claim's) is below the threshold, the
  answer is replaced by :data:`COULD_NOT_VERIFY` and the sources are shown instead.
* ``regenerate``: when :func:`try_again` says so, the answering service asks the model
  once more with a stricter prompt and checks that answer; ``regenerate`` then strips
  it like ``strip`` (the asking is :mod:`attest.answers`'s, the rule is here).

An answer that the verdict finds does not answer the question (however faithful) is
treated like an unsupported claim: ``flag`` shows it followed by
:data:`OFF_TOPIC_MARK` with a note, ``strip`` and ``refuse`` replace it with
:data:`DOES_NOT_ANSWER`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
class Gate:
    """The verification policy applied to an answer, and what it did to the text."""

    policy: Policy
    action: str  # "shown", "flagged", "stripped" or "refused"
    removed: int  # unsupported claims removed (strip)
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.value,
            "action": self.action,
            "removed": self.removed,
            "note": self.note,
        }


@dataclass(frozen=True)
class Gated:
    """The answer text a user is shown, and the gate that made it."""

    text: str
    gate: Gate

    @property
    def action(self) -> str:
        return self.gate.action

    @property
    def removed(self) -> int:
        return self.gate.removed

    @property
    def note(self) -> str | None:
        return self.gate.note


def try_again(policy: Policy, verdict: Verdict) -> bool:
    """Whether the model is asked once more: ``regenerate``, for an answer with an unsupported
    claim or one that does not answer the question."""
    acceptable = verdict.unsupported == 0 and verdict.answers_question is not False
    return policy is Policy.REGENERATE and not acceptable


def apply(policy: Policy, text: str, verdict: Verdict, refuse_below: float | None = None) -> Gated:
    """Apply ``policy`` to ``text`` (the answer ``verdict`` was computed on).

    For ``regenerate``, ``text`` is the answer that is shown: the first when it was
    acceptable, else the second, which is stripped.
    """
    if verdict.answers_question is False:
        if policy is Policy.FLAG:
            flagged = _apply_claims(policy, text, verdict, refuse_below)
            note = "; ".join(n for n in (OFF_TOPIC_NOTE, flagged.note) if n)
            return _gated(policy, f"{flagged.text} {OFF_TOPIC_MARK}", "flagged", 0, note)
        return _gated(policy, DOES_NOT_ANSWER, "refused", 0, OFF_TOPIC_NOTE)
    return _apply_claims(policy, text, verdict, refuse_below)


def _apply_claims(policy: Policy, text: str, verdict: Verdict, refuse_below: float | None) -> Gated:
    """The policy for the answer's unsupported claims."""
    unsupported = [c for c in verdict.claims if not c.supported]
    if policy is Policy.REFUSE:
        threshold = verdict.threshold if refuse_below is None else refuse_below
        if verdict.claims and verdict.score < threshold:
            note = "the answer's support score is below the threshold"
            return _gated(policy, COULD_NOT_VERIFY, "refused", 0, note)
        return _gated(policy, text, "shown", 0, None)
    if not unsupported:
        return _gated(policy, text, "shown", 0, None)
    if policy is Policy.FLAG:
        marked = text
        for claim in sorted(unsupported, key=lambda c: c.claim.end, reverse=True):
            end = claim.claim.end
            marked = f"{marked[:end]} {UNVERIFIED_MARK}{marked[end:]}"
        note = f"{_count(len(unsupported))} could not be verified in the sources"
        return _gated(policy, marked, "flagged", 0, note)
    # strip, and regenerate's second answer
    kept, start = [], 0
    for claim in sorted(unsupported, key=lambda c: c.claim.start):
        kept.append(text[start : claim.claim.start])
        start = claim.claim.end
    kept.append(text[start:])
    stripped = " ".join("".join(kept).split()).strip(" ,;")
    removed = len(unsupported)
    if not any(c.supported for c in verdict.claims) or not stripped:
        return _gated(policy, COULD_NOT_VERIFY, "refused", removed, "no statement could be verified")
    return _gated(policy, stripped, "stripped", removed, f"{_count(removed)} removed: not supported")


def _gated(policy: Policy, text: str, action: str, removed: int, note: str | None) -> Gated:
    return Gated(text, Gate(policy, action, removed, note))


def _count(n: int) -> str:
    return f"{n} statement{'s' if n != 1 else ''}"
