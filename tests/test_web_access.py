"""The workbench's access token (issue 23 item 9): who gets in, and who does not.

`reviewtag serve` must refuse a bind beyond loopback without credentials; with credentials every route
but /healthz (pages, static files, JSON, exports) needs a bearer token or the sign-in cookie. The app is
the real one (`create_app`) over the tiny models of `web_setup`, behind Starlette's TestClient.
"""

from __future__ import annotations

import hashlib
import time

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from pipelines.cli import app as cli
from pipelines.web.access import (
    SESSION_COOKIE,
    TOKEN_ENV,
    Access,
    AccessError,
    load_access,
    read_users,
    require_access,
    token_digest,
)
from pipelines.web.app import create_app

from . import web_setup as helpers
from .web_setup import csrf_of, make_workbench

web_project = helpers.web_project

TOKEN = "shared-token-0123456789abcdef"
ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdefgh"
HOSTS = frozenset({"testserver"})
HTML = {"accept": "text/html,application/xhtml+xml"}


def users_text() -> str:
    return f"# analysts\nalice:{token_digest(ALICE)}\n\nbob:{hashlib.sha256(BOB.encode()).hexdigest().upper()}\n"


@pytest.fixture()
def make_client(web_project):
    """A factory of test clients over the real app, guarded by the given credentials."""
    project, _ = web_project
    opened = []

    def build(access: Access | None) -> TestClient:
        application = create_app(make_workbench(project), max_upload_bytes=2**20, allowed_hosts=HOSTS, access=access)
        client = TestClient(application, base_url="http://testserver")
        opened.append(client.__enter__())
        return client

    yield build
    for client in opened:
        client.__exit__(None, None, None)


def shared(delay: float = 0.0, max_failures: int = 10) -> Access:
    return Access(((token_digest(TOKEN), None),), failure_delay_s=delay, max_failures=max_failures)


def sign_in(client: TestClient, token: str, next_path: str = "/"):
    csrf = csrf_of(client.get("/signin").text)
    return client.post(
        "/signin", data={"csrf": csrf, "token": token, "next": next_path}, headers=HTML, follow_redirects=False
    )


def test_serve_refuses_a_public_address_without_credentials(web_project, monkeypatch, tmp_path):
    import uvicorn

    project, _ = web_project
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda application, **kw: calls.append((application, kw)))
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    runner = CliRunner()
    base = ["serve", "--model", "tfidf_linear"]
    refused = runner.invoke(cli, [*base, "--host", "0.0.0.0"])
    assert refused.exit_code == 1 and calls == []
    assert refused.stderr.count("\n") == 1 and "--token-file PATH" in refused.stderr and TOKEN_ENV in refused.stderr
    (tmp_path / "short").write_text("too-short\n")
    short = runner.invoke(cli, [*base, "--host", "0.0.0.0", "--token-file", str(tmp_path / "short")])
    assert short.exit_code == 1 and "at least 16" in short.stderr and calls == []
    (tmp_path / "token").write_text(TOKEN + "\n")
    by_file = runner.invoke(cli, [*base, "--host", "0.0.0.0", "--token-file", str(tmp_path / "token")])
    assert by_file.exit_code == 0 and calls[-1][1]["host"] == "0.0.0.0"
    assert calls[-1][0].gate.access.visitor(TOKEN) is not None  # the file's newline is not part of the token
    (tmp_path / "users").write_text(users_text())
    by_users = runner.invoke(cli, [*base, "--host", "::", "--users", str(tmp_path / "users")])
    assert by_users.exit_code == 0 and calls[-1][0].gate.access.visitor(BOB).user == "bob"
    local = runner.invoke(cli, base)
    assert local.exit_code == 0 and calls[-1][0].gate.access is None  # loopback: open, as before
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    local_with_token = runner.invoke(cli, base)
    assert local_with_token.exit_code == 0 and calls[-1][0].gate.access.visitor(TOKEN) is not None
    monkeypatch.setenv(TOKEN_ENV, "short")
    assert runner.invoke(cli, [*base, "--host", "0.0.0.0"]).exit_code == 1


def test_credentials_are_checked_when_they_are_read(tmp_path):
    with pytest.raises(AccessError, match="needs an access token"):
        require_access("192.168.1.5", None)
    require_access("127.0.0.1", None)  # loopback stays open
    require_access("0.0.0.0", shared())
    assert load_access(None, None, None) is None and load_access(None, None, "") is None
    with pytest.raises(AccessError, match="printable ASCII"):
        load_access(None, None, "has a space in it, sixteen+")
    entries = read_users(write(tmp_path / "users", users_text()))
    assert entries == [(token_digest(ALICE), "alice"), (token_digest(BOB), "bob")]  # digests compared lower-case
    with pytest.raises(AccessError, match="line 2: expected name:sha256"):
        read_users(write(tmp_path / "bad", f"alice:{token_digest(ALICE)}\nbob:{ALICE}\n"))
    with pytest.raises(AccessError, match="line 2: the same token as 'alice'"):
        read_users(write(tmp_path / "twice", f"alice:{token_digest(ALICE)}\ncarol:{token_digest(ALICE)}\n"))
    with pytest.raises(AccessError, match="holds no users"):
        read_users(write(tmp_path / "empty", "# nobody yet\n"))
    with pytest.raises(AccessError, match="also a token in --users"):
        load_access(None, tmp_path / "users", ALICE)
    both = load_access(write(tmp_path / "token", TOKEN), tmp_path / "users", "ignored-when-a-file-is-given")
    assert both is not None and both.visitor(TOKEN).user is None and both.visitor(ALICE).user == "alice"
    assert both.visitor("ignored-when-a-file-is-given") is None


