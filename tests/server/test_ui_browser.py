"""The web UI end to end: a real ``ragline serve`` subprocess driven by Debian's headless Chromium
through Playwright (the browser is never downloaded).

Covers asking with a streamed answer and clickable citations that open the cited span in the
document panel, a conversation (a follow-up read in context, "new chat" starting over),
abstention, feedback, the admins' feedback page (rates, worst questions and their traces),
uploading through the file input with job progress, the document list with delete, search, API
error messages, the API key field with auth on, documents holding their own [n] markers or HTML
(shown as text; only the answer's own citations are links), and an LLM answer's unsupported
sentence marked.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ragline.service_state import open_state
from tests.helpers import running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.is_file():
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium package to run the web UI test "
        "(the test never downloads a browser)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = sync_api.expect
# Playwright's default wait is 5 s; under a loaded CI machine a streamed LLM answer can take longer.
# A longer wait changes only how long a failing check takes to fail, never what passes.
expect.set_options(timeout=30_000)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
TIMEOUT_MS = 20_000
COLLECTION = "kb"

# The lighthouse fact sits deep in a long document, after filler paragraphs, so the cited span is
# far from the top: the panel must scroll to it.
LIGHTHOUSE_FACT = "The Orrin Point lighthouse was built in 1874 from pale granite blocks."
LIGHTHOUSE_FILLER = "\n\n".join(
    f"Coastal note {i}: the shoreline path passes coves, dunes and tidal pools, and walkers are "
    f"asked to keep dogs on a lead between March and July near marker {i}."
    for i in range(1, 41)
)
LIGHTHOUSE = f"""# Lighthouses of the north coast

## Coastal walk

{LIGHTHOUSE_FILLER}

## The Orrin Point lighthouse

{LIGHTHOUSE_FACT} The Orrin Point lighthouse keeper lit the lamp every evening at dusk. \
The beam of the Orrin Point lighthouse can be seen from forty kilometres away on a clear night.
"""
HONEYBEE_FACT = "The queen honeybee Marigold lays two thousand eggs every day in spring."
HONEYBEES = f"""# Honeybees

## Colonies

A honeybee colony has one queen and thousands of workers. {HONEYBEE_FACT}

## Foraging

Worker bees forage for nectar within three kilometres of the hive.
"""
GLACIER_PHRASE = "The Velmar glacier retreats eleven metres every summer"
GLACIER = f"""# Glaciers

## Measurements

