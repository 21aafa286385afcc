"""The web helper modules' own tests: `highlight`, `uploads`, `batches` and `security` checked
directly, without models or a browser, so a broken invariant (a segment that drops text, a type judged
by its name, a batch store that grows without bound, a response without the CSP) fails here with a
precise message rather than somewhere inside a page in test_web.py."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .web_setup import finished


@st.composite
def documents_with_evidence(draw) -> tuple[str, tuple[int, int], dict[str, list[dict]]]:
    """A document with markup-like characters, a region of it, and evidence items of which some are out
    of range or empty (the function must ignore those, not crash or widen on them)."""
    document = draw(st.text(alphabet="ab <>&\"'\n\u00e9", min_size=1, max_size=40))
    n = len(document)
    a = draw(st.integers(0, n))
    region = (a, draw(st.integers(a, n)))
    spans = st.lists(st.tuples(st.integers(-2, n + 2), st.integers(-2, n + 2)), max_size=3)
    labels = draw(st.lists(st.sampled_from(["neglect", "sexual_abuse", "voice_of_child"]), max_size=3, unique=True))
    evidence = {label: [{"text": "?", "start": s, "end": e} for s, e in draw(spans)] for label in labels}
    return document, region, evidence


@settings(max_examples=300, deadline=None)
@given(documents_with_evidence())
def test_segments_cover_the_text_exactly_and_label_every_character(case):
    from pipelines.web.highlight import anchor, segments

    document, (a, b), evidence = case
    valid = [
        (label, k, item["start"], item["end"])
        for label, items in evidence.items()
        for k, item in enumerate(items)
        if 0 <= item["start"] < item["end"] <= len(document)
    ]
    lo = min([a, *(s for _, _, s, _ in valid)])
    hi = max([b, *(e for _, _, _, e in valid)])
    parts = segments(document, (a, b), evidence)
    assert "".join(p.text for p in parts) == document[lo:hi]  # verbatim: nothing dropped, nothing escaped
    offset = lo
    for part in parts:
        assert part.text and part.start == offset
        offset += len(part.text)
        assert len(part.labels) == len(set(part.labels))
        for i in range(part.start, offset):  # cut at every boundary: one label set per segment
            assert set(part.labels) == {label for label, _, s, e in valid if s <= i < e}
    starts = {p.start: p.anchors for p in parts}
    for label, k, s, _ in valid:
        assert anchor(label, k) in starts[s]  # every quote can be jumped to, at its first character
    assert sum(len(p.anchors) for p in parts) == len(valid)


def test_segments_keep_markup_as_text():
    from pipelines.web.highlight import segments

    document = 'Intro <script>alert("x")</script> &amp; outro'
    parts = segments(document, (0, len(document)), {"neglect": [{"text": "<script>", "start": 6, "end": 14}]})
    assert [(p.text, p.labels) for p in parts] == [
        ("Intro ", []),
        ("<script>", ["neglect"]),
        ('alert("x")</script> &amp; outro', []),
    ]


def test_colours_follow_the_row_order_and_exist_in_the_stylesheet():
    from pipelines.web.highlight import PALETTE, colours

    row = {"harm_type": ["h1", "h2"], "learning_theme": ["t1"], "evidence": {"h2": [], "e1": []}}
    assert colours(row) == {"h1": 0, "h2": 1, "t1": 2, "e1": 3}
    many = colours({"harm_type": [f"l{i}" for i in range(2 * PALETTE + 3)]})
    assert set(many.values()) == set(range(PALETTE))
    # the Content-Security-Policy forbids inline styles: every colour must be a class the CSS defines
    css = (Path(__file__).resolve().parents[1] / "pipelines/web/static/app.css").read_text(encoding="utf-8")
    hued = [selectors for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css) if "--look-bg" in body]
    assert {int(c) for selectors in hued for c in re.findall(r"\.c(\d+)\b", selectors)} >= set(range(PALETTE))


def test_templates_escape_what_they_show():
    from pipelines.web.routes import TEMPLATES

    assert all(TEMPLATES.autoescape(name) for name in TEMPLATES.list_templates())  # every page, not just this one
    html = TEMPLATES.get_template("message.html").render(
        title='<img src=x onerror="alert(1)">', message="<script>alert(2)</script>", csrf_field="csrf", csrf="t"
    )
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html and "&lt;img src=x onerror=" in html


@pytest.mark.parametrize(
    ("head", "suffix", "refusal"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", ".pdf", ""),
        (b"\r\n" * 100 + b"%PDF-1.4", ".pdf", ""),  # junk before the header, as some scanners write
        (b"x" * 1100 + b"%PDF-1.4", ".txt", ""),  # a text that mentions %PDF- later is text
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "", "a PNG image"),
        (b"PK\x03\x04" + b"\x00" * 50, "", "a ZIP archive"),
        (b"\x7fELF\x02\x01", "", "a program"),
        (b"  <!DOCTYPE html><html><body>x</body></html>", ".html", ""),
        (b'<?xml version="1.0"?>\n<!-- saved -->\n<html lang="en">', ".html", ""),
        ("\ufeff<html><body>x".encode(), ".html", ""),
        (b"Review of Child A. The <html> tag is not how this starts.", ".txt", ""),
        (b"Review of Child A. There was neglect.", ".txt", ""),
        (b"\x00\x01\x02binary\x00" * 20, ".txt", ""),  # undecodable: the text reader gives the reason
    ],
)
def test_a_files_type_is_judged_by_its_bytes(head, suffix, refusal):
    from pipelines.web.uploads import SUPPORTED, judge

    got_suffix, got_refusal = judge(head)
    assert got_suffix == suffix and got_refusal.startswith(refusal) and bool(got_suffix) != bool(got_refusal)
    if refusal:
        assert SUPPORTED in got_refusal  # the refusal says what to upload instead


def test_save_ignores_the_client_name_and_keeps_every_byte(tmp_path):
    import io

    from pipelines.web.uploads import save, save_text

    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 400  # longer than the 8 KiB head that is judged
    stored = save(io.BytesIO(pdf), "../../report.txt", 7, tmp_path)
    assert stored.path == tmp_path / "00007.pdf" and stored.name == "../../report.txt" and not stored.refused
    assert stored.path.read_bytes() == pdf
    image = save(io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100), "photo.pdf", 8, tmp_path)
    assert image.path is None and image.refused.startswith("a PNG image")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00007.pdf"]  # a refused upload leaves no file
    pasted = save_text("line one\r\n<b>two</b>\n", "pasted text", tmp_path, 9)
    assert pasted.path == tmp_path / "00009.txt"
    assert pasted.path.read_bytes() == b"line one\r\n<b>two</b>\n"  # as typed: no newline translation


@pytest.mark.parametrize(
    ("client_name", "shown"),
    [
        ("inbox/child_a.txt", "inbox/child_a.txt"),
        ("../../etc/passwd", "etc/passwd"),
        ("/abs/./x.txt", "abs/x.txt"),
        ("C:\\Users\\me\\review.txt", "C:/Users/me/review.txt"),
        ("bad\x00na\x1bme\x7f.txt", "badname.txt"),
        ("../..", "upload-3"),
        ("", "upload-3"),
        (None, "upload-3"),
        ("d/" + "n" * 250, "n" * 200),
    ],
)
def test_display_names_are_cleaned(client_name, shown):
    from pipelines.web.uploads import display_name

    assert display_name(client_name, 2) == shown


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab./\\~ \x00\x1f\x7f\u00e9")), max_size=150))
def test_a_display_name_has_no_traversal_parts_and_no_control_characters(client_name):
    from pipelines.web.uploads import display_name

    name = display_name(client_name, 0)
    assert name and len(name) <= 200 and not re.search(r"[\x00-\x1f\x7f\\]", name)
    assert not {"..", "."} & set(name.split("/"))


@pytest.mark.parametrize("client_name", ["//etc/passwd", "\\\\server\\share\\x.txt", "x" * 10 + "/" + "y" * 199])
def test_a_display_name_never_starts_with_a_slash(client_name):
    from pipelines.web.uploads import display_name

    assert not display_name(client_name, 0).startswith("/")


def test_unique_keeps_two_uploads_with_one_name_apart():
    from pipelines.web.uploads import unique

    taken: set[str] = set()
    names = [unique(n, taken) for n in ("a.txt", "a.txt", "b.txt", "a.txt", "a.txt (2)")]
    assert names == ["a.txt", "a.txt (2)", "b.txt", "a.txt (3)", "a.txt (2) (2)"]
    assert taken == set(names)


def test_uploads_are_ordered_as_the_cli_walks_the_folder(tmp_path):
    import random

    from pipelines.corpus.reading import iter_input_files
    from pipelines.web.uploads import walk_key

    names = ["inbox/b.txt", "inbox/a.txt", "inbox/a/z.txt", "inbox/a/b/c.txt", "inbox/a/b/a.txt", "inbox/a/b.txt"]
    names += ["inbox/c/x.txt", "inbox/a b/y.txt", "inbox/A/q.txt"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("Review text.\n", encoding="utf-8")
    cli_order = [p.relative_to(tmp_path).as_posix() for p in iter_input_files([tmp_path / "inbox"])]
    assert sorted(cli_order) == sorted(names)
    random.Random(0).shuffle(names)
    assert sorted(names, key=walk_key) == cli_order


def test_a_batch_store_keeps_only_the_newest_finished_batches(tmp_path):
    import threading

    from pipelines.web.batches import BatchStore

    gate = threading.Event()

    def no_models(spec: str) -> dict:
        gate.wait(10)
        raise RuntimeError("no models here")

    store = BatchStore(keep=2)
    folders = [tmp_path / f"upload-{i}" for i in range(4)]
    try:
        for folder in folders:
            folder.mkdir()
        first = [store.submit([], folder, "spec", no_models, 100) for folder in folders[:3]]
        assert [store.get(b.id) for b in first] == first  # none finished: none dropped, even past `keep`
        gate.set()
        for batch in first:
            finished(batch)
        newest = store.submit([], folders[3], "spec", no_models, 100)
        assert store.recent() == [newest, first[2]] and store.recent(1) == [newest]
        assert store.get(first[0].id) is None and store.get(first[1].id) is None
        finished(newest)
    finally:
        gate.set()
        store.shutdown()
    assert all(b.status == "failed" and b.message == "RuntimeError: no models here" for b in [*first, newest])
    assert not any(folder.exists() for folder in folders)  # the uploads are deleted, even when a batch fails


def test_a_batch_names_rows_by_the_users_names_and_keeps_its_files_for_add_to_corpus(tmp_path):
    from pipelines.web.batches import Batch, run_batch
    from pipelines.web.uploads import Upload

    folder = tmp_path / "upload"
    folder.mkdir()
    text = "Review of Child Z. There was chronic neglect of the children over many years.\n"
    (folder / "00000.txt").write_text(text, encoding="utf-8")
    received = [
        Upload("my folder/review.txt", path=folder / "00000.txt"),
        Upload("photo.pdf", refused="a PNG image, not a review"),
        Upload("lost.txt"),
    ]
    batch = Batch("b1", "spec", len(received))
    run_batch(batch, received, folder, lambda spec: {}, 10_000)
    assert batch.status == "done", batch.message
    assert batch.message == "1 review(s) tagged, 2 input(s) failed"
    assert [(r["source"], r["error"]) for r in batch.rows] == [
        ("my folder/review.txt", None),
        ("photo.pdf", "a PNG image, not a review"),
        ("lost.txt", "not stored"),
    ]
    (a, b), row = batch.regions[0], batch.rows[0]
    assert "chronic neglect" in batch.documents[row["document"]][a:b]
    assert batch.progress() == {"status": "done", "done": 1, "total": 1, "message": batch.message}
    assert folder.exists()  # kept until the store drops the batch: "Add to corpus" stores the file itself


def test_the_store_deletes_a_dropped_batchs_files(tmp_path):
    from pipelines.web.batches import BatchStore

    store = BatchStore(keep=1)
    folders = []
    for k in range(2):
        folder = tmp_path / f"upload{k}"
        folder.mkdir()
        folders.append(folder)
        batch = store.submit([], folder, "spec", lambda spec: {}, 10_000)
        for _ in range(200):
            if batch.finished:
                break
            time.sleep(0.01)
    assert not folders[0].exists() and folders[1].exists()
    store.shutdown()
    assert not folders[1].exists()


SECRET = b"k" * 32


def guarded(max_body: int = 1000, hosts: frozenset[str] | None = frozenset({"testserver"})):
    """A two-route app behind `Guard`, with `seen` recording which requests reached a route."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from pipelines.web.security import CsrfError, Guard, UploadTooLarge, read_form

    seen: list[str] = []

    async def home(request):
        seen.append("home")
        return PlainTextResponse(request.state.csrf_token)

    async def submit(request):
        seen.append("submit")
        form = await read_form(request, SECRET, max_body)
        return PlainTextResponse(str(form.get("x")))

    async def refused(request, exc):
        return PlainTextResponse(f"refused: {exc}", 403)

    async def too_large(request, exc):
        return PlainTextResponse("too large while streaming", 413)

    app = Starlette(
        routes=[Route("/", home), Route("/submit", submit, methods=["POST"])],
        exception_handlers={CsrfError: refused, UploadTooLarge: too_large},
    )
    guard = Guard(app, SECRET, max_body, hosts)
    guard.seen = seen
    return guard


