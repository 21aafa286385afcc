"""The workbench's routes through Starlette's test client: every route and every refusal of the issue.

The app runs on tiny models trained on synthetic text (`project`), over a corpus of two real reviews
cut from data/raw, so corrections are validated exactly as `reviewtag correct` validates them.
"""

from __future__ import annotations

import json
import re

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from pipelines.cli import app as cli
from pipelines.web.app import create_app

from . import web_setup as helpers
from .web_setup import ANNOTATOR, csrf_of, make_workbench, wait_done

web_project = helpers.web_project  # the fixture, shared with test_web_e2e.py

HOSTS = frozenset({"testserver"})


@pytest.fixture()
def client(web_project):
    project, _ = web_project
    application = create_app(make_workbench(project), max_upload_bytes=2**20, allowed_hosts=HOSTS)
    with TestClient(application, base_url="http://testserver") as test_client:
        test_client.workbench = application.workbench
        yield test_client


def token(client) -> str:
    return csrf_of(client.get("/").text)


def upload(client, files: list[tuple[str, bytes]], text: str = "", model: str = "") -> str:
    """POST a batch; returns its URL once tagging has finished."""
    data = {"csrf": token(client), "text": text, "model": model}
    response = client.post(
        "/tag",
        data=data,
        files=[("files", (n, c, "application/octet-stream")) for n, c in files],
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    url = response.headers["location"]
    assert wait_done(client.get, url)["status"] == "done", client.get(f"{url}/status").json()
    return url


def inbox_files(project) -> list[tuple[str, bytes]]:
    return [(f"inbox_web/{p.name}", p.read_bytes()) for p in sorted((project / "inbox_web").iterdir())]


def corrections_lines(project) -> list[dict]:
    path = project / "data/corrections" / f"{ANNOTATOR}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_index_sets_security_headers_and_csrf_cookie(client):
    response = client.get("/")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff" and response.headers["x-frame-options"] == "DENY"
    assert "reviewtag_csrf" in client.cookies and "HttpOnly" in response.headers["set-cookie"]
    assert re.findall(r"<script[^>]*>", response.text) == ['<script src="/static/app.js" defer>']  # none inline
    assert client.get("/static/app.js").status_code == 200 and client.get("/healthz").text == "ok"


def test_batch_with_a_bad_file_matches_the_cli_export(client, web_project):
    project, texts = web_project
    url = upload(client, inbox_files(project))
    page = client.get(url).text
    assert page.count('class="review-row"') == 2 and page.count('class="error-row"') == 1
    assert "binary data, not text" in page and 'class="chip harm_type"' in page
    assert "harm_type-tfidf_linear</strong> version local" in page  # which model tagged what
    for fmt in ("csv", "jsonl"):
        exported = client.get(f"{url}/export.{fmt}")
        assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
        out = project / f"cli.{fmt}"
        result = CliRunner().invoke(
            cli, ["tag", "inbox_web", "--model", "tfidf_linear", "-q", "-f", fmt, "-o", str(out)]
        )
        assert result.exit_code == 2  # the bad file
        # the `reviewtag tag` output, cell for cell, with the readers' labels beside it
        assert without_reader(exported.text, fmt) == without_reader(out.read_text(), fmt)
    rows = [json.loads(line) for line in client.get(f"{url}/export.jsonl").text.splitlines()]
    assert {r["review_id"] for r in rows if not r["error"]} == set(texts)
    assert client.get("/").text.count(url) == 1  # listed among the session's batches


def without_reader(text: str, fmt: str) -> list:
    """Rows of an export with the reader columns (which the page adds) left out."""
    import csv
    import io

    if fmt == "jsonl":
        return [{k: v for k, v in json.loads(line).items() if k != "reader"} for line in text.splitlines()]
    rows = list(csv.DictReader(io.StringIO(text)))
    return [{k: v for k, v in row.items() if not k.startswith("reader")} for row in rows]


def test_chips_follow_probability_and_filter_and_sort(client, web_project):
    project, _ = web_project
    url = upload(client, inbox_files(project))
    rows = [json.loads(line) for line in client.get(f"{url}/export.jsonl").text.splitlines()]
    tagged = [r for r in rows if not r["error"]]
    page = client.get(url).text
    for row in tagged:
        for task in ("harm_type", "learning_theme"):
            scores = [row["scores"][task][label] for label in row[task]]
            assert scores == sorted(scores, reverse=True)
    label = next(lab for r in tagged for lab in r["harm_type"] if not all(lab in t["harm_type"] for t in tagged))
    filtered = client.get(url, params={"label": label}).text
    assert filtered.count('class="review-row"') == 1 and "error-row" not in filtered
    by_score = client.get(url, params={"sort": label}).text
    first = max(tagged, key=lambda r: r["scores"]["harm_type"][label])["source"]
    assert by_score.index('class="review-row"') < by_score.index(first) < by_score.index("error-row")
    assert f"?label={label}" in page  # a chip is a link to its filter


def test_review_view_highlights_evidence_in_place(client, web_project):
    project, _ = web_project
    url = upload(client, inbox_files(project))
    row = json.loads(client.get(f"{url}/export.jsonl").text.splitlines()[0])
    page = client.get(f"{url}/review/0").text
    assert row["evidence"], "the tiny models found no evidence to show"
    document = (project / "inbox_web" / "child_a.txt").read_text()
    for label, items in row["evidence"].items():
        assert f'id="ev-{label}-0"' in page and f'data-label="{label}"' in page
        for item in items:
            assert document[item["start"] : item["end"]] == item["text"]
    marked = re.findall(r'<mark class="ev c\d[^"]*" data-labels="([^"]+)"[^>]*>(.*?)</mark>', page, re.S)
    assert marked and all(set(labels.split()) <= set(row["evidence"]) for labels, _ in marked)
    assert page.count('<svg class="bar"') >= len(row["harm_type"])  # scores as bars, with their thresholds
    assert 'id="blocked"' not in page  # the review is in the corpus: corrections are open


def test_reject_add_accept_and_undo_write_and_remove_lines(client, web_project):
    project, texts = web_project
    url = upload(client, inbox_files(project))
    row = json.loads(client.get(f"{url}/export.jsonl").text.splitlines()[0])
    review = f"{url}/review/0"
    rejected = row["harm_type"][0]
    response = client.post(
        f"{review}/correct",
        data={"csrf": token(client), "task": "harm_type", "label": rejected, "action": "reject", "note": "not here"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    shown = client.get(response.headers["location"]).text
    assert 'id="recorded"' in shown and f"remove harm_type/{rejected}" in shown
    quote = "the impact of sibling-to-sibling sexual abuse"
    assert quote in texts[row["review_id"]]
    form = {"csrf": token(client), "action": "add", "label": "harm_type:harmful_sexual_behaviour", "evidence": quote}
    assert client.post(f"{review}/correct", data=form, follow_redirects=False).status_code == 303
    accepted = next(lab for lab in row["evidence"] if lab in row["learning_theme"])
    accept = {"csrf": token(client), "action": "accept", "task": "learning_theme", "label": accepted}
    accept["evidence"] = row["evidence"][accepted][0]["text"]
    assert client.post(f"{review}/correct", data=accept, follow_redirects=False).status_code == 303
    lines = corrections_lines(project)
    assert [(c["action"], c["label"]) for c in lines] == [
        ("remove", rejected),
        ("add", "harmful_sexual_behaviour"),
        ("add", accepted),
    ]
    assert lines[0]["note"] == "not here" and lines[1]["evidence"] == quote and lines[0]["annotator"] == ANNOTATOR
    assert all(c["review_id"] == row["review_id"] for c in lines)
    decision = next(d for d in client.workbench.decisions.values() if d.label == "harmful_sexual_behaviour")
    undone = client.post(f"/undo/{decision.id}", data={"csrf": token(client), "back": review}, follow_redirects=False)
    assert undone.status_code == 303 and undone.headers["location"].startswith(review)
    assert [c["label"] for c in corrections_lines(project)] == [rejected, accepted]  # exactly that line went
    assert "(undone)" in client.get(review).text
    again = client.post(f"/undo/{decision.id}", data={"csrf": token(client), "back": review})
    assert again.status_code == 404 and len(corrections_lines(project)) == 2


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        (
            {"action": "add", "label": "harm_type:no_such_label", "evidence": "Death of a 16-year-old girl."},
            "unknown harm_type label",
        ),
        ({"action": "reject", "task": "harm_type", "label": "neglect", "note": ""}, "needs a reason"),
        ({"action": "add", "label": "harm_type:neglect", "evidence": "words never written here"}, "not a quote"),
        ({"action": "delete", "task": "harm_type", "label": "neglect"}, "unknown action"),
        ({"action": "reject", "task": "no_task", "label": "neglect", "note": "x"}, "unknown task"),
    ],
)
def test_invalid_corrections_are_refused_and_nothing_is_written(client, web_project, form, reason):
    project, _ = web_project
    url = upload(client, inbox_files(project))
    response = client.post(f"{url}/review/0/correct", data={"csrf": token(client), **form})
    assert response.status_code == 422 and reason in response.text and 'id="problems"' in response.text
    assert corrections_lines(project) == []


def test_post_routes_need_the_csrf_token(client, web_project):
    project, _ = web_project
    url = upload(client, inbox_files(project))
    correction = {"action": "reject", "task": "harm_type", "label": "neglect", "note": "no"}
    for data in (correction, {**correction, "csrf": "0" * 64}):
        response = client.post(f"{url}/review/0/correct", data=data)
        assert response.status_code == 403 and "token" in response.text
    cross = client.post(
        f"{url}/review/0/correct", data={**correction, "csrf": token(client)}, headers={"origin": "http://evil.example"}
    )
    assert cross.status_code == 403 and "another origin" in cross.text
    assert client.post("/tag", data={"text": "neglect"}).status_code == 403
    assert client.post("/undo/whatever", data={}).status_code == 403
    assert corrections_lines(project) == []


def test_uploaded_review_outside_the_corpus_cannot_be_corrected(client, web_project):
    project, _ = web_project
    url = upload(client, [], text="Review of a new case. There was chronic neglect of basic needs.")
    page = client.get(f"{url}/review/0").text
    assert 'id="blocked"' in page and "not in the corpus" in page and 'id="add-form"' not in page
    form = {"csrf": token(client), "action": "add", "label": "harm_type:neglect", "evidence": "chronic neglect"}
    response = client.post(f"{url}/review/0/correct", data=form)
    assert response.status_code == 422 and "not in the corpus" in response.text
    assert corrections_lines(project) == []


def test_hostile_text_and_names_are_escaped(client):
    files = [
        ('<img src=x onerror="alert(2)">.txt', b"Review of Child Z. There was neglect.\n"),
        ("page.txt", b"<!doctype html><html><body><script>alert(3)</script><p>There was neglect.</p></body></html>"),
    ]
    url = upload(client, files, text="Review <script>alert(1)</script> of a case: there was chronic neglect.")
    pages = [client.get(url).text] + [client.get(f"{url}/review/{i}").text for i in range(3)]
    joined = "\n".join(pages)
    assert "<script>alert" not in joined and "<img src=x" not in joined
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in joined  # pasted text shows as typed
    assert "&lt;img src=x onerror=" in joined  # the file name too
    assert "alert(3)" not in joined  # an HTML file's script is never read (judged HTML by content)


def test_types_are_judged_by_content_and_names_never_become_paths(client, web_project, tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    with open(tmp_path / "blank.pdf", "wb") as handle:
        writer.write(handle)
    files = [
        ("scan.txt", (tmp_path / "blank.pdf").read_bytes()),  # a PDF named .txt is read as a PDF
        ("photo.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100),  # a PNG named .pdf is refused as an image
        ("../../escape.txt", b"Review of Child Q. There was neglect of the children.\n"),
    ]
    url = upload(client, files)
    rows = {r["source"].split(":")[0]: r for r in map(json.loads, client.get(f"{url}/export.jsonl").text.splitlines())}
    assert "no text layer" in rows["scan.txt"]["error"]
    assert rows["photo.pdf"]["error"].startswith("a PNG image")
    assert rows["escape.txt"]["error"] is None  # shown without the '..', tagged
    assert not (tmp_path.parent / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()


def test_upload_limit_answers_413_with_a_message(client):
    big = b"a" * (2**20 + 10)
    response = client.post("/tag", data={"csrf": token(client)}, files=[("files", ("big.txt", big, "text/plain"))])
    assert response.status_code == 413 and "limit of 1 MiB" in response.text
    chunks = iter([b"x" * 2**19] * 3)  # no Content-Length: counted while it streams
    headers = {"content-type": "application/x-www-form-urlencoded"}
    streamed = client.post("/tag", content=chunks, headers=headers)
    assert streamed.status_code == 413 and "serve.max_upload_mb" in streamed.text
    assert client.get("/").status_code == 200  # and the server goes on


def test_unknown_host_and_unknown_things_are_refused(client):
    assert client.get("/", headers={"host": "rebound.example"}).status_code == 400
    assert client.get("/batch/nosuchbatch").status_code == 404
    assert client.get("/batch/../../etc").status_code == 404
    assert client.get("/tag").status_code == 405
    response = client.post("/tag", data={"csrf": token(client), "text": "  "})
    assert response.status_code == 400 and "Paste text or choose files" in response.text


def test_model_choice_and_refusals(client, web_project):
    project, _ = web_project
    url = upload(client, inbox_files(project), model="lexicon")
    assert "harm_type-lexicon</strong> version local" in client.get(url).text
    for bad in ("/etc", "../models/harm_type/lexicon", "models:/x;rm"):
        data = {"csrf": token(client), "text": "neglect", "custom_model": bad}
        response = client.post("/tag", data=data)
        assert response.status_code == 400 and "unknown model" in response.text
    data = {"csrf": token(client), "text": "There was neglect.", "model": "transformer"}  # a kind never trained here
    response = client.post("/tag", data=data, follow_redirects=False)
    state = wait_done(client.get, response.headers["location"])
    assert state["status"] == "failed" and "no trained transformer" in state["message"]
    assert "The batch failed" in client.get(response.headers["location"]).text
    assert client.get(f"{response.headers['location']}/export.csv").status_code == 404
    assert client.get(f"{url}/review/99").status_code == 404 and client.get(f"{url}/export.xml").status_code == 404


def test_a_reader_crash_is_an_error_row_and_the_batch_goes_on(client, web_project, monkeypatch):
    import pipelines.web.batches as batches

    project, _ = web_project
    real = batches.collect_reviews

    def flaky(paths, **kwargs):
        if paths[0].endswith("00001.txt"):
            raise RuntimeError("reader bug")
        return real(paths, **kwargs)

    monkeypatch.setattr(batches, "collect_reviews", flaky)
    url = upload(client, inbox_files(project))
    rows = [json.loads(line) for line in client.get(f"{url}/export.jsonl").text.splitlines()]
    errors = {r["source"]: r["error"] for r in rows if r["error"]}
    assert errors == {
        "inbox_web/child_a.txt": "could not be read (RuntimeError)",
        "inbox_web/broken.txt": "binary data, not text",
    }
    assert sum(1 for r in rows if not r["error"]) == 1


def test_serve_refuses_off_loopback_without_a_token(web_project, monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda application, **kw: calls.append(kw))
    monkeypatch.delenv("REVIEWTAG_TOKEN", raising=False)
    runner = CliRunner()
    local = runner.invoke(cli, ["serve", "--model", "tfidf_linear", "--port", "8123"])
    assert local.exit_code == 0 and "warning" not in local.stderr and calls[-1]["host"] == "127.0.0.1"
    exposed = runner.invoke(cli, ["serve", "--model", "tfidf_linear", "--host", "0.0.0.0"])
    assert exposed.exit_code == 1 and "--token-file" in exposed.stderr and len(calls) == 1  # test_web_access.py
    bad = runner.invoke(cli, ["serve", "--model", "transformer"])
    assert bad.exit_code == 1 and "no trained transformer" in bad.stderr
    assert runner.invoke(cli, ["serve", "--annotator", "../x"]).exit_code == 1


def test_segments_cover_the_region_and_anchor_each_quote():
    from pipelines.web.highlight import segments

    document = "Intro. Alpha beta gamma. Delta epsilon. Outro."
    evidence = {
        "a": [{"text": "Alpha beta gamma.", "start": 7, "end": 24}],
        "b": [{"text": "gamma. Delta", "start": 18, "end": 30}, {"text": "Outro.", "start": 40, "end": 46}],
    }
    parts = segments(document, (0, 39), evidence)
    assert "".join(s.text for s in parts) == document  # the quote past the region widens it
    covered = {s.text: s.labels for s in parts if s.labels}
    assert covered == {"Alpha beta ": ["a"], "gamma.": ["a", "b"], " Delta": ["b"], "Outro.": ["b"]}
    assert [a for s in parts for a in s.anchors] == ["ev-a-0", "ev-b-0", "ev-b-1"]


def test_progress_page_while_a_batch_is_loading(client):
    import threading

    release = threading.Event()
    real = client.workbench.resolver

    def slow(spec):
        release.wait(30)
        return real(spec)

    client.workbench.resolver = slow
    posted = client.post(
        "/tag", data={"csrf": token(client), "text": "neglect", "model": "lexicon"}, follow_redirects=False
    )
    url = posted.headers["location"]
    try:
        page = client.get(url).text
        assert 'id="progress-bar"' in page and f'data-status-url="{url}/status"' in page
        assert 'http-equiv="refresh"' in page  # still updates without JavaScript
        assert client.get(f"{url}/status").json()["status"] == "loading"
        assert client.get(f"{url}/export.csv").status_code == 404  # nothing to export yet
    finally:
        release.set()
    assert wait_done(client.get, url)["status"] == "done"


def test_a_full_disk_is_said_and_nothing_claims_to_be_recorded(client, web_project, monkeypatch):
    import errno

    import pipelines.web.uploads as uploads
    import pipelines.web.workbench as workbench

    project, _ = web_project
    url = upload(client, inbox_files(project))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(workbench, "record", full)
    form = {"csrf": token(client), "action": "reject", "task": "harm_type", "label": "neglect", "note": "no"}
    response = client.post(f"{url}/review/0/correct", data=form)
    assert response.status_code == 507 and "No space left" in response.text and 'id="recorded"' not in response.text
    monkeypatch.setattr(uploads.shutil, "copyfileobj", full)
    stored = client.post(
        "/tag", data={"csrf": token(client)}, files=[("files", ("a.txt", b"There was neglect.", "text/plain"))]
    )
    assert stored.status_code == 507 and "could not store the upload" in stored.text
    assert client.get("/").status_code == 200


def test_two_uploads_with_one_name_stay_two_documents(client):
    from pipelines.web.security import host_name

    files = [
        ("same.txt", b"Review one. There was chronic neglect here."),
        ("same.txt", b"Review two. Police attended."),
    ]
    url = upload(client, files)
    rows = [json.loads(line) for line in client.get(f"{url}/export.jsonl").text.splitlines()]
    assert [r["source"] for r in rows] == ["same.txt", "same.txt (2)"]
    assert "Police attended" in client.get(f"{url}/review/1").text
    assert "Police attended" not in client.get(f"{url}/review/0").text
    assert [host_name(h) for h in ("[::1]:8000", "127.0.0.1:80", "localhost")] == ["[::1]", "127.0.0.1", "localhost"]


def test_a_full_report_shows_its_outline_and_each_section_is_a_place_to_jump_to(client):
    from .conftest import RAW

    report = next(RAW.glob("003_*.txt"))
    batch = upload(client, [(report.name, report.read_bytes())])
    page = client.get(f"{batch}/review/0").text
    assert 'id="outline"' in page
    links = re.findall(r'href="#(sec-\d+)"', page)
    assert len(links) >= 5 and all(f'id="{anchor}"' in page for anchor in links)
    assert "Thematic analysis and identification of Key learning" in page  # a heading, shown in the outline
    export = client.get(f"{batch}/export.jsonl").text
    row = json.loads(export.splitlines()[0])
    assert [s["role"] for s in row["sections"]][:3] == ["front_matter", "contents", "introduction"]


def test_an_annotator_withdraws_their_own_line_from_an_earlier_session_and_no_one_elses(client, web_project):
    from pipelines.labels.recording import record
    from pipelines.labels.taxonomy import load_contract

    project, texts = web_project
    review_id = next(iter(texts))
    vocabulary = load_contract(project / "data/taxonomy_contract.md")
    base = {"review_id": review_id, "task": "harm_type", "action": "remove", "evidence": "", "date": "2026-11-30"}
    record(
        base | {"label": "neglect", "annotator": ANNOTATOR, "note": "earlier session"},
        texts,
        vocabulary,
        project / "data/corrections",
    )
    record(
        base | {"label": "homicide", "annotator": "someone-else", "note": "theirs"},
        texts,
        vocabulary,
        project / "data/corrections",
    )
    page = client.get(f"/corpus/{review_id}").text
    assert page.count('class="decision undo withdraw"') == 1  # only the annotator's own line offers it
    mine = f"data/corrections/{ANNOTATOR}.jsonl:1"
    theirs = "data/corrections/someone-else.jsonl:1"
    headers = {"x-requested-with": "fetch"}
    refused = client.post(
        f"/corpus/{review_id}/withdraw", data={"csrf": token(client), "origin": theirs}, headers=headers
    )
    assert refused.status_code == 404 and (project / "data/corrections/someone-else.jsonl").read_text().strip()
    done = client.post(f"/corpus/{review_id}/withdraw", data={"csrf": token(client), "origin": mine}, headers=headers)
    assert done.status_code == 200 and done.json()["ok"] and "Withdrawn" in done.json()["message"]
    assert corrections_lines(project) == []
