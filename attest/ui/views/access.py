"""People and access (admins): users, groups, knowledge-base grants and API keys."""

from __future__ import annotations

from typing import Any

import streamlit as st

from attest.ui.client import ApiClient
from attest.ui.render import md_text, table
from attest.ui.views.forms import attempt, flash, split

ROLES = ["viewer", "editor", "admin"]


def render(client: ApiClient, me: dict[str, Any]) -> None:
    st.header("People and access")
    flash()
    if secret := st.session_state.pop("secret", None):  # a generated password or key: shown once
        st.warning(f"{md_text(secret[0])} It is shown only this once:")
        st.code(secret[1], language=None)
    users, groups, grants, keys = st.tabs(["Users", "Groups", "Grants", "API keys"])
    with users:
        _users(client, me)
    with groups:
        _groups(client)
    with grants:
        _grants(client)
    with keys:
        _keys(client)


def _users(client: ApiClient, me: dict[str, Any]) -> None:
    people = client.users()
    columns = ("id", "username", "role", "groups", "active", "created_at")
    st.dataframe(
        table({k: u[k] for k in columns} for u in people),
        hide_index=True,
        width="stretch",
    )
    with st.expander("Add a user"), st.form("add-user", clear_on_submit=True):
        username = st.text_input("Username")
        role = st.selectbox("Role", ROLES)
        groups = st.text_input("Groups", help="Comma-separated")
        password = st.text_input("Password", type="password", help="Empty: one is generated and shown once")
        if st.form_submit_button("Add user"):

            def create() -> None:
                user = client.create_user(username.strip(), role, split(groups), password or None)
                if user.get("password"):
                    st.session_state["secret"] = (f"The password of {user['username']}.", user["password"])

            attempt(create, f"User {username!r} added.")
    if not people:
        return
    labels = {f"{u['username']} (#{u['id']})": u for u in people}
    choice = st.selectbox("Edit user", list(labels), key="edit-user")
    user = labels[choice]
    with st.form(f"edit-user-{user['id']}"):
        role = st.selectbox("Role", ROLES, index=ROLES.index(user["role"]))
        groups = st.text_input("Groups", ", ".join(user["groups"]))
        active = st.checkbox("Active", user["active"])
        if st.form_submit_button("Save"):
            attempt(
                lambda: client.update_user(user["id"], role=role, groups=split(groups), active=active),
                f"Saved {user['username']}.",
            )
    if user["username"] != me["name"] and st.button("Delete user", key=f"delete-user-{user['id']}"):
        attempt(lambda: client.delete_user(user["id"]), f"Deleted {user['username']}.")


def _groups(client: ApiClient) -> None:
    groups = client.groups()
    st.dataframe(table(groups), hide_index=True, width="stretch")
    with st.form("add-group", clear_on_submit=True):
        name = st.text_input("New group")
        description = st.text_input("Description")
        if st.form_submit_button("Add group"):
            attempt(lambda: client.create_group(name.strip(), description), f"Group {name!r} added.")
    if groups:
        name = st.selectbox("Group", [g["name"] for g in groups], key="delete-group-name")
        if st.button("Delete group", key="delete-group"):
            attempt(lambda: client.delete_group(name), f"Deleted group {name!r}.")


def _grants(client: ApiClient) -> None:
    kbs = [k["name"] for k in client.kbs()]
    if not kbs:
        st.info("There is no knowledge base yet.")
        return
    kb = st.selectbox("Knowledge base", kbs, key="grants-kb")
    grants = client.grants(kb)
    st.dataframe(table(grants), hide_index=True, width="stretch")
    users = {u["username"]: u["id"] for u in client.users()}
    groups = [g["name"] for g in client.groups()]
    with st.form(f"grant-{kb}"):
        to = st.radio("Grant to", ["a user", "a group"], horizontal=True)
        user = st.selectbox("User", list(users))
        group = st.selectbox("Group", groups)
        if st.form_submit_button("Grant access"):
            if to == "a user":
                attempt(lambda: client.grant(kb, user_id=users[user]), f"{user} may now use {kb}.")
            else:
                attempt(lambda: client.grant(kb, group=group), f"Group {group} may now use {kb}.")
    if grants:
        grant_id = st.selectbox("Grant", [g["id"] for g in grants], key=f"revoke-grant-{kb}")
        if st.button("Revoke grant", key=f"revoke-{kb}"):
            attempt(lambda: client.revoke_grant(kb, grant_id), f"Grant {grant_id} revoked.")


def _keys(client: ApiClient) -> None:
    keys = client.apikeys()
    st.dataframe(table(keys), hide_index=True, width="stretch")
    kbs = [k["name"] for k in client.kbs()]
    with st.form("add-key", clear_on_submit=True):
        name = st.text_input("Key name", help="What uses it, e.g. wiki-bot")
        role = st.selectbox("Role", ROLES, key="key-role")
        chosen = st.multiselect("Knowledge bases", kbs)
        groups = st.text_input("Reading groups", key="key-groups", help="Comma-separated")
        if st.form_submit_button("Create key"):

            def create() -> None:
                key = client.create_apikey(name.strip(), role, chosen, split(groups))
                st.session_state["secret"] = (f"The API key {key['name']}.", key["key"])

            attempt(create, f"API key {name!r} created.")
    live = [k for k in keys if not k["revoked_at"]]
    if live:
        labels = {f"{k['name']} ({k['prefix']})": k["id"] for k in live}
        choice = st.selectbox("Key", list(labels), key="revoke-key")
        if st.button("Revoke key", key="revoke-key-button"):
            attempt(lambda: client.revoke_apikey(labels[choice]), f"Revoked {choice}.")
