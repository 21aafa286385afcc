"""The workbench against a live server on a free loopback port: in a real browser (Debian's chromium,
driven by Playwright), and killed with SIGKILL after a correction.

The browser tests skip only when no chromium binary can be found; `.ci/run` installs it, so they run
in CI. Set REVIEWTAG_SCREENSHOT_DIR to keep the end-to-end test's screenshot (the README's
docs/workbench_e2e.png is made with REVIEWTAG_SCREENSHOT_DIR=docs).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.labels.corrections import read_corrections
from pipelines.web.app import create_app

from . import web_setup as helpers
from .conftest import ROOT
from .test_web import without_reader
from .web_setup import ANNOTATOR, csrf_of, free_port, make_workbench, wait_done

web_project, loopback = helpers.web_project, helpers.loopback  # fixtures
QUOTE = "the impact of sibling-to-sibling sexual abuse"
SELECT = """quote => {
  const doc = document.getElementById("doc");
  const at = doc.textContent.indexOf(quote);
  if (at < 0) return false;
  const walker = document.createTreeWalker(doc, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let seen = 0, node;
  while ((node = walker.nextNode())) {
    const n = node.textContent.length;
    if (seen <= at && at < seen + n) range.setStart(node, at - seen);
    const end = at + quote.length;
    if (seen < end && end <= seen + n) { range.setEnd(node, end - seen); break; }
    seen += n;
  }
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  return true;
}"""


def find_chromium() -> str | None:
    for name in (os.environ.get("REVIEWTAG_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (path := shutil.which(name)):
            return path
    return None


@pytest.fixture(scope="module")
def browser():
    executable = find_chromium()
    if executable is None:
        pytest.skip("no chromium binary found (apt-get install -y chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture()
def live_server(web_project, loopback):
    """The app under uvicorn in a thread, on a free port of 127.0.0.1."""
    project, texts = web_project
    application = create_app(make_workbench(project), allowed_hosts=frozenset({"127.0.0.1"}))
    with helpers.serve_in_thread(application) as url:
        yield url, project, texts


def watched_page(browser, problems: list[str]):
    """A page that records every dialog (none may open) and every console error (CSP violations)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    return page


def test_upload_read_correct_export_in_a_browser(browser, live_server, tmp_path):
    url, project, texts = live_server
    problems: list[str] = []
    page = watched_page(browser, problems)
    page.goto(f"{url}/")
    page.set_input_files("#folder", str(project / "inbox_web"))  # two reviews and one bad file
    page.click("#tag-button")
    page.wait_for_selector("#results", timeout=60_000)
    assert page.locator("tr.review-row").count() == 2
    assert page.locator("tr.review-row .chip").count() >= 2
    error = page.locator("tr.error-row")
    assert error.count() == 1 and "broken.txt" in error.inner_text() and "binary data, not text" in error.inner_text()

    page.click("a.open >> nth=0")  # Child A
    page.wait_for_selector("#doc mark.ev")
    doc = page.inner_text("#doc")
    marks = page.locator("mark.ev").all_inner_texts()
    assert marks and all(m in doc for m in marks)
    chip = page.locator(".labels .chip[data-label]").first
    label = chip.get_attribute("data-label")
    chip.hover()
    focused = page.locator("mark.focus")
    assert focused.count() > 0 and all(
        label in m.split() for m in focused.evaluate_all("e => e.map(x => x.dataset.labels)")
    )

    rejected = page.locator("form.reject").first
    rejected_label = rejected.locator("input[name=label]").get_attribute("value")
    rejected.locator("input[name=note]").fill("the review never describes this harm")
    rejected.locator("button").click()
    page.wait_for_selector("#recorded")
    assert f"remove harm_type/{rejected_label}" in page.inner_text("#recorded")

    assert page.evaluate(SELECT, QUOTE), "the quote is not in the page's text"
    page.wait_for_function("q => document.getElementById('quote').value === q", arg=QUOTE)
    page.select_option("#add-label", "harm_type:harmful_sexual_behaviour")
    page.click("#add-form button")
    wanted = "add harm_type/harmful_sexual_behaviour"  # the panel is re-rendered in place, not reloaded
    page.wait_for_function("t => (document.getElementById('recorded') || {}).textContent?.includes(t)", arg=wanted)
    assert page.locator("ul.session li").count() == 2 and page.locator("ul.session form.undo").count() == 2
    assert page.locator("ul.on-file form.withdraw").count() == 2  # own lines on file can be withdrawn too
    keep = os.environ.get("REVIEWTAG_SCREENSHOT_DIR")  # relative to the repository, not the test's cwd
    screenshot = (ROOT / keep if keep else tmp_path) / "workbench_e2e.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    page.click("text=all results")
    with page.expect_download() as download:
        page.click("#export-csv")
    exported = Path(download.value.path()).read_bytes()
    command = [sys.executable, "-m", "pipelines.cli", "tag", "inbox_web", "-m", "tfidf_linear", "-q", "-f", "csv"]
    cli = subprocess.run([*command, "-o", "cli.csv"], cwd=project, capture_output=True)
    assert cli.returncode == 2  # the `reviewtag tag` file, cell for cell, with the readers' labels beside it
    assert without_reader(exported.decode(), "csv") == without_reader((project / "cli.csv").read_text(), "csv")
    exported_rows = list(csv.DictReader(io.StringIO(exported.decode())))
    assert f"-harm_type/{rejected_label}" in exported_rows[0]["reader_changes"]  # the analyst's work is in it

    lines = (project / "data/corrections" / f"{ANNOTATOR}.jsonl").read_text().splitlines()
    decisions = [json.loads(line) for line in lines]
    child_a = next(rid for rid in texts if "child-a" in rid)
    assert [(d["action"], d["task"], d["label"]) for d in decisions] == [
        ("remove", "harm_type", rejected_label),
        ("add", "harm_type", "harmful_sexual_behaviour"),
    ]
    assert all(d["review_id"] == child_a for d in decisions) and decisions[1]["evidence"] == QUOTE
    assert read_corrections(project / "data/corrections")[1] == []  # both lines valid in the label stage's eyes
    assert problems == []  # no dialog, no console error (a CSP violation would be one)


def test_script_in_a_review_shows_as_text_and_never_runs(browser, live_server):
    url, _, _ = live_server
    problems: list[str] = []
    page = watched_page(browser, problems)
    page.goto(f"{url}/")
    page.fill(
        "textarea[name=text]",
        "Review of a case. <script>alert(1)</script> There was <img src=x onerror=alert(2)> neglect.",
    )
    hostile_html = (
        b"<!doctype html><html><body><script>alert(3)</script><p>Review: there was neglect.</p></body></html>"
    )
    page.set_input_files(
        "#files",
        [
            {
                "name": "<script>alert(4)</script>.txt",
                "mimeType": "text/plain",
                "buffer": b"Review. There was neglect.",
            },
            {"name": "report.html", "mimeType": "text/html", "buffer": hostile_html},
        ],
    )
    page.click("#tag-button")
    page.wait_for_selector("#results", timeout=60_000)
    assert page.get_by_text("<script>alert(4)</script>.txt").count() == 1  # the file name, as text
    page.click("a.open >> nth=2")  # the pasted text comes after the files
    page.wait_for_selector("#doc")
    assert "<script>alert(1)</script>" in page.inner_text("#doc")
    assert "<img src=x onerror=alert(2)>" in page.inner_text("#doc")
    assert page.locator("#doc script, #doc img").count() == 0
    assert problems == []  # no alert dialog opened, no CSP violation


def test_a_recorded_correction_survives_sigkill(web_project, loopback):
    import httpx

    project, texts = web_project
    port = free_port()
    command = [sys.executable, "-m", "pipelines.cli", "serve", "--port", str(port), "-m", "tfidf_linear"]
    server = subprocess.Popen([*command, "--annotator", ANNOTATOR], cwd=project, stderr=subprocess.PIPE)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read().decode()
            assert time.monotonic() < deadline, "the server did not start"
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        token = csrf_of(client.get("/").text)
        child_a = (project / "inbox_web/child_a.txt").read_bytes()
        posted = client.post("/tag", data={"csrf": token}, files=[("files", ("child_a.txt", child_a, "text/plain"))])
        batch = posted.headers["location"]
        assert wait_done(client.get, batch)["status"] == "done"
        form = {"csrf": token, "action": "add", "label": "harm_type:harmful_sexual_behaviour", "evidence": QUOTE}
        answer = client.post(f"{batch}/review/0/correct", data=form)
        assert answer.status_code == 303  # the page has said "recorded"
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
    text = (project / "data/corrections" / f"{ANNOTATOR}.jsonl").read_text()
    assert text.endswith("\n") and len(text.splitlines()) == 1
    found, problems = read_corrections(project / "data/corrections")
    assert problems == [] and found[0].evidence == QUOTE and found[0].review_id in texts