def write(path, text: str):
    path.write_text(text)
    return path


def test_every_route_needs_the_token_but_healthz(make_client):
    client = make_client(shared())
    for path in ("/", "/static/app.js", "/batch/abc/status", "/batch/abc/export.csv", "/batch/abc/review/0"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.headers["content-type"].startswith("text/plain") and "Bearer" in response.text
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert client.post("/tag", data={"text": "x"}).status_code == 401
    page = client.get("/batch/abc", headers=HTML)
    assert page.status_code == 401 and "<form" in page.text and 'name="next" value="/batch/abc"' in page.text
    assert "annotator" not in page.text and "tester" not in page.text  # nothing about the server leaks
    assert client.get("/healthz").text == "ok" and client.get("/static/app.css").status_code == 200
    assert "reviewtag_csrf" in client.cookies  # Guard still runs outside the gate


def test_a_bearer_token_opens_every_route_and_a_wrong_one_does_not(make_client):
    client = make_client(shared())
    good = {"authorization": f"Bearer {TOKEN}"}
    home = client.get("/", headers=good)
    assert home.status_code == 200 and 'name="csrf"' in home.text
    assert home.headers["content-security-policy"].startswith("default-src 'none'")
    assert client.get("/static/app.js", headers=good).status_code == 200
    assert client.get("/batch/abc/status", headers=good).status_code == 404  # through the gate, to the route
    for wrong in (TOKEN[:-1] + "X", TOKEN[:10], TOKEN + "x", token_digest(TOKEN)):
        assert client.get("/", headers={"authorization": f"Bearer {wrong}"}).status_code == 401, wrong
    assert client.get("/", headers={"authorization": f"Basic {TOKEN}"}).status_code == 401


def test_sign_in_sets_a_session_cookie_and_then_pages_load(make_client):
    client = make_client(shared())
    form = client.get("/signin")
    assert form.status_code == 200 and 'type="password"' in form.text and 'href="/static/app.css"' in form.text
    wrong = sign_in(client, "not-the-token-but-long-enough")
    assert wrong.status_code == 401 and "not accepted" in wrong.text and SESSION_COOKIE not in client.cookies
    response = sign_in(client, TOKEN, "/static/app.js")
    assert response.status_code == 303 and response.headers["location"] == "/static/app.js"
    cookie = [c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)][0]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=" in cookie
    session = client.cookies[SESSION_COOKIE]
    assert TOKEN not in session and token_digest(TOKEN) not in session and len(session) >= 40
    assert client.get("/").status_code == 200 and client.get("/static/app.js").status_code == 200
    assert "Signed in." in client.get("/signin").text
    csrf = csrf_of(client.get("/").text)
    out = client.post("/signout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303 and client.get("/").status_code == 401
    client.cookies.set(SESSION_COOKIE, session)  # the old cookie is no good once signed out
    assert client.get("/").status_code == 401


def test_the_sign_in_form_is_csrf_checked_and_no_open_redirect(make_client):
    client = make_client(shared())
    client.get("/signin")
    forged = client.post("/signin", data={"token": TOKEN, "next": "/"}, headers=HTML, follow_redirects=False)
    assert forged.status_code == 403 and SESSION_COOKIE not in client.cookies
    other_site = {**HTML, "origin": "http://evil.example"}
    csrf = csrf_of(client.get("/signin").text)
    posted = client.post("/signin", data={"csrf": csrf, "token": TOKEN}, headers=other_site, follow_redirects=False)
    assert posted.status_code == 403 and SESSION_COOKIE not in client.cookies
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        assert sign_in(client, TOKEN, target).headers["location"] == "/", target
    assert client.put("/signin").status_code == 405


def test_a_users_file_name_becomes_the_request_user(make_client, tmp_path):
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from pipelines.web.access import AccessGate
    from pipelines.web.security import Guard

    access = Access(tuple(read_users(write(tmp_path / "users", users_text()))), failure_delay_s=0.0)

    async def who(request):
        return PlainTextResponse(repr(request.state.user))

    inner = Starlette(routes=[Route("/who", who)])
    secret = b"s" * 32
    with TestClient(Guard(AccessGate(inner, access, secret, 10_000), secret, 10_000, HOSTS)) as gated:
        assert gated.get("/who", headers={"authorization": f"Bearer {ALICE}"}).text == "'alice'"
        assert gated.get("/who", headers={"authorization": f"Bearer {BOB}"}).text == "'bob'"
        assert gated.get("/who").status_code == 401
    with TestClient(Guard(AccessGate(inner, None, secret, 10_000), secret, 10_000, HOSTS)) as open_gate:
        assert open_gate.get("/who").text == "None"  # no credentials (loopback): open, and no user
    client = make_client(access)
    assert sign_in(client, BOB).status_code == 303
    assert "Signed in as <strong>bob</strong>" in client.get("/signin").text


def test_wrong_tokens_are_slowed_and_then_refused_per_client(make_client):
    client = make_client(shared(delay=0.2, max_failures=3))
    started = time.monotonic()
    assert client.get("/", headers={"authorization": "Bearer wrong-but-long-enough-token"}).status_code == 401
    assert time.monotonic() - started >= 0.2
    assert client.get("/").status_code == 401  # no token at all is no guess: not delayed, not counted
    assert sign_in(client, "another-wrong-long-token").status_code == 401
    assert sign_in(client, "a-third-wrong-long-token").status_code == 401
    blocked = client.get("/", headers={"authorization": f"Bearer {TOKEN}"})
    assert blocked.status_code == 429 and blocked.headers["retry-after"] == "60"
    assert sign_in(client, TOKEN).status_code == 429
    client.app.gate.failures.times.clear()  # the minute has passed
    assert client.get("/", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
