"""Knowledge bases (editors and admins): documents, uploads, re-index with live progress,
access groups; creating, renaming and deleting knowledge bases (admins)."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from attest.ui.client import ApiClient, ApiError, SessionExpired
from attest.ui.render import md_text, table
from attest.ui.views.forms import attempt, flash, split

POLL_S = 1.0
ACTIVE = ("queued", "running")  # a queued job waits for an `attest worker`


def render(client: ApiClient, me: dict[str, Any]) -> None:
    st.header("Knowledge bases")
    admin = me["role"] == "admin"
    if admin:
        _create(client)
    kbs = client.kbs()
    if not kbs:
        st.info("There is no knowledge base yet." if admin else "No knowledge base has been shared with you.")
        return
    names = [k["name"] for k in kbs]
    state = st.session_state
    if chosen := state.pop("select-kb", None):  # a rename selects the new name
        state["manage-kb"] = chosen
    if state.get("manage-kb") not in names:  # deleted meanwhile
        state.pop("manage-kb", None)
    name = st.selectbox("Knowledge base", names, key="manage-kb")
    kb = next(k for k in kbs if k["name"] == name)
    a, b, c = st.columns(3)
    a.metric("Documents", kb["documents"])
    b.metric("Chunks in the active index", kb["chunks"])
    c.metric("Index version", kb["index_version"] or "none")
    if kb["description"]:
        st.caption(md_text(kb["description"]))
    titles = ["Documents", "Upload and re-index"] + (["Settings"] if admin else [])
    tabs = st.tabs(titles)
    with tabs[0]:
        _documents(client, name)
    with tabs[1]:
        _upload(client, name)
        _reindex(client, name)
    if admin:
        with tabs[2]:
            _settings(client, kb)


def _create(client: ApiClient) -> None:
    with st.expander("Create a knowledge base"), st.form("create-kb", clear_on_submit=True):
        name = st.text_input("Name", key="new-kb-name", help="Letters, digits, '.', '_' and '-'")
        description = st.text_input("Description")
        if st.form_submit_button("Create"):
            attempt(lambda: client.create_kb(name.strip(), description), f"Knowledge base {name!r} created.")


def _documents(client: ApiClient, kb: str) -> None:
    flash()
    documents = client.documents(kb)
    if not documents:
        st.info("No documents yet: upload some, then re-index.")
        return
    rows = [
        {
            "id": d["id"],
            "title": d["title"],
            "file": d["file_name"],
            "type": d["media_type"],
            "status": d["status"],
            "error": d["error"] or "",
            "access groups": ", ".join(d["acl"]) or "everyone",
            "tags": ", ".join(d["tags"]),
            "chunks": d["chunks"],
            "updated": d["updated_at"],
        }
        for d in documents
    ]
    st.dataframe(table(rows), hide_index=True, width="stretch")
    failed = [d for d in documents if d["status"] == "failed"]
    if failed:
        st.warning(f"{len(failed)} document(s) failed to index; see the error column.")
    labels = {f"{d['title'] or d['file_name']} (#{d['id']})": d for d in documents}
    choice = st.selectbox("Document", list(labels), key=f"doc-{kb}")
    doc = labels[choice]
    with st.form(f"acl-{kb}-{doc['id']}"):
        acl = st.text_input(
            "Access groups",
            ", ".join(doc["acl"]),
            help="Comma-separated; empty: everyone with access to the KB",
        )
        tags = st.text_input("Tags", ", ".join(doc["tags"]))
        if st.form_submit_button("Save access groups and tags"):
            attempt(
                lambda: client.update_document(kb, doc["id"], acl=split(acl), tags=split(tags)),
                f"Saved access groups and tags of {choice}.",
            )
    confirm = st.checkbox(f"Yes, delete {md_text(choice)}", key=f"confirm-doc-{doc['id']}")
    if st.button("Delete document", key=f"delete-doc-{doc['id']}", disabled=not confirm):
        attempt(lambda: client.delete_document(kb, doc["id"]), f"Deleted {choice}.")


def _upload(client: ApiClient, kb: str) -> None:
    state = st.session_state
    generation = state.setdefault("upload-generation", 0)  # a new key empties the uploader
    files = st.file_uploader(
        "Drop files here (txt, md, html, pdf, docx)",
        accept_multiple_files=True,
        key=f"uploader-{kb}-{generation}",
    )
    acl = st.text_input("Access groups for these files", key=f"upload-acl-{kb}", help="Empty: everyone")
    for line in state.pop("upload-report", []):
        (st.error if line.startswith("✗") else st.success)(md_text(line))
    if st.button("Upload", key=f"upload-{kb}", disabled=not files):
        report = []
        for file in files or []:
            try:
                client.upload(kb, file.name, file.getvalue(), acl=acl)
                report.append(f"✓ {file.name} uploaded; it is searchable after the next re-index.")
            except SessionExpired:
                raise
            except ApiError as exc:
                report.append(f"✗ {file.name}: {exc}")
        state["upload-report"] = report
        state["upload-generation"] = generation + 1
        st.rerun()


def _reindex(client: ApiClient, kb: str) -> None:
    st.subheader("Re-index")
    st.caption(
        "Reads the uploads and every folder this knowledge base was ingested from; only changes are embedded."
    )
    running = next((j for j in client.jobs(kb) if j["status"] in ACTIVE), None)
    if running is None:
        if st.button("Re-index now", key=f"reindex-{kb}", type="primary"):
            running = client.start_job(kb)
        else:
            _last_job(client, kb)
            return
    cancel = st.empty()  # only while the job runs
    if cancel.button("Cancel re-index", key=f"cancel-{kb}-{running['id']}"):
        client.cancel_job(kb, running["id"])
    _watch(client, kb, running)
    cancel.empty()


def _progress_text(job: dict[str, Any]) -> str:
    if job["status"] == "queued":
        return "Queued: waiting for a worker…"
    if job.get("documents_total") is None:  # the API leaves counts out when they include hidden documents
        text = f"{float(job['progress']):.0%} of the documents"
    else:
        text = f"{job['documents_done']} of {job['documents_total']} documents · {job['chunks_done']} chunks"
    if job.get("eta_seconds") is not None:
        text += f" · about {job['eta_seconds']:.0f} s left"
    return text


def _watch(client: ApiClient, kb: str, job: dict[str, Any]) -> None:
    """Poll the job until it ends, with a live progress bar."""
    bar = st.progress(0.0, text="Starting…")
    while job["status"] in ACTIVE:
        bar.progress(min(1.0, float(job["progress"])), text=_progress_text(job))
        time.sleep(POLL_S)
        job = client.job(kb, job["id"])
    done = job["status"] == "succeeded"
    bar.progress(1.0 if done else float(job["progress"]), text=_progress_text(job))
    _outcome(job)


def _last_job(client: ApiClient, kb: str) -> None:
    jobs = client.jobs(kb)
    if jobs:
        _outcome(jobs[0], last=True)


def _outcome(job: dict[str, Any], last: bool = False) -> None:
    summary = job.get("summary") or {}
    when = f"Last re-index (job {job['id']})" if last else f"Re-index (job {job['id']})"
    if job["status"] == "succeeded" and "documents_added" not in summary:
        st.success(f"{when} finished; index version {summary.get('index_version')}.")
    elif job["status"] == "succeeded":
        st.success(
            f"{when} finished: {summary.get('documents_added', 0)} added, "
            f"{summary.get('documents_updated', 0)} updated, {summary.get('documents_deleted', 0)} removed, "
            f"{summary.get('documents_unchanged', 0)} unchanged, "
            f"{summary.get('documents_failed', 0)} failed; "
            f"index version {md_text(summary.get('index_version'))}."
        )
        for error in summary.get("errors") or []:
            st.warning(f"{md_text(error.get('source', ''))}: {md_text(error.get('error', ''))}")
    elif job["status"] == "cancelled":
        st.info(f"{when} was cancelled; the previous index stays active.")
    else:
        st.error(
            f"{when} failed: {md_text(job.get('error') or 'see the server log')}. "
            "The previous index stays active."
        )


def _settings(client: ApiClient, kb: dict[str, Any]) -> None:
    policies = ["default", "flag", "strip", "refuse", "regenerate"]
    with st.form(f"kb-settings-{kb['name']}"):
        name = st.text_input("Name", kb["name"], key=f"kb-name-{kb['name']}")
        description = st.text_area("Description", kb["description"])
        policy = st.selectbox(
            "Verification policy",
            policies,
            index=policies.index(kb["verify_policy"] or "default"),
            help="What users see of statements the checker could not verify",
        )
        if st.form_submit_button("Save"):
            changes = {"description": description, "verify_policy": policy}
            if name.strip() != kb["name"]:
                changes["name"] = name.strip()
                st.session_state["select-kb"] = name.strip()
            attempt(lambda: client.update_kb(kb["name"], **changes), "Saved.")
    st.subheader("Delete")
    typed = st.text_input(
        f"Type {md_text(kb['name'])} to delete it with all its documents", key=f"delete-kb-{kb['name']}"
    )
    if st.button("Delete knowledge base", disabled=typed != kb["name"], key=f"delete-kb-button-{kb['name']}"):
        attempt(lambda: client.delete_kb(kb["name"]), f"Deleted {kb['name']}.")
