"""End to end in a real browser: Debian's Chromium, driven by Playwright, against `attest ui`
and a real API server. Screenshots of each step go to ``ATTEST_SCREENSHOT_DIR`` when set
(``docs/screenshots/`` holds the ones the README shows), else to the test's temporary folder.

Skipped when Chromium is missing; ``scripts/test.sh`` installs it from Debian's packages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live import PASSWORD, Server, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = os.environ.get("ATTEST_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NEW_FACT = (
    "Rooftop garden\n\nThe Kestrel Lane rooftop garden in Port Alder opens at 7:30 every weekday "
    "and closes at 19:00. Bookings for the garden room go through the facilities desk.\n"
)
WAIT_MS = 120_000
# TEST-NET-3 (RFC 5737): never a real host. Nothing on a page may make the browser fetch it.
OUTSIDE = "203.0.113.9"
HOSTILE_QUESTION = (
    f"What are the Quillmoor garage hours? ![x](http://{OUTSIDE}/question.png) "
    f"[Session expired, click here](http://{OUTSIDE}/login) http://{OUTSIDE}/bare"
)
HOSTILE_DOCUMENT = (
    f"Garage hours ![t](http://{OUTSIDE}/title.png) [Session expired, click here](http://{OUTSIDE}/title)\n\n"
    f"The Quillmoor garage opens at 6:15 on weekdays ![b](http://{OUTSIDE}/body.png) and closes at 22:00. "
    f"Renew a parking badge at the front desk, [Session expired, click here](http://{OUTSIDE}/body).\n"
)

if not Path(CHROMIUM).exists():
    pytest.skip(
        "Chromium is not installed (scripts/test.sh installs Debian's chromium)", allow_module_level=True
    )

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def ui(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`attest ui` on a free port, talking to the test API server."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("ui") / "ui.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "attest", "ui", "--port", str(port), "--api-url", server.url],
        env=server.env,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            assert process.poll() is None and time.monotonic() < deadline, "attest ui did not start"
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
    assert not _healthy(url), "the UI still serves after `attest ui` was stopped"


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    """A headless Chromium with a fresh user-data directory."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path / "chromium-profile",
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        yield context.pages[0] if context.pages else context.new_page()
        context.close()


def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("ATTEST_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def settle(page: Page) -> None:
    """Wait until Streamlit has finished running the script and drawing (charts draw last)."""
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=WAIT_MS)
    page.wait_for_timeout(1500)


def sign_in(page: Page, url: str, username: str, shot: Path | None = None) -> None:
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    if shot:
        page.screenshot(path=shot)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("stSidebar").get_by_text("Sign out")).to_be_visible(timeout=WAIT_MS)


def ask(page: Page, kb: str, question: str) -> None:
    box = page.get_by_placeholder(f"Ask a question about {kb}")
    box.fill(question)
    box.press("Enter")


def test_viewer_asks_and_sees_citations_and_verdicts(page: Page, ui: str, tmp_path: Path) -> None:
    out = shots(tmp_path)
    sign_in(page, ui, "viewer_a", out / "01-sign-in.png")
    ask(page, "demo", "How many days of annual leave do full-time employees get?")
    expect(page.get_by_text("statements supported").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("a.cite").first).to_be_visible()
    expect(page.locator(".attest-badge").first).to_be_visible()
    expect(page.locator(".attest-card mark").first).to_be_visible()  # the cited span, highlighted
    settle(page)
    page.screenshot(path=out / "02-answer-with-citations-and-verdicts.png")


def test_admin_uploads_reindexes_and_the_new_document_answers(page: Page, ui: str, tmp_path: Path) -> None:
    out = shots(tmp_path)
    upload = tmp_path / "rooftop_garden.txt"
    upload.write_text(NEW_FACT)
    sign_in(page, ui, "admin")
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Knowledge bases", exact=True).click()
    expect(page.get_by_role("tab", name="Upload and re-index")).to_be_visible(timeout=WAIT_MS)
    page.get_by_role("tab", name="Upload and re-index").click()
    page.locator("[data-testid='stFileUploader'] input[type=file]").set_input_files(upload)
    expect(page.get_by_text("rooftop_garden.txt").first).to_be_visible(timeout=WAIT_MS)
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_text("rooftop_garden.txt uploaded")).to_be_visible(timeout=WAIT_MS)
    settle(page)
    page.screenshot(path=out / "03-upload.png")
    page.get_by_role("tab", name="Upload and re-index").click()
    page.get_by_role("button", name="Re-index now").click()
    expect(page.get_by_text("finished:")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("1 added")).to_be_visible()
    settle(page)
    page.get_by_text("finished:").scroll_into_view_if_needed()
    page.screenshot(path=out / "04-reindex-finished.png")
    sidebar.get_by_text("Ask", exact=True).click()
    ask(page, "b", "When does the rooftop garden open on weekdays?")
    expect(page.get_by_text("statements supported").first).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".attest-answer").last).to_contain_text("7:30")
    expect(page.locator(".attest-card .title").first).to_contain_text("Rooftop garden")
    settle(page)
    page.screenshot(path=out / "05-new-document-answers.png")
    sidebar.get_by_text("Audit log", exact=True).click()
    expect(page.get_by_text("Retrieved chunks")).to_be_visible(timeout=WAIT_MS)
    settle(page)
    page.screenshot(path=out / "06-audit-log.png")
    sidebar.get_by_text("Dashboard", exact=True).click()
    expect(page.get_by_text("Questions per day")).to_be_visible(timeout=WAIT_MS)
    settle(page)
    page.screenshot(path=out / "07-dashboard.png")


