"""Set-up shared by the workbench tests (test_web.py, test_web_e2e.py, test_web_units.py).

A workbench project is the `project` fixture (tiny models trained on synthetic text) plus a corpus of
two real reviews cut from the 2023 listing page in data/raw (same header and body give the same
review_id, so corrections to them are accepted) and an `inbox_web/` folder holding those two reviews
and one bad file: the batch the issue's end-to-end test uploads.
"""

from __future__ import annotations

import _socket
import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import RAW

ANNOTATOR = "tester"
ENTRIES = ("2023 – Anonymous – Child A", "2023 – Anonymous - Child E")


def cut_entries() -> dict[str, str]:
    """Two single-review listing files, cut verbatim (header, blank line, body) from the real page."""
    lines = next(RAW.glob("004_*.txt")).read_text(encoding="utf-8").splitlines()
    out = {}
    for name, header in zip(("child_a.txt", "child_e.txt"), ENTRIES, strict=True):
        i = lines.index(header)
        out[name] = "\n".join(lines[i : i + 3]) + "\n"
    return out


def build_corpus(project: Path) -> dict[str, str]:
    """data/interim/dedup.jsonl for the two reviews, made by the real ingest and clean stages."""
    from pipelines.config import CleanConfig
    from pipelines.corpus.cleaning import clean
    from pipelines.corpus.raw import ingest
    from pipelines.records import write_reviews

    raw = project / "raw_web"
    raw.mkdir()
    for name, text in cut_entries().items():
        (raw / name).write_text(text, encoding="utf-8")
    reviews, _ = ingest(raw, 2**20)
    cleaned, _ = clean(reviews, CleanConfig())
    write_reviews(project / "data/interim/dedup.jsonl", cleaned)
    return {r.review_id: r.text for r in cleaned}


def make_inbox(project: Path) -> Path:
    inbox = project / "inbox_web"
    inbox.mkdir()
    for name, text in cut_entries().items():
        (inbox / name).write_text(text, encoding="utf-8")
    (inbox / "broken.txt").write_bytes(b"\x00\x01\x02binary\x00" * 50)
    return inbox


def make_workbench(project: Path, spec: str = "tfidf_linear"):
    from pipelines.web.workbench import Workbench

    return Workbench(
        spec,
        ANNOTATOR,
        project / "data/corrections",
        project / "data/taxonomy_contract.md",
        corpus=project / "data/interim/dedup.jsonl",
    )


@pytest.fixture()
def web_project(project):
    """The `project` fixture plus the two-review corpus and the upload folder; cwd is the project."""
    texts = build_corpus(project)
    make_inbox(project)
    return project, texts


@pytest.fixture()
def loopback(monkeypatch):
    """The suite blocks every IPv4/IPv6 connect; these tests talk to a server of their own on
    127.0.0.1, so loopback (and only loopback) is let through for them."""
    blocked = socket.socket.connect

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] in ("127.0.0.1", "::1"):
            return _socket.socket.connect(self, address)
        return blocked(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def wait_done(get, batch_url: str, timeout: float = 60.0) -> dict:
    """Poll a batch's status route (get: a client's get method) until it is done or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = get(f"{batch_url}/status").json()
        if state["status"] in ("done", "failed"):
            return state
        time.sleep(0.05)
    raise AssertionError(f"batch {batch_url} not finished after {timeout} s")


# ---------------------------------------------------------------------------------------------------
# The helper modules' own tests (no models, no browser: each runs in milliseconds).
# ---------------------------------------------------------------------------------------------------


def finished(batch, timeout: float = 10.0) -> None:
    """Wait for a batch run by a BatchStore's worker thread."""
    deadline = time.monotonic() + timeout
    while not batch.finished:
        assert time.monotonic() < deadline, f"batch {batch.id} still {batch.status} after {timeout} s"
        time.sleep(0.01)


@contextlib.contextmanager
def serve_in_thread(application) -> Iterator[str]:
    """The app under uvicorn in a thread on a free port of 127.0.0.1; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
