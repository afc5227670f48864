"""The dashboard (admins): questions per day, latency, verdicts, feedback and the gaps."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from attest.ui.client import ApiClient
from attest.ui.render import table


def render(client: ApiClient, me: dict[str, Any]) -> None:
    st.header("Dashboard")
    left, right = st.columns(2)
    days = left.selectbox("Period", [7, 30, 90, 365], index=1, format_func=lambda d: f"last {d} days")
    kbs = [""] + [k["name"] for k in client.kbs()]
    kb = right.selectbox("Knowledge base", kbs, format_func=lambda k: k or "all", key="dashboard-kb")
    data = client.dashboard(days=days, kb=kb or None)
    outcomes, feedback = data["outcomes"], data["feedback"]
    asked = data["questions"]
    a, b, c, d = st.columns(4)
    a.metric("Questions", asked)
    b.metric("Answered", f"{(asked - outcomes['declined']) / asked:.0%}" if asked else "–")
    c.metric("Fully verified", f"{outcomes['supported'] / asked:.0%}" if asked else "–")
    d.metric(
        "Thumbs up",
        f"{feedback['ratio']:.0%}" if feedback["ratio"] is not None else "–",
        help=f"{feedback['up']} up, {feedback['down']} down",
    )
    if not asked:
        st.info("No questions in this period yet.")
        return
    per_day = pd.DataFrame(data["days"]).set_index("day")
    one, two = st.columns(2)
    with one:
        st.subheader("Questions per day")
        st.bar_chart(per_day[["questions", "declined"]], stack=False)
    with two:
        st.subheader("Latency (ms)")
        latency = (
            per_day[["p50_ms", "p95_ms"]]
            .rename(columns={"p50_ms": "p50", "p95_ms": "p95"})
            .reset_index()
            .melt(id_vars="day", var_name="percentile", value_name="ms")
        )
        chart = alt.Chart(latency).mark_line(point=True).encode(x="day:O", y="ms:Q", color="percentile:N")
        st.altair_chart(chart, width="stretch")
    three, four = st.columns(2)
    with three:
        st.subheader("Verdicts")
        st.bar_chart(pd.DataFrame({"answers": outcomes}), horizontal=True)
    with four:
        st.subheader("Gaps: questions the documents could not answer")
        if data["gaps"]:
            st.dataframe(
                table(
                    {"question": g["question"], "times asked": g["count"], "last asked": g["last_asked"]}
                    for g in data["gaps"]
                ),
                hide_index=True,
                width="stretch",
            )
        else:
            st.caption("None in this period.")