def test_untrusted_text_is_shown_as_text_and_fetches_nothing(page: Page, ui: str, server: Server) -> None:
    """A viewer's question and a document's title and text, all carrying a Markdown image and
    a fake "session expired" link to an outside host: in the viewer's chat (question, streamed
    answer, sources or closest documents) and in the admin's audit record (question, answer,
    retrieved chunks' titles), no request goes to that host and no <img> or <a> points there."""
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url) if OUTSIDE in request.url else None)
    page.context.route(f"**://{OUTSIDE}/**", lambda route: route.abort())  # never leaves the machine
    kb = "md-inject"
    with server.client("admin") as admin:
        admin.post("/kbs", json={"name": kb, "description": "Markdown in titles and text"}).raise_for_status()
        try:
            files = {"file": ("garage.txt", HOSTILE_DOCUMENT.encode(), "text/plain")}
            admin.post(f"/kbs/{kb}/documents", files=files).raise_for_status()
            job = admin.post(f"/kbs/{kb}/jobs").json()
            deadline = time.monotonic() + 300
            while job["status"] == "running" and time.monotonic() < deadline:
                time.sleep(0.5)
                job = admin.get(f"/kbs/{kb}/jobs/{job['id']}").json()
            assert job["status"] == "succeeded", job
            admin.post(f"/kbs/{kb}/grants", json={"user_id": server.ids["viewer_a"]}).raise_for_status()
            titles = [d["title"] for d in admin.get(f"/kbs/{kb}/documents").json()["items"]]
            assert titles and f"http://{OUTSIDE}/title" in titles[0]  # the title carries the link

            sign_in(page, ui, "viewer_a")
            sidebar = page.get_by_test_id("stSidebar")
            sidebar.get_by_test_id("stSelectbox").click()
            page.get_by_role("option", name=kb).click()
            expect(page.get_by_placeholder(f"Ask a question about {kb}")).to_be_visible(timeout=WAIT_MS)
            ask(page, kb, HOSTILE_QUESTION)
            expect(page.locator(".attest-answer, .attest-declined").first).to_be_visible(timeout=WAIT_MS)
            settle(page)
            question = page.get_by_test_id("stChatMessage").first
            expect(question).to_contain_text("![x](http")  # the question, as typed
            expect(question).to_contain_text("[Session expired, click here](http")
            expect(page.get_by_text("Garage hours ![t](http").first).to_be_visible()  # a title, as text
            _nothing_points_outside(page, fetched)

            sidebar.get_by_role("button", name="Sign out").click()
            sign_in(page, ui, "admin")
            page.get_by_test_id("stSidebar").get_by_text("Audit log", exact=True).click()
            page.get_by_label("User").fill("user:viewer_a")
            page.get_by_label("User").press("Enter")
            page.get_by_label("Action").fill("ask")
            page.get_by_label("Action").press("Enter")
            expect(page.get_by_text("Retrieved chunks")).to_be_visible(timeout=WAIT_MS)
            settle(page)
            record = page.get_by_test_id("stMarkdownContainer").filter(has_text="Question:")
            expect(record).to_contain_text("![x](http")
            expect(record).to_contain_text("[Session expired, click here](http")
            chunk = page.get_by_test_id("stExpander").get_by_text("Garage hours ![t](http")
            expect(chunk.first).to_be_visible()
            _nothing_points_outside(page, fetched)
        finally:
            admin.delete(f"/kbs/{kb}")


def _nothing_points_outside(page: Page, fetched: list[str]) -> None:
    assert fetched == [], fetched
    assert page.locator(f"img[src*='{OUTSIDE}']").count() == 0
    assert page.locator(f"a[href*='{OUTSIDE}']").count() == 0
    assert page.get_by_role("link", name="Session expired, click here").count() == 0
