"""Ask: the chat with one knowledge base, its history in the sidebar, feedback on answers."""

from __future__ import annotations

from typing import Any

import streamlit as st

from attest.ui.client import ApiClient, ApiError, SessionExpired
from attest.ui.render import (
    answer_html,
    cited_numbers,
    highlights,
    md_text,
    overall,
    source_card,
    table,
    text_html,
)

CURSOR = " ▌"


def render(client: ApiClient, me: dict[str, Any]) -> None:
    kbs = me["knowledge_bases"]
    if not kbs:
        st.info("No knowledge base has been shared with you yet; ask an admin for access.")
        return
    state = st.session_state
    with st.sidebar:
        kb = st.selectbox("Knowledge base", kbs, key="kb")
        if state.get("chat_kb") != kb:  # another knowledge base: a new conversation
            _new_conversation(kb)
        if st.button("New conversation", key="new-conversation", icon=":material/add:"):
            _new_conversation(kb)
            st.rerun()
        _history(client, kb)

    st.header(f"Ask {md_text(kb)}")
    for index, turn in enumerate(state["messages"]):
        with st.chat_message("user"):
            st.markdown(md_text(turn["question"]))
        with st.chat_message("assistant"):
            show_answer(client, turn["payload"], prefix=f"m{index}")
    if not state["messages"]:
        st.caption("Answers come only from the documents of this knowledge base, with their sources.")
    if question := st.chat_input(f"Ask a question about {kb}"):
        _ask(client, kb, question)


def _new_conversation(kb: str) -> None:
    st.session_state.update(chat_kb=kb, conversation_id=None, messages=[])


def _history(client: ApiClient, kb: str) -> None:
    conversations = [c for c in client.conversations() if c["kb"] == kb]
    st.caption("Conversations" if conversations else "No conversations yet")
    for conversation in conversations[:30]:
        current = conversation["id"] == st.session_state.get("conversation_id")
        left, right = st.columns([5, 1], vertical_alignment="center")
        label = md_text(conversation["title"][:60]) or f"Conversation {conversation['id']}"
        if left.button(
            label,
            key=f"open-{conversation['id']}",
            type="primary" if current else "tertiary",
            width="stretch",
        ):
            _open(client, conversation["id"])
            st.rerun()
        if right.button("", key=f"delete-{conversation['id']}", icon=":material/delete:", help="Delete"):
            client.delete_conversation(conversation["id"])
            if current:
                _new_conversation(kb)
            st.rerun()


def _open(client: ApiClient, conversation_id: int) -> None:
    conversation = client.conversation(conversation_id)
    messages = [
        {"question": m["question"], "payload": {**m, "message_id": m["id"]}} for m in conversation["messages"]
    ]
    st.session_state.update(conversation_id=conversation_id, messages=messages)


def _ask(client: ApiClient, kb: str, question: str) -> None:
    """Show the question, stream the answer's text as it comes, then keep the checked answer."""
    state = st.session_state
    with st.chat_message("user"):
        st.markdown(md_text(question))
    with st.chat_message("assistant"):
        placeholder = st.empty()
        placeholder.markdown("_Searching the documents…_")
        text, payload = "", None
        for event, data in client.stream(kb, question, state.get("conversation_id")):
            if event == "token":
                text += data["text"]
                placeholder.markdown(md_text(text) + CURSOR)
            elif event == "answer":
                payload = data
        placeholder.empty()
    if payload is None:
        raise ApiError(502, "The answer stream ended without an answer; please ask again.")
    state["conversation_id"] = payload["conversation_id"]
    state["messages"].append({"question": question, "payload": payload})
    st.rerun()


def show_answer(client: ApiClient, payload: dict[str, Any], prefix: str) -> None:
    """One answer: text with verdict badges and citation links, overall verdict, source cards,
    verification details and feedback. "Not in the documents" looks different on purpose."""
    verdict = overall(payload)
    if not payload.get("answered") or payload.get("withheld"):
        st.markdown(
            f'<div class="attest-declined">📭 <b>{verdict.label.split(":")[0]}.</b> '
            f"{text_html(payload.get('answer', ''))}</div>",
            unsafe_allow_html=True,
        )
        closest = [s for s in payload.get("sources") or [] if s.get("title")]
        if closest:
            st.caption("Closest documents: " + " · ".join(md_text(s["title"]) for s in closest))
    else:
        st.markdown(answer_html(payload, prefix), unsafe_allow_html=True)
        getattr(st, verdict.kind)(md_text(verdict.label))
        if payload.get("reason"):
            st.caption(f"Note: {md_text(payload['reason'])}")
        _sources(payload, prefix)
        _verification(payload)
    timings = payload.get("timings_ms") or {}
    if timings:
        total = timings.get("total", sum(timings.values()))
        st.caption(f"{md_text(payload.get('backend', ''))} · {total / 1000:.1f} s")
    if payload.get("message_id") and not payload.get("withheld"):
        _feedback(client, int(payload["message_id"]))


def _sources(payload: dict[str, Any], prefix: str) -> None:
    sources = payload.get("sources") or []
    cited = cited_numbers(payload)
    spans = highlights(payload)
    shown = [s for s in sources if s.get("number") in cited]
    if shown:
        st.markdown("**Sources**")
        st.markdown(
            "".join(source_card(s, prefix, spans.get(int(s["number"]), [])) for s in shown),
            unsafe_allow_html=True,
        )
    others = [s for s in sources if s.get("number") not in cited]
    if others:
        with st.expander(f"Other passages given to the model ({len(others)})"):
            st.markdown("".join(source_card(s, prefix, []) for s in others), unsafe_allow_html=True)


def _verification(payload: dict[str, Any]) -> None:
    verdict = payload.get("verdict") or {}
    claims = verdict.get("claims") or []
    if not claims:
        return
    with st.expander("Verification details"):
        rows = [
            {
                "statement": c["text"],
                "verdict": "supported" if c["supported"] else "unsupported",
                "score": c["score"],
                "evidence": (c.get("evidence") or {}).get("quote", ""),
                "wrong citations": ", ".join(str(n) for n in c.get("wrong_citations") or []),
            }
            for c in claims
        ]
        st.dataframe(table(rows), hide_index=True, width="stretch")
        st.caption(f"Answer score {verdict['score']:.2f} (threshold {verdict['threshold']:.2f}).")


def _feedback(client: ApiClient, message_id: int) -> None:
    rated = st.session_state.setdefault("rated", {})
    if message_id in rated:
        st.caption("Thanks for your feedback." if rated[message_id] > 0 else "Thanks; we will look into it.")
        return
    up, down, comment = st.columns([1, 1, 10], vertical_alignment="center")
    text = comment.text_input(
        "Comment", key=f"comment-{message_id}", placeholder="Comment (optional)", label_visibility="collapsed"
    )
    for column, rating, icon, help_text in (
        (up, 1, ":material/thumb_up:", "Helpful"),
        (down, -1, ":material/thumb_down:", "Not helpful"),
    ):
        if column.button("", icon=icon, key=f"rate-{rating}-{message_id}", help=help_text):
            try:
                client.feedback(message_id, rating, text)
            except SessionExpired:
                raise
            except ApiError as exc:
                st.error(f"Feedback not saved: {md_text(exc)}")
                return
            rated[message_id] = rating
            st.rerun()
