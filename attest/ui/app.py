"""The Attest web UI (Streamlit): sign-in, then the pages the user's role allows.

Run it with ``attest ui`` (or ``streamlit run attest/ui/app.py``). It talks only to the REST
API at ``ATTEST_API_URL`` with the signed-in user's token. Streamlit re-runs this script on
every interaction; :func:`main` catches the API's errors once for all pages: an expired
session goes back to the sign-in page with a note, anything else is shown as a message.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import streamlit as st

from attest.core.settings import Settings
from attest.ui.client import ApiClient, ApiError, SessionExpired
from attest.ui.render import STYLE, md_text
from attest.ui.views import access, audit, chat, dashboard, knowledge

View = Callable[[ApiClient, dict[str, Any]], None]

# page title -> (view, roles that see it)
PAGES: dict[str, tuple[View, tuple[str, ...]]] = {
    "Ask": (chat.render, ("viewer", "editor", "admin")),
    "Knowledge bases": (knowledge.render, ("editor", "admin")),
    "People and access": (access.render, ("admin",)),
    "Audit log": (audit.render, ("admin",)),
    "Dashboard": (dashboard.render, ("admin",)),
}


def api_url() -> str:
    """``ATTEST_API_URL``, read on each sign-in (the settings' default when it is unset)."""
    return os.environ.get("ATTEST_API_URL") or str(Settings.model_fields["api_url"].default)


def sign_out(notice: str | None = None) -> None:
    st.session_state.clear()
    if notice:
        st.session_state["notice"] = notice


def sign_in_page() -> None:
    st.title("Attest")
    st.caption("Answers from your company's documents, with sources you can check.")
    if notice := st.session_state.pop("notice", None):
        st.warning(md_text(notice))
    with st.form("sign-in"):
        username = st.text_input("Username")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        if not username or not password:
            st.error("Enter your username and password.")
            return
        try:
            st.session_state["client"] = ApiClient.sign_in(api_url(), username, password)
        except ApiError as exc:
            st.error(md_text(exc))
            return
        st.rerun()


def main() -> None:
    st.set_page_config(page_title="Attest", page_icon="✅", layout="wide")
    st.markdown(STYLE, unsafe_allow_html=True)
    client: ApiClient | None = st.session_state.get("client")
    if client is None:
        sign_in_page()
        return
    try:
        me = client.me()
        allowed = [title for title, (_, roles) in PAGES.items() if me["role"] in roles]
        with st.sidebar:
            st.markdown(f"**{md_text(me['name'])}** · {md_text(me['role'])}")
            page = st.radio("Page", allowed, key="page", label_visibility="collapsed")
            if st.button("Sign out", key="sign-out"):
                sign_out()
                st.rerun()
            st.divider()
        view, _ = PAGES[page]
        view(client, me)
    except SessionExpired as exc:
        sign_out(str(exc))
        st.rerun()
    except ApiError as exc:
        st.error(md_text(exc))


main()