{GLACIER_PHRASE}, according to the survey station on its northern moraine.
Meltwater from the glacier feeds the turquoise lake below the valley.
"""
# Sent as JSON: stored as "default/handbook/smoker", an id with slashes.
SMOKER_DOC = {
    "id": "handbook/smoker",
    "title": "Beekeeping handbook",
    "text": "Beekeeping handbook. The smoker calms the bees before the hive is opened. "
    "Beekeepers wear veils to protect their faces from stings.",
}

# A document carrying its own citation markers (footnotes, a planted [99]) and HTML: the answer must
# link only its own citations, and every piece of it must be shown as text.
PLANTED_COLLECTION = "planted"
PLANTED_DOC = {
    "id": "bell",
    "title": "Kestrel harbour bell",
    "text": "Kestrel harbour bell. The Kestrel harbour bell was cast in 1791 from <b>ship bronze</b>.[2] "
    'The Kestrel harbour bell rings at noon every day <img src=x onerror="window.__pwned=1">.[3] '
    "The Kestrel harbour bell hangs in the old customs tower [99] beside the quay.",
}
LEDGER_DOC = {
    "id": "ledger",
    "title": "Ledger table",
    "text": "Call `rows[1]` to read the first row of the ledger table.[2] The ledger table keeps one "
    "row per shipment and is archived every spring.",
}


# -- the server --------------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    data_dir: Path
    headers: dict[str, str]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=30)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(auth: bool) -> dict[str, str]:
    # Only this test's settings: an LLM or config file from the caller's environment must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
    env["RAGLINE_SERVER__AUTH"] = "true" if auth else "false"
    env["RAGLINE_SERVER__JSON_LOGS"] = "false"
    return env


def _ragline(*args: str) -> list[str]:
    return [sys.executable, "-m", "ragline.cli.main", *args]


@contextmanager
def _serve(
    data_dir: Path, *, auth: bool, headers: dict[str, str] | None = None, env: dict[str, str] | None = None
) -> Iterator[Server]:
    port = _free_port()
    log_path = data_dir.parent / f"{data_dir.name}-server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            _ragline("serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)),
            cwd=data_dir.parent,
            env={**_env(auth), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"ragline serve exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"ragline serve not ready after 120 s:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield Server(url=url, data_dir=data_dir, headers=headers or {})
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _wait_job(client: httpx.Client, job: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/v1/jobs/{job['id']}")
        assert r.status_code == 200, r.text
        job = r.json()
        if job["status"] in ("done", "failed"):
            assert job["status"] == "done", job
            assert not job["errors"], job
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job['id']} did not finish: {job}")


def _upload(client: httpx.Client, collection: str, paths: list[Path]) -> dict[str, Any]:
    files = [("files", (p.name, p.read_bytes(), "text/markdown")) for p in paths]
    r = client.post(f"/v1/collections/{collection}/files", files=files)
    assert r.status_code == 202, r.text
    return _wait_job(client, r.json())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``ragline serve`` with auth off, seeded with two Markdown files and one JSON document."""
    root = tmp_path_factory.mktemp("ui")
    (root / "lighthouses.md").write_text(LIGHTHOUSE, encoding="utf-8")
    (root / "honeybees.md").write_text(HONEYBEES, encoding="utf-8")
    with _serve(root / "data", auth=False) as srv, srv.client() as c:
        job = _upload(c, COLLECTION, [root / "lighthouses.md", root / "honeybees.md"])
        assert job["total"] == 2 and job["chunks"] >= 2, job
        r = c.post(f"/v1/collections/{COLLECTION}/documents", json={"documents": [SMOKER_DOC]})
        assert r.status_code == 202, r.text
        _wait_job(c, r.json())
        yield srv


