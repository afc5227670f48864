"""Each verification policy changes what the user sees as described."""

from __future__ import annotations

import pytest

from attest.core.errors import InvalidInput
from attest.core.models import Policy
from attest.verify.checker import ClaimVerdict, Verdict
from attest.verify.claims import split_claims
from attest.verify.policy import COULD_NOT_VERIFY, UNVERIFIED_MARK, apply

pytestmark = pytest.mark.unit

ANSWER = "Employees get 27 days of leave [1]. They also get a company car [2]. Unused days carry over [1]."


def verdict(supported: list[bool], threshold: float = 0.5) -> Verdict:
    claims = split_claims(ANSWER)
    judged = tuple(
        ClaimVerdict(claim, 0.9 if ok else 0.1, ok, None, {}, (), None)
        for claim, ok in zip(claims, supported, strict=True)
    )
    return Verdict(judged, min(c.score for c in judged), threshold, 1.0)


def test_flag_marks_each_unsupported_claim_and_counts_them() -> None:
    gated = apply(Policy.FLAG, ANSWER, verdict([True, False, True]))
    assert gated.action == "flagged"
    assert gated.text == ANSWER.replace("car [2].", f"car [2]. {UNVERIFIED_MARK}")
    assert gated.note == "1 statement could not be verified in the sources"


def test_strip_removes_unsupported_claims_and_says_so() -> None:
    gated = apply(Policy.STRIP, ANSWER, verdict([True, False, True]))
    assert gated.action == "stripped" and gated.removed == 1
    assert gated.text == "Employees get 27 days of leave [1]. Unused days carry over [1]."
    assert gated.note is not None and "1 statement removed" in gated.note


def test_strip_refuses_when_nothing_is_left() -> None:
    gated = apply(Policy.STRIP, ANSWER, verdict([False, False, False]))
    assert gated.action == "refused" and gated.text == COULD_NOT_VERIFY


def test_refuse_below_the_threshold_only() -> None:
    assert apply(Policy.REFUSE, ANSWER, verdict([True, False, True])).text == COULD_NOT_VERIFY
    assert apply(Policy.REFUSE, ANSWER, verdict([True, True, True])).text == ANSWER
    assert apply(Policy.REFUSE, ANSWER, verdict([True, False, True]), refuse_below=0.05).text == ANSWER


@pytest.mark.parametrize("policy", list(Policy))
def test_a_fully_supported_answer_is_shown_unchanged(policy: Policy) -> None:
    gated = apply(policy, ANSWER, verdict([True, True, True]))
    assert (gated.text, gated.action, gated.note) == (ANSWER, "shown", None)


def test_unknown_policies_list_the_valid_ones() -> None:
    assert Policy.from_str(" Strip ") is Policy.STRIP
    with pytest.raises(InvalidInput, match="flag, strip, refuse, regenerate"):
        Policy.from_str("ignore")
