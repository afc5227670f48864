"""A streamed answer abandoned by its client, against a live server with the in-process model."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.live import PASSWORD, Server, attest, sign_in, start_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POLICY = (
    "Travel policy\n\nHotel costs are refunded up to 140 euros a night in Paris and 110 euros a night "
    "anywhere else. Receipts are uploaded within 30 days of the trip. Train travel is booked in second "
    "class.\n"
)
ABANDONED_QUESTION = "How much is refunded for a hotel night in Paris?"
NEXT_QUESTION = "Within how many days are receipts uploaded?"


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``attest serve`` answering with llama.cpp in-process, over one small knowledge base."""
    data_dir = tmp_path_factory.mktemp("stream-server")
    docs = data_dir / "docs"
    docs.mkdir()
    (docs / "travel.txt").write_text(POLICY)
    settings = {"ATTEST_GENERATOR": "llama_cpp", "ATTEST_ANSWER_CACHE_SIZE": "0"}
    server = start_server(data_dir, **settings)
    try:
        for args in (
            ("ingest", "--kb", "travel", str(docs)),
            ("users", "create", "--username", "admin", "--role", "admin", "--password", PASSWORD),
        ):
            done = attest(server.env, *args)
            assert done.returncode == 0, done.stderr
        server.tokens["admin"] = sign_in(server, "admin")
        yield server
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)


def first_token(server: Server, question: str) -> str:
    """Open the answer's event stream, read its first token, and hang up."""
    headers = {"Authorization": f"Bearer {server.tokens['admin']}"}
    with (
        httpx.Client(base_url=server.api, headers=headers, timeout=120) as client,
        client.stream("POST", "/ask/stream", json={"kb": "travel", "question": question}) as reply,
    ):
        assert reply.status_code == 200, reply.read()
        event = None
        for line in reply.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == "token":
                return str(json.loads(line.removeprefix("data: "))["text"])
            assert event in (None, "token"), f"the stream ended before a token: {event}"
    raise AssertionError("the stream ended before a token")


def abandoned_records(admin: httpx.Client) -> list[dict]:
    records = admin.get("/audit", params={"action": "ask", "kb": "travel"}).json()["items"]
    return [r for r in records if r["details"].get("abandoned")]


def test_an_abandoned_stream_frees_the_model_and_is_audited(llama_server: Server) -> None:
    token = first_token(llama_server, ABANDONED_QUESTION)
    with llama_server.client("admin") as admin:
        # Hangs (and fails on the client's 120 s timeout) while the abandoned answer holds the model.
        reply = admin.post("/ask", json={"kb": "travel", "question": NEXT_QUESTION})
        assert reply.status_code == 200, reply.text
        assert reply.json()["backend"] == "llama_cpp"
        deadline = time.monotonic() + 60  # the server writes the record once it notices the hang-up
        while not (records := abandoned_records(admin)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(records) == 1, "the abandoned answer left no audit record"
        [record] = records
        details = record["details"]
        assert details["question"] == ABANDONED_QUESTION
        assert details["answer"].lstrip().startswith(token.strip()) and not details["answered"]
        assert details["model"] == "llama_cpp" and details["retrieved"]
        assert "closed before the answer was finished" in details["reason"]
        everything = admin.get("/audit", params={"action": "ask", "kb": "travel"}).json()["items"]
        delivered = [r for r in everything if r["details"]["question"] == NEXT_QUESTION]
        assert len(delivered) == 1 and delivered[0]["details"]["abandoned"] is False
        turn = admin.get(f"/conversations/{details['conversation_id']}").json()["messages"][-1]
        assert turn["question"] == ABANDONED_QUESTION and turn["abandoned"] is True
        assert turn["answer"] == details["answer"]