# -- the browser -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@contextmanager
def _new_page(browser: Any) -> Iterator[Any]:
    """A fresh page (own storage); fails the test on any uncaught script error."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    script_errors: list[str] = []
    pg.on("pageerror", lambda exc: script_errors.append(str(exc)))
    try:
        yield pg
    finally:
        context.close()
    assert not script_errors, f"uncaught errors in the page: {script_errors}"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with _new_page(browser) as pg:
        yield pg


def _open_ui(page: Any, server: Server, collection: str | None = COLLECTION) -> None:
    page.goto(f"{server.url}/")
    assert page.url == f"{server.url}/ui/"
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    if collection is not None:
        page.select_option("#collection-select", collection)
        expect(page.locator("#documents-body tr").first).to_be_visible()


# Records every change to the answer card in order: token text appended to the answer, the final
# re-render (which replaces the answer's children and adds citation buttons) and the sources list.
# The DOM mutation order is the evidence of streaming: the extractive answerer emits its sentences
# back to back, so they may arrive in one network read, but each ``token`` event must still be
# appended on its own, before the ``final`` event renders citations and sources.
WATCH_ANSWER = """() => {
  window.__answerLog = [];
  const text = document.getElementById("answer-text");
  const sources = document.getElementById("answer-sources");
  new MutationObserver((records) => {
    for (const r of records) {
      const added = [...r.addedNodes];
      if (r.target === text && r.removedNodes.length === 0 && added.length
          && added.every((n) => n.nodeType === Node.TEXT_NODE)) {
        window.__answerLog.push({kind: "token", text: added.map((n) => n.data).join("")});
      } else if (r.target === sources && added.length) {
        window.__answerLog.push({kind: "sources", text: ""});
      } else if (r.target === text && added.some((n) => n.nodeName === "BUTTON")) {
        window.__answerLog.push({kind: "final", text: text.textContent});
      }
    }
  }).observe(document.getElementById("answer"), {childList: true, subtree: true});
}"""


# -- the tests ---------------------------------------------------------------------------------------


def test_ask_streams_tokens_and_citation_opens_the_cited_span(page: Any, server: Server) -> None:
    _open_ui(page, server)
    page.evaluate(WATCH_ANSWER)
    # A broad question: the extractive answerer answers it with several sentences, one token each.
    page.fill("#question", "What do we know about the building of the Orrin Point lighthouse?")
    page.click("#ask-button")
    answer = page.locator("#answer-text")
    expect(page.locator("#answer")).to_have_attribute("data-state", "done")

    # Streaming: the answer grew token event by token event, before the final render and the sources;
    # the tokens together are the final text.
    log = page.evaluate("window.__answerLog")
    kinds = [e["kind"] for e in log]
    tokens = [e for e in log if e["kind"] == "token"]
    assert len(tokens) >= 2, f"expected the answer to stream in several token events: {log}"
    assert kinds.index("sources") > kinds.index("final") > max(i for i, k in enumerate(kinds) if k == "token")
    assert page.get_attribute("#answer", "data-tokens") == str(len(tokens))
    final_text = answer.inner_text()
    assert "".join(e["text"] for e in tokens) == final_text, (tokens, final_text)

    # The final answer: the fact, [n] as citation buttons, a sources list, mode/confidence/latency.
    assert LIGHTHOUSE_FACT in final_text
    expect(page.locator("#answer-abstained")).to_be_hidden()
    expect(page.locator("#answer-sources li")).to_have_count(len(tokens))
    expect(page.locator("#answer-sources li").first).to_contain_text("Lighthouses of the north coast")
    meta = page.locator("#answer-meta")
    expect(meta).to_contain_text("mode: extractive")
    expect(meta).to_contain_text("confidence: ")
    expect(meta).to_contain_text(" ms")

    # Citation [1] opens the document with the cited span marked and scrolled into view.
    page.click("[data-testid=cite-1]")
    panel = page.locator("#doc-panel")
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("data-state", "done")
    expect(page.locator("#doc-title")).to_have_text("Lighthouses of the north coast")
    mark = page.locator("#doc-text mark")
    expect(mark).to_have_count(1)
    expect(mark).to_be_in_viewport()
    assert page.locator("#doc-text").evaluate("el => el.scrollTop") > 0  # the fact is far down
    marked = mark.inner_text()
    doc_id = panel.get_attribute("data-doc-id")
    trace_id = page.get_attribute("#answer", "data-trace-id")
    with server.client() as c:
        doc = c.get(f"/v1/collections/{COLLECTION}/documents/{doc_id}").json()
        trace = c.get(f"/v1/traces/{trace_id}").json()
    cited = next(x for x in trace["trace"]["citations"] if x["n"] == 1)
    assert cited["doc_id"] == doc_id
    assert LIGHTHOUSE_FACT in marked
    assert marked in doc["text"]
    assert marked == doc["text"][cited["start"] : cited["end"]]
    assert page.locator("#doc-text").inner_text() == doc["text"]
    # The panel closes again.
    page.click("#doc-close")
    expect(panel).to_be_hidden()

    # A question the documents cannot answer is shown as an abstention.
    page.fill("#question", "What is the capital city of Mongolia?")
    page.click("#ask-button")
    expect(page.locator("#answer")).to_have_attribute("data-state", "done")
    expect(page.locator("#answer-abstained")).to_be_visible()
    expect(page.locator("#answer-abstained")).to_contain_text("Not enough information")
    expect(page.locator("#answer-sources-block")).to_be_hidden()


def test_a_conversation_reads_follow_ups_in_context_until_a_new_chat(page: Any, server: Server) -> None:
    _open_ui(page, server)
    ask_url = f"/v1/collections/{COLLECTION}/ask"

    def ask(question: str) -> dict[str, Any]:
        page.fill("#question", question)
        with page.expect_request(lambda r: r.url.endswith(ask_url)) as req:
            page.click("#ask-button")
        expect(page.locator("#answer")).to_have_attribute("data-state", "done")
        body: dict[str, Any] = req.value.post_data_json
        return body

    first = ask("What do we know about the Orrin Point lighthouse?")
    expect(page.locator("#conversation")).to_be_hidden()
    expect(page.locator("#answer-query")).to_be_hidden()  # searched as asked
    first_answer = page.locator("#answer-text").inner_text()

    # The follow-up names nothing: the conversation supplies the lighthouse.
    follow = ask("When was it built?")
    assert follow["conversation_id"] == first["conversation_id"]
    expect(page.locator("#answer-query")).to_have_text("Searched for: When was Orrin Point lighthouse built?")
    expect(page.locator("#answer-text")).to_contain_text(LIGHTHOUSE_FACT)
    turns = page.locator("#conversation [data-testid=turn]")
    expect(turns).to_have_count(1)
    expect(turns.first.locator(".turn-question")).to_have_text(
        "What do we know about the Orrin Point lighthouse?"
    )
    expect(turns.first.locator(".turn-answer")).to_have_text(first_answer)
    with server.client() as c:
        stored = c.get(f"/v1/conversations/{follow['conversation_id']}").json()
    assert [t["content"] for t in stored["turns"] if t["role"] == "user"] == [
        "What do we know about the Orrin Point lighthouse?",
        "When was it built?",
    ]

    # A new chat forgets it: the same follow-up is now searched on its own, in a new conversation.
    page.click("#new-chat")
    expect(page.locator("#conversation")).to_be_hidden()
    expect(page.locator("#answer")).to_be_hidden()
    alone = ask("When was it built?")
    assert alone["conversation_id"] != follow["conversation_id"]
    expect(page.locator("#answer-query")).to_be_hidden()
    expect(page.locator("#conversation [data-testid=turn]")).to_have_count(0)


def test_feedback_is_stored(page: Any, server: Server) -> None:
    _open_ui(page, server)
    page.fill("#question", "How many eggs does the queen honeybee Marigold lay?")
    page.click("#ask-button")
    expect(page.locator("#answer")).to_have_attribute("data-state", "done")
    expect(page.locator("#answer-text")).to_contain_text(HONEYBEE_FACT)
    trace_id = page.get_attribute("#answer", "data-trace-id")
    assert trace_id

    page.fill("#feedback-comment", "exactly what I needed")
    with page.expect_response(lambda r: r.url.endswith("/v1/feedback")) as resp:
        page.click("#feedback-up")
    assert resp.value.status == 201
    assert resp.value.json()["rating"] == "up"
    expect(page.locator("#feedback-status")).to_have_text("Thanks for your feedback!")
    expect(page.locator("#feedback-up")).to_be_disabled()

    with server.client() as c:
        trace = c.get(f"/v1/traces/{trace_id}")
    assert trace.status_code == 200, trace.text
    assert trace.json()["question"] == "How many eggs does the queen honeybee Marigold lay?"
    state = open_state("", server.data_dir)
    try:
        stored = [f for f in state.list_feedback(tenant="default") if f.trace_id == trace_id]
    finally:
        state.close()
    assert [(f.rating, f.comment) for f in stored] == [(1, "exactly what I needed")]


def test_feedback_page_shows_rates_and_worst_questions_with_traces(page: Any, server: Server) -> None:
    bad_question = "Which colour is the Orrin Point lighthouse keeper's cat?"
    with server.client() as c:
        asked = {}
        for q in (bad_question, "How many eggs does the queen honeybee Marigold lay?"):
            r = c.post(f"/v1/collections/{COLLECTION}/ask", json={"question": q})
            assert r.status_code == 200, r.text
            asked[q] = r.json()["trace_id"]
        for rating in ("down", "down"):
            r = c.post("/v1/feedback", json={"trace_id": asked[bad_question], "rating": rating})
            assert r.status_code == 201, r.text
        honeybee = asked["How many eggs does the queen honeybee Marigold lay?"]
        up = c.post("/v1/feedback", json={"trace_id": honeybee, "rating": "up"})
        assert up.status_code == 201, up.text
        api = c.get("/v1/feedback/report", params={"collection": COLLECTION, "days": 1}).json()
    kb = {row["key"]: row for row in api["by_collection"]}[COLLECTION]

    # From the main page's footer to the feedback page.
    _open_ui(page, server, collection=None)
    page.click("[data-testid=feedback-page-link]")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.fill("#report-collection", COLLECTION)
    page.fill("#report-days", "1")
    with page.expect_response(lambda r: "/v1/feedback/report?" in r.url and "collection=kb" in r.url):
        page.click("#report-load")
    row = page.locator(f"#by-collection tr[data-key={COLLECTION}]")
    expect(row.locator("td")).to_have_text([COLLECTION, str(kb["up"]), str(kb["down"]), f"{kb['rate']:.3f}"])
    expect(page.locator("#report-summary")).to_contain_text(
        f"{api['rated']} of {api['traces']} answers rated"
    )
    expect(page.locator("#by-day tr")).to_have_count(len(api["by_day"]))
    # The worst-rated question first, linked to its trace: the trace opens on the page.
    worst = page.locator("#worst li").first
    expect(worst.locator(".worst-question")).to_have_text(bad_question)
    expect(worst).to_contain_text("2 down")
    worst.locator(f"button[data-trace-id='{asked[bad_question]}']").click()
    expect(page.locator("#trace-view")).to_contain_text(f"question: {bad_question}")
    expect(page.locator("#trace-view")).to_contain_text("answer: ")


def test_upload_through_the_ui_then_list_search_and_delete(page: Any, server: Server, tmp_path: Path) -> None:
    _open_ui(page, server)
    glacier = tmp_path / "glaciers.md"
    glacier.write_text(GLACIER, encoding="utf-8")
    page.set_input_files("#upload-files", str(glacier))
    page.fill("#upload-groups", "")
    page.click("#upload-button")

    progress = page.locator("#upload-progress")
    expect(progress).to_have_attribute("data-status", "done", timeout=60_000)
    expect(page.locator("#upload-status")).to_contain_text("Done: 1 documents")
    assert progress.evaluate("p => [p.value, p.max]") == [1, 1]
    expect(page.locator("#upload-errors li")).to_have_count(0)

    rows = page.locator("#documents-body tr")
    expect(rows.filter(has_text="Glaciers")).to_have_count(1)
    expect(rows).to_have_count(4)

    page.fill("#search-query", "Velmar glacier retreat")
    page.click("#search-button")
    hits = page.locator("#search-results li")
    expect(hits.first).to_contain_text("Glaciers")
    expect(hits.first).to_contain_text(GLACIER_PHRASE)
    expect(hits.first.locator(".score")).to_have_text(re.compile(r"^-?\d+\.\d{3}$"))

    # Delete the JSON document whose id holds slashes: the URL keeps them as path separators.
    row = rows.filter(has_text="Beekeeping handbook")
    assert row.get_attribute("data-doc-id") == "default/handbook/smoker"
    page.once("dialog", lambda d: d.accept())
    with page.expect_response(lambda r: r.request.method == "DELETE") as resp:
        row.locator("[data-testid=document-delete]").click()
    assert resp.value.status == 200, resp.value.text()
    assert resp.value.url.endswith("/v1/collections/kb/documents/default/handbook/smoker")
    expect(rows.filter(has_text="Beekeeping handbook")).to_have_count(0)
    expect(rows).to_have_count(3)
    expect(page.locator("#error")).to_be_hidden()
    with server.client() as c:
        gone = c.get(f"/v1/collections/{COLLECTION}/documents/default/handbook/smoker")
    assert gone.status_code == 404


def test_api_errors_are_shown(page: Any, server: Server) -> None:
    _open_ui(page, server, collection=None)
    page.select_option("#collection-select", label="New collection…")
    page.fill("#collection-new", "no-such-collection")
    page.press("#collection-new", "Tab")
    expect(page.locator("#documents-status")).to_contain_text("empty")
    page.fill("#question", "When was the Orrin Point lighthouse built?")
    page.click("#ask-button")
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(page.locator("#error-message")).to_contain_text("collection 'no-such-collection' does not exist")
    expect(page.locator("#answer")).to_be_hidden()
    page.click("#error-dismiss")
    expect(error).to_be_hidden()


def test_api_key_field_with_auth_on(browser: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    created = subprocess.run(
        _ragline(
            "keys", "create", "--tenant", "acme", "--groups", "eng", "--role", "admin",
            "--json", "--data-dir", str(data_dir),
        ),
        env=_env(auth=True),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )  # fmt: skip
    secret = json.loads(created.stdout)["secret"]
    (tmp_path / "honeybees.md").write_text(HONEYBEES, encoding="utf-8")
    with _serve(data_dir, auth=True, headers={"Authorization": f"Bearer {secret}"}) as srv:
        with srv.client() as c:
            _upload(c, "bees", [tmp_path / "honeybees.md"])
            assert httpx.get(f"{srv.url}/v1/collections", timeout=10).status_code == 401

        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        script_errors: list[str] = []
        page.on("pageerror", lambda exc: script_errors.append(str(exc)))
        try:
            page.goto(f"{srv.url}/ui/")
            expect(page.locator("body")).to_have_attribute("data-ready", "true")
            # Without a key the API's 401 message is shown.
            expect(page.locator("#error-message")).to_contain_text("this endpoint needs an API key")

            page.fill("#api-key", secret)
            page.click("#api-key-save")
            expect(page.locator("#error")).to_be_hidden()
            expect(page.locator("#collection-select option", has_text="bees")).to_have_count(1)
            assert page.evaluate("localStorage.getItem('ragline.apiKey')") == secret
            page.select_option("#collection-select", "bees")
            expect(page.locator("#documents-body tr", has_text="Honeybees")).to_have_count(1)

            page.fill("#question", "How many eggs does the queen honeybee Marigold lay?")
            with page.expect_request(lambda r: r.url.endswith("/v1/collections/bees/ask")) as req:
                page.click("#ask-button")
            assert req.value.headers.get("authorization") == f"Bearer {secret}"
            expect(page.locator("#answer")).to_have_attribute("data-state", "done")
            expect(page.locator("#answer-text")).to_contain_text(HONEYBEE_FACT)

            # The key survives a reload (localStorage) and a wrong key shows the API's message.
            page.reload()
            expect(page.locator("body")).to_have_attribute("data-ready", "true")
            expect(page.locator("#api-key")).to_have_value(secret)
            expect(page.locator("#error")).to_be_hidden()
            page.fill("#api-key", "not-a-real-key")
            page.click("#api-key-save")
            expect(page.locator("#error-message")).to_contain_text("the API key is unknown or revoked")
        finally:
            context.close()
        assert not script_errors, f"uncaught errors in the page: {script_errors}"


def _add_documents(server: Server, collection: str, *docs: dict[str, str]) -> None:
    with server.client() as c:
        r = c.post(f"/v1/collections/{collection}/documents", json={"documents": list(docs)})
        assert r.status_code == 202, r.text
        _wait_job(c, r.json())


def _cite_numbers(page: Any) -> list[int]:
    return [
        int(n)
        for n in page.locator("#answer-text button.cite").evaluate_all("bs => bs.map(b => b.dataset.n)")
    ]


def _unlinked_markers(page: Any) -> list[str]:
    """[n] markers shown as plain text in the answer (outside citation buttons)."""
    text = page.locator("#answer-text").evaluate(
        "el => [...el.childNodes].filter(n => n.nodeType === Node.TEXT_NODE).map(n => n.data).join('')"
    )
    return re.findall(r"\[\d+\]", text)


def test_a_documents_own_markers_and_html_stay_text(page: Any, server: Server) -> None:
    _add_documents(server, PLANTED_COLLECTION, PLANTED_DOC, SMOKER_DOC | {"id": "smoker"})
    _open_ui(page, server, PLANTED_COLLECTION)
    page.fill("#question", "What do we know about the Kestrel harbour bell?")
    page.click("#ask-button")
    expect(page.locator("#answer")).to_have_attribute("data-state", "done")
    expect(page.locator("#answer-abstained")).to_be_hidden()
    sources = page.locator("#answer-sources li").count()
    assert sources >= 2
    # One button per citation, in order; the document's [2], [3] and [99] are gone, not links.
    assert _cite_numbers(page) == list(range(1, sources + 1))
    assert _unlinked_markers(page) == []
    answer = page.locator("#answer-text").inner_text()
    assert "<b>ship bronze</b>" in answer or "<img src=x" in answer, answer
    # The source quotes keep the document's exact text, markers and tags included, as text.
    quotes = " ".join(page.locator("#answer-sources blockquote").all_inner_texts())
    assert "[2]" in quotes or "[3]" in quotes or "[99]" in quotes, quotes

    page.fill("#search-query", "Kestrel harbour bell customs tower")
    page.click("#search-button")
    expect(page.locator("#search-results li").first).to_contain_text("Kestrel harbour bell")
    page.locator("[data-testid=search-hit-open]").first.click()
    expect(page.locator("#doc-panel")).to_have_attribute("data-state", "done")
    expect(page.locator("#doc-text")).to_contain_text('<img src=x onerror="window.__pwned=1">')
    # Nothing from the document became markup: no element, no script run.
    assert page.locator("main img, main b, #doc-panel img").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_llm_answers_link_only_their_own_citations(browser: Any, tmp_path: Path) -> None:
    # The fake model quotes source [1]'s first sentence, cites [1] and a bogus [9].
    with running_server("tests.generation.fake_chat_server", tmp_path / "chat.stderr") as chat_url:
        llm = {"RAGLINE_LLM__BASE_URL": f"{chat_url}/v1", "RAGLINE_LLM__MODEL": "good"}
        with _serve(tmp_path / "data", auth=False, env=llm) as srv:
            _add_documents(srv, COLLECTION, LEDGER_DOC, PLANTED_DOC, SMOKER_DOC)
            with _new_page(browser) as pg:
                _open_ui(pg, srv)
                pg.fill("#question", "How do I read the first row of the ledger table?")
                pg.click("#ask-button")
                expect(pg.locator("#answer")).to_have_attribute("data-state", "done")
                expect(pg.locator("#answer-meta")).to_contain_text("mode: llm")
                answer = pg.locator("#answer-text").inner_text()
                assert "`rows[1]` to read the first row of the ledger table [1]." in answer, answer
                # The [1] inside code is an index, not a citation: one button, for the real [1]; the
                # document's own [2] never reached the model, the bogus [9] was dropped.
                assert _cite_numbers(pg) == [1]
                assert _unlinked_markers(pg) == ["[1]"]
                assert "[2]" not in answer and "[9]" not in answer
                # Dropping [9] left "This is also covered in." citing nothing: the server's support
                # check flags it and the UI marks that sentence alone, saying why.
                marked = pg.locator("#answer-text mark.unsupported")
                expect(marked).to_have_count(1)
                expect(marked).to_have_text("This is also covered in.")
                expect(marked).to_have_attribute("title", "Cites no source")
                assert pg.locator("#answer-text mark.unsupported button.cite").count() == 0
                expect(pg.locator("#answer-meta")).to_contain_text("unsupported sentences: 1")
