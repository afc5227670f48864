"""Helpers the admin pages share: run a form's API call, and show its outcome after the rerun."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from attest.ui.client import ApiError, SessionExpired
from attest.ui.render import md_text


def attempt(action: Callable[[], object], success: str) -> None:
    """Run one API call for a form. On success, rerun the page with ``success`` to show (see
    :func:`flash`); on a refusal, show the API's message next to the form. An expired
    session goes up to the app, which returns to the sign-in page."""
    try:
        action()
    except SessionExpired:
        raise
    except ApiError as exc:
        st.error(md_text(exc))
        return
    st.session_state["flash"] = success
    st.rerun()


def flash() -> None:
    """Show the message the last successful action left (as text: it names users, documents
    and knowledge bases)."""
    if message := st.session_state.pop("flash", None):
        st.success(md_text(message))


def split(text: str) -> list[str]:
    """A comma-separated field as a list, blanks dropped."""
    return [part.strip() for part in text.split(",") if part.strip()]