def asgi_post(app, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, bytes]:
    """POST /submit straight through the ASGI interface: a client library would fix a malformed
    Content-Length or add one, and those are exactly the requests under test."""
    import asyncio

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/submit",
        "raw_path": b"/submit",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_every_response_carries_the_security_headers():
    from starlette.testclient import TestClient

    from pipelines.web.security import CSP, SECURITY_HEADERS

    app = guarded(max_body=10)
    client = TestClient(app)
    responses = [
        client.get("/"),
        client.get("/nowhere"),
        client.get("/", headers={"host": "rebound.example"}),  # refused by the Guard itself
        client.post("/submit", content=b"x" * 11),  # refused by the Guard itself
    ]
    assert [r.status_code for r in responses] == [200, 404, 400, 413]
    for response in responses:
        for name, value in SECURITY_HEADERS:
            assert response.headers[name.decode()] == value.decode(), (response.status_code, name)
    assert "unsafe-inline" not in CSP and "default-src 'none'" in CSP and "frame-ancestors 'none'" in CSP


def test_unknown_hosts_are_refused_before_any_route():
    from starlette.testclient import TestClient

    app = guarded()
    client = TestClient(app)
    for host in ("rebound.example", "testserver.evil.example", ""):
        response = client.get("/", headers={"host": host})
        assert response.status_code == 400 and "Unknown Host header" in response.text
    assert app.seen == []
    assert client.get("/", headers={"host": "testserver:8000"}).status_code == 200  # the port does not matter
    assert TestClient(guarded(hosts=None)).get("/", headers={"host": "any.example"}).status_code == 200


