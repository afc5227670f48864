"""What one caller may cost the others (issue #17): concurrent answers per caller and the
length of a question, against the shared live server (default limits: 2 answers at a time,
1000 characters)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.live import Server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOPICS = ("annual leave", "sick days", "travel expenses", "remote work", "parental leave", "laptops")


def long_question(i: int) -> str:
    """A distinct question (no answer-cache hit) of about 900 characters, costly to answer."""
    words = " ".join(f"{topic} policy rules" for topic in TOPICS)
    return f"Question {i}: what do the rules say about {TOPICS[i % len(TOPICS)]}? Context: {words * 6}"[:900]


def ask_together(server: Server, callers: list[str], first: int) -> list[httpx.Response]:
    """One question per caller, all sent at the same moment."""
    start = threading.Barrier(len(callers))

    def ask(i: int, who: str) -> httpx.Response:
        with server.client(who) as client:
            start.wait()
            return client.post("/ask", json={"kb": "demo", "question": long_question(first + i)})

    with ThreadPoolExecutor(len(callers)) as pool:
        return list(pool.map(ask, range(len(callers)), callers))


def test_concurrent_answers_are_capped_per_caller_and_freed_when_they_end(server: Server) -> None:
    replies = ask_together(server, ["viewer_a"] * 6 + ["editor_a"], first=0)
    mine, other = replies[:-1], replies[-1]
    statuses = [r.status_code for r in mine]
    assert statuses.count(200) >= 1 and statuses.count(429) >= 2, statuses
    refused = next(r for r in mine if r.status_code == 429)
    assert refused.headers["Retry-After"] == "1" and "the limit is 2 at a time" in refused.json()["detail"]
    assert other.status_code == 200  # another caller is not held back by viewer_a's answers

    with server.client("viewer_a") as client:
        for i in range(2):  # a stream read to its end, then one abandoned after its first line
            body = {"kb": "demo", "question": long_question(20 + i)}
            with client.stream("POST", "/ask/stream", json=body) as stream:
                assert stream.status_code == 200 and "event: done" in stream.read().decode()
            body = {"kb": "demo", "question": long_question(30 + i)}
            with client.stream("POST", "/ask/stream", json=body) as stream:
                assert stream.status_code == 200 and next(stream.iter_lines()).startswith("event:")
    # Every stream gives its slot back once the server has seen it end: two answers at once
    # are allowed again.
    deadline, statuses, attempt = time.monotonic() + 30, [0], 0
    while time.monotonic() < deadline:
        attempt += 1
        statuses = [r.status_code for r in ask_together(server, ["viewer_a"] * 2, first=40 + 2 * attempt)]
        if statuses == [200, 200]:
            break
        time.sleep(1)
    assert statuses == [200, 200]


def test_a_question_over_the_length_limit_is_refused_naming_it(server: Server) -> None:
    with server.client("viewer_a") as client:
        reply = client.post("/ask", json={"kb": "demo", "question": "leave " * 167})  # 1002 characters
    assert reply.status_code == 422
    assert "limit is 1000 (ATTEST_MAX_QUESTION_CHARS)" in reply.json()["detail"]
