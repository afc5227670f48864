"""Modes named by a word: one parser, tolerant of case and spaces, one error for a wrong word."""

from __future__ import annotations

import pytest

from attest.core import models
from attest.core.enums import Choice, FusionMode, Policy
from attest.core.errors import InvalidInput
from attest.core.models import Role
from attest.retrieval import fusion

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("mode", [Policy, FusionMode, Role])
def test_every_parsed_mode_is_a_choice(mode: type[Choice]) -> None:
    assert issubclass(mode, Choice)
    for member in mode:
        assert mode.from_str(member) is member
        assert mode.from_str(f"  {member.value.upper()} ") is member
        assert mode(member.value.title()) is member  # the constructor too, so pydantic fields are as tolerant


def test_a_wrong_word_names_itself_its_origin_and_the_valid_values() -> None:
    with pytest.raises(InvalidInput) as info:
        FusionMode.from_str("borda", name="ATTEST_RETRIEVAL_FUSION")
    expected = "ATTEST_RETRIEVAL_FUSION: unknown fusion mode 'borda'; valid values: rrf, weighted."
    assert str(info.value) == expected
    with pytest.raises(InvalidInput, match=r"^unknown role 'owner'; valid values: admin, editor, viewer\.$"):
        Role.from_str("owner")
    with pytest.raises(ValueError):
        Policy("ignore")  # the constructor still refuses what is no member


def test_the_modes_moved_to_core_are_still_found_where_they_were() -> None:
    assert models.Policy is Policy and fusion.FusionMode is FusionMode
