"""The audit log browser (admins): filters, pages, one record with its retrieved chunks, CSV."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import streamlit as st

from attest.ui.client import ApiClient
from attest.ui.render import md_text, table

PAGE_SIZE = 50
OUTCOMES = ["", "supported", "unsupported", "off_topic", "declined"]  # "": any


def render(client: ApiClient, me: dict[str, Any]) -> None:
    st.header("Audit log")
    filters = _filters(client)
    page = st.session_state.get("audit-page", 0)
    result = client.audit(**filters, limit=PAGE_SIZE, offset=page * PAGE_SIZE)
    items, total = result["items"], result["total"]
    st.caption(f"{total} record(s); page {page + 1} of {max(1, -(-total // PAGE_SIZE))}")
    st.dataframe(
        table(
            {
                "id": r["id"],
                "at": r["at"],
                "actor": r["actor"],
                "action": r["action"],
                "kb": r["kb"] or "",
                "status": r["status"],
                "outcome": r["outcome"] or "",
                "question": (r["details"] or {}).get("question", ""),
            }
            for r in items
        ),
        hide_index=True,
        width="stretch",
    )
    back, forward, export = st.columns([1, 1, 4])
    if back.button("← Newer", disabled=page == 0, key="audit-newer"):
        st.session_state["audit-page"] = page - 1
        st.rerun()
    if forward.button("Older →", disabled=(page + 1) * PAGE_SIZE >= total, key="audit-older"):
        st.session_state["audit-page"] = page + 1
        st.rerun()
    export.download_button(
        "Export CSV (up to 1,000 records)",
        data=lambda: client.audit_csv(**filters, limit=1000),
        file_name="attest-audit.csv",
        mime="text/csv",
        key="audit-csv",
    )
    _detail(client, [r["id"] for r in items])


def _filters(client: ApiClient) -> dict[str, Any]:
    kbs = [""] + [k["name"] for k in client.kbs()]
    a, b, c, d = st.columns(4)
    actor = a.text_input("User", placeholder="user:alice", key="audit-actor")
    action = b.text_input("Action", placeholder="ask, kb.create, user.", key="audit-action")
    kb = c.selectbox("Knowledge base", kbs, key="audit-kb", format_func=lambda k: k or "any")
    outcome = d.selectbox(
        "Verdict", OUTCOMES, key="audit-outcome", format_func=lambda o: o or "any", help="Questions only"
    )
    e, f, g = st.columns([2, 1, 1])
    period = e.date_input("Between", value=[], key="audit-period", help="Empty: all time")
    status = f.text_input("HTTP status", key="audit-status", placeholder="e.g. 403")
    if g.button("Reset page", key="audit-reset"):
        st.session_state["audit-page"] = 0
    since = until = None
    if isinstance(period, tuple | list) and period:
        since = datetime.combine(period[0], time.min)
        last: date = period[-1]
        until = datetime.combine(last + timedelta(days=1), time.min)
    return {
        "actor": actor.strip() or None,
        "action": action.strip() or None,
        "kb": kb or None,
        "status": int(status) if status.strip().isdigit() else None,
        "outcome": outcome or None,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }


def _detail(client: ApiClient, ids: list[int]) -> None:
    if not ids:
        return
    st.subheader("Record")
    record_id = st.selectbox("Record id", ids, key="audit-record")
    record = client.audit_record(int(record_id))
    st.markdown(
        f"**#{record['id']}** · {md_text(record['at'])} · {md_text(record['actor'])} · "
        f"**{md_text(record['action'])}**"
        + (f" · {md_text(record['kb'])}" if record["kb"] else "")
        + f" · status {md_text(record['status'])}"
    )
    details = dict(record["details"] or {})
    if record["action"] == "ask":
        st.markdown(f"**Question:** {md_text(details.get('question', ''))}")
        st.markdown(f"**Answer:** {md_text(details.get('answer', ''))}")
        st.markdown(f"**Outcome:** {md_text(record['outcome'])}")
        verdict = details.get("verdict") or {}
        if verdict:
            st.caption(
                f"Verdict: {verdict.get('supported', 0)} supported, "
                f"{verdict.get('unsupported', 0)} unsupported, "
                f"score {verdict.get('score', 0):.2f} · model {md_text(details.get('model'))} · "
                f"index version {md_text(details.get('index_version'))} · "
                f"{md_text(details.get('latency_ms'))} ms"
            )
    chunks = record.get("chunks") or []
    if chunks:
        st.markdown(f"**Retrieved chunks** ({len(chunks)}, best first)")
        for chunk in chunks:
            title = md_text(chunk["title"] or f"document {chunk['document_id']}")
            page = f", page {md_text(chunk['page'])}" if chunk.get("page") else ""
            with st.expander(f"{chunk['rank']}. {title}{page} · score {md_text(chunk['score'])}"):
                st.text(
                    chunk["text"]
                    if chunk["text"] is not None
                    else "(no longer stored: re-indexed or deleted)"
                )
    with st.expander("All fields"):
        st.json({**details, "hash": record["hash"], "prev_hash": record["prev_hash"]}, expanded=False)
