"""Request bodies: every field validated, with limits, so that errors name the field."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from attest.core.enums import Policy
from attest.core.settings import get_settings

Name = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
KbName = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
RoleName = Literal["admin", "editor", "viewer"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AskRequest(Strict):
    kb: str = KbName
    question: str = Field(min_length=1, max_length=2000)
    conversation_id: int | None = Field(default=None, ge=1, le=2**31 - 1)

    @field_validator("question")
    @classmethod
    def _bounded(cls, question: str) -> str:
        # pydantic's protocol: a validator raises ValueError, which becomes a 422 naming the field.
        if not question.strip():
            raise ValueError("the question is empty")
        # The cost of an answer grows with the question, so the installation bounds it.
        limit = get_settings().max_question_chars
        if len(question) > limit:
            raise ValueError(
                f"the question is {len(question)} characters long; the limit is {limit} "
                "(ATTEST_MAX_QUESTION_CHARS)"
            )
        return question


class KbCreate(Strict):
    name: str = KbName
    description: str = Field(default="", max_length=2000)
    verify_policy: Policy | None = None


class KbUpdate(Strict):
    name: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
    )
    description: str | None = Field(default=None, max_length=2000)
    verify_policy: Policy | Literal["default"] | None = None


class DocumentUpdate(Strict):
    acl: list[str] | None = Field(default=None, max_length=100)
    tags: list[str] | None = Field(default=None, max_length=100)


class JobCreate(Strict):
    sync: bool = True  # remove documents whose source files are gone


class UserCreate(Strict):
    username: str = Name
    role: RoleName
    groups: list[str] = Field(default_factory=list, max_length=100)
    password: str | None = Field(default=None, min_length=8, max_length=256)


class UserUpdate(Strict):
    role: RoleName | None = None
    groups: list[str] | None = Field(default=None, max_length=100)
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)


class GroupCreate(Strict):
    name: str = Name
    description: str = Field(default="", max_length=2000)


class GrantCreate(Strict):
    user_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    group: str | None = Field(default=None, min_length=1, max_length=64)


class ApiKeyCreate(Strict):
    name: str = Name
    role: RoleName = "viewer"
    kbs: list[str] = Field(default_factory=list, max_length=100)
    groups: list[str] = Field(default_factory=list, max_length=100)


class FeedbackCreate(Strict):
    message_id: int = Field(ge=1, le=2**31 - 1)
    rating: Literal[1, -1]
    comment: str = Field(default="", max_length=4000)