def test_the_csrf_cookie_is_set_once_and_the_token_is_its_signature():
    from starlette.testclient import TestClient

    from pipelines.web.security import CSRF_COOKIE, sign

    client = TestClient(guarded())
    first = client.get("/")
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    nonce = client.cookies[CSRF_COOKIE]
    assert len(nonce) == 32 and first.text == sign(SECRET, nonce) != sign(b"other" * 8, nonce)
    again = client.get("/")
    assert "set-cookie" not in again.headers and again.text == first.text
    fresh = TestClient(guarded()).get("/", headers={"cookie": f"{CSRF_COOKIE}=short"})
    assert CSRF_COOKIE in fresh.headers["set-cookie"]  # a malformed nonce is replaced, never signed


def test_a_form_is_read_only_with_the_signed_token_from_this_origin():
    from starlette.testclient import TestClient

    from pipelines.web.security import CSRF_COOKIE, sign

    client = TestClient(guarded(), base_url="http://testserver")
    token = client.get("/").text
    assert client.post("/submit", data={"csrf": token, "x": "1"}).text == "1"
    same = client.post("/submit", data={"csrf": token, "x": "2"}, headers={"origin": "http://testserver"})
    assert same.status_code == 200 and same.text == "2"
    forged = sign(b"other" * 8, client.cookies[CSRF_COOKIE])
    for data in ({"x": "1"}, {"csrf": "", "x": "1"}, {"csrf": forged, "x": "1"}):
        refused = client.post("/submit", data=data)
        assert refused.status_code == 403 and "form token" in refused.text
    cross = client.post("/submit", data={"csrf": token, "x": "1"}, headers={"origin": "http://evil.example"})
    assert cross.status_code == 403 and "another origin" in cross.text
    stranger = TestClient(guarded()).post("/submit", data={"csrf": token, "x": "1"})  # token without its cookie
    assert stranger.status_code == 403


def test_the_upload_limit_holds_with_and_without_a_content_length():
    app = guarded(max_body=100)
    form = [(b"content-type", b"application/x-www-form-urlencoded")]
    status, body = asgi_post(app, [*form, (b"content-length", b"101")], [b"x" * 101])
    assert status == 413 and b"limit" in body and app.seen == []  # refused from the header, unread
    status, _ = asgi_post(app, [*form, (b"content-length", b"1e3")], [b"x"])
    assert status == 413 and app.seen == []  # a Content-Length that is not a number is refused too
    status, body = asgi_post(app, form, [b"x=" + b"a" * 58, b"a" * 60])  # no Content-Length: counted
    assert (status, body) == (413, b"too large while streaming") and app.seen == ["submit"]
