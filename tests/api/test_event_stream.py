"""The streamed answer's response closes its generator however it ends (#17 item 3).

Starlette stops iterating a sync generator when the client leaves but leaves it suspended,
holding whatever it holds (the in-process model's lock) until the garbage collector finds
it; ``_EventStream`` closes it before the response returns.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import anyio
import pytest
from starlette.requests import Request

from attest.api.routes.ask import _EventStream

pytestmark = pytest.mark.unit

SCOPE: dict[str, Any] = {"type": "http", "method": "POST", "path": "/ask/stream", "headers": []}


def test_a_client_that_leaves_closes_the_answer_stream() -> None:
    closed: list[int] = []  # how many events had been produced when the stream was closed

    def events() -> Generator[str, None, None]:
        produced = 0
        try:
            while True:
                produced += 1
                yield f"event: token\ndata: {produced}\n\n"
        finally:
            closed.append(produced)

    stream = events()  # held here, as a traceback or a reference cycle may hold it in the server
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        while len(sent) < 3:  # the client hangs up after the response start and two events
            await anyio.sleep(0.001)
        return {"type": "http.disconnect"}

    async def respond() -> None:
        with anyio.fail_after(10):
            await _EventStream(Request(SCOPE, receive), stream)(SCOPE, receive, send)

    anyio.run(respond)
    assert len(closed) == 1, "the abandoned stream was left suspended, not closed"
    assert closed[0] < 100  # it stopped soon after the client left
    assert len(sent) < 100
