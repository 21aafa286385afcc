"""Who may use the workbench: an access token (or a users file of token digests) and the gate that asks for it.

On loopback the page is open, as it always was: only someone already on the machine can reach it. Bound to
any other address it would be open to everyone who can route a packet to it, so `reviewtag serve` refuses to
start there without credentials (`require_access`), and once credentials are configured (on any address)
every request but `/healthz` and the sign-in page's stylesheet must carry them (`AccessGate`).

Credentials, read once at start (`load_access`):
- `--token-file PATH`, a file holding one shared token, or the environment variable `REVIEWTAG_TOKEN`
  (the token file wins when both are given). Never a command-line argument: `ps` would show it.
- `--users PATH`, lines `name:sha256-hex-of-token`, so the file holds no secret in clear and each request
  knows who sent it. Make a token and its line with::

      python -c "import hashlib as h,secrets as s;t=s.token_hex(16);print(t,'NAME:'+h.sha256(t.encode()).hexdigest())"

  (it prints the token, for the analyst, then the line, for the users file).
Tokens under 16 characters are refused: at start for a token file or the variable, and at every sign-in for
a users file (its digests cannot show a length).

A request proves itself with `Authorization: Bearer TOKEN` (scripts) or with the session cookie that
`/signin` sets (browsers). The cookie holds a random session id, never the token, and is HttpOnly and
SameSite=Strict; the sign-in form also carries the CSRF token that `security.read_form` checks, so another
site can neither sign a browser in under its own token nor post the form at all. A wrong token costs a short
delay, and a client with too many wrong tokens in a minute is answered 429 without a check, so guessing is
slow. The sender's users-file name is put in `request.state.user` (None for the shared token, or with no
credentials at all) for the routes to use.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from pipelines.web.security import CSRF_FIELD, CsrfError, is_loopback, read_form

TOKEN_ENV = "REVIEWTAG_TOKEN"
MIN_TOKEN_CHARS = 16
SESSION_COOKIE = "reviewtag_session"
SESSION_SECONDS = 12 * 3600  # a working day; after it the browser signs in again
MAX_SESSIONS = 1000  # past it the oldest session is dropped, so memory stays bounded
FAILURE_WINDOW_SECONDS = 60.0
SIGNIN_PATH, SIGNOUT_PATH = "/signin", "/signout"
# What needs no token: the supervisor's probe, and what the sign-in page itself loads (no data in either).
PUBLIC_PATHS = frozenset({"/healthz", "/static/app.css", "/static/favicon.svg"})
USER_LINE = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,63}):(?P<digest>[0-9a-fA-F]{64})")
SAFE_NEXT = re.compile(r"/(?![/\\])[^\s\\]{0,500}")  # a path on this site: never //other.host or /\other
MAKE_LINE = (
    "python -c \"import hashlib as h,secrets as s;t=s.token_hex(16);print(t,'NAME:'+h.sha256(t.encode()).hexdigest())\""
)
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(default=True),
)


class AccessError(ValueError):
    """Credentials that cannot be used (missing off loopback, too short, a malformed users file): one line."""


class TooManyFailures(Exception):
    """A client past its allowance of wrong tokens for the current minute."""


@dataclass(frozen=True)
class Visitor:
    """Someone who gave a valid token: `user` is their users-file name, None for the shared token."""

    user: str | None


@dataclass(frozen=True)
class Access:
    """The credentials one server accepts, as sha256 digests of the tokens (the tokens are not kept)."""

    entries: tuple[tuple[str, str | None], ...]  # (digest, user name or None)
    failure_delay_s: float = 1.0  # the wait before a wrong token is answered
    max_failures: int = 10  # wrong tokens per client per minute before it is answered 429 unchecked

    def visitor(self, token: str) -> Visitor | None:
        """The visitor this token belongs to. Every entry is compared, each with `hmac.compare_digest`,
        so the time taken says nothing about which digest (or how much of one) came close."""
        if len(token) < MIN_TOKEN_CHARS:
            return None
        digest = token_digest(token)
        found: Visitor | None = None
        for known, user in self.entries:
            if hmac.compare_digest(known, digest):
                found = Visitor(user)
        return found


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_token(token: str, where: str) -> str:
    """The token with surrounding whitespace (a file's newline) removed, or AccessError saying why not."""
    token = token.strip()
    if len(token) < MIN_TOKEN_CHARS:
        raise AccessError(f"the token in {where} is {len(token)} characters; use at least {MIN_TOKEN_CHARS}")
    if not (token.isascii() and token.isprintable()) or " " in token:
        raise AccessError(f"the token in {where} must be printable ASCII without spaces (it travels in a header)")
    return token


def read_users(path: Path) -> list[tuple[str, str | None]]:
    """`name:sha256-hex` lines ('#' comments and blank lines skipped). One name may have several tokens
    (two machines); one token may not name two people, since a request must map to exactly one user."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AccessError(f"--users {path}: cannot read it ({exc})") from exc
    entries: dict[str, str] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = USER_LINE.fullmatch(line)
        if match is None:
            raise AccessError(
                f"--users {path} line {number}: expected name:sha256-hex-of-token; make one with {MAKE_LINE}"
            )
        digest = match["digest"].lower()
        if digest in entries:
            raise AccessError(f"--users {path} line {number}: the same token as {entries[digest]!r}")
        entries[digest] = match["name"]
    if not entries:
        raise AccessError(f"--users {path} holds no users; make a line with {MAKE_LINE}")
    return list(entries.items())


def load_access(token_file: Path | None, users_file: Path | None, env_token: str | None) -> Access | None:
    """The server's credentials from `--token-file`, `REVIEWTAG_TOKEN` and `--users`; None when none is given."""
    entries: list[tuple[str, str | None]] = []
    if token_file is not None:
        try:
            text = token_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise AccessError(f"--token-file {token_file}: cannot read it ({exc})") from exc
        entries.append((token_digest(check_token(text, f"--token-file {token_file}")), None))
    elif env_token:
        entries.append((token_digest(check_token(env_token, TOKEN_ENV)), None))
    if users_file is not None:
        users = read_users(users_file)
        if entries and entries[0][0] in dict(users):
            raise AccessError(f"the shared token is also a token in --users {users_file}; give each its own")
        entries.extend(users)
    return Access(tuple(entries)) if entries else None


def require_access(host: str, access: Access | None) -> None:
    """Refuse a bind beyond loopback that nobody would have to sign in to."""
    if access is None and not is_loopback(host):
        raise AccessError(
            f"serving on {host} needs an access token: put one (16+ characters) in a file and pass "
            f"--token-file PATH, set {TOKEN_ENV}, or pass --users PATH (lines name:sha256-of-token)"
        )


@dataclass
class Sessions:
    """Signed-in browsers, by random session id, in this process's memory (a restart signs everyone out)."""

    lifetime_s: float = SESSION_SECONDS
    limit: int = MAX_SESSIONS
    by_id: dict[str, tuple[Visitor, float]] = field(default_factory=dict)

    def open(self, visitor: Visitor) -> str:
        while len(self.by_id) >= self.limit:
            del self.by_id[next(iter(self.by_id))]  # insertion order: the oldest first
        session_id = secrets.token_urlsafe(32)
        self.by_id[session_id] = (visitor, time.monotonic() + self.lifetime_s)
        return session_id

    def find(self, session_id: str) -> Visitor | None:
        visitor, expires = self.by_id.get(session_id, (None, 0.0))
        if visitor is not None and time.monotonic() >= expires:
            del self.by_id[session_id]
            return None
        return visitor

    def close(self, session_id: str) -> None:
        self.by_id.pop(session_id, None)


@dataclass
class Failures:
    """Wrong tokens per client over the last minute: the rate limit on guessing."""

    limit: int
    window_s: float = FAILURE_WINDOW_SECONDS
    max_clients: int = 10_000  # past it the longest-known client is forgotten, so memory stays bounded
    times: dict[str, list[float]] = field(default_factory=dict)

    def recent(self, client: str) -> list[float]:
        now = time.monotonic()
        kept = [t for t in self.times.get(client, []) if now - t < self.window_s]
        if kept:
            self.times[client] = kept
        else:
            self.times.pop(client, None)
        return kept

    def blocked(self, client: str) -> bool:
        return len(self.recent(client)) >= self.limit

    def record(self, client: str) -> None:
        if client not in self.times and len(self.times) >= self.max_clients:
            del self.times[next(iter(self.times))]
        self.times.setdefault(client, []).append(time.monotonic())


class AccessGate:
    """Pure ASGI middleware between `Guard` (outside: Host check, body limit, CSRF cookie, headers) and the
    routes. With `access` None (loopback, no credentials) it only sets `request.state.user = None`."""

    def __init__(self, app: ASGIApp, access: Access | None, secret: bytes, max_body: int):
        self.app, self.access, self.secret, self.max_body = app, access, secret, max_body
        self.sessions = Sessions()
        self.failures = Failures(access.max_failures if access else 1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["user"] = None
        path = scope["path"]
        if self.access is None or path in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if path in (SIGNIN_PATH, SIGNOUT_PATH):
            response = await (self.sign_in(request) if path == SIGNIN_PATH else self.sign_out(request))
            await response(scope, receive, send)
            return
        verdict = await self.admit(request)
        if isinstance(verdict, Response):
            await verdict(scope, receive, send)
            return
        scope["state"]["user"] = verdict.user
        await self.app(scope, receive, send)

    async def admit(self, request: Request) -> Visitor | Response:
        """The request's visitor (session cookie first, then a bearer token), or the refusal to send."""
        visitor = self.sessions.find(request.cookies.get(SESSION_COOKIE, ""))
        if visitor is not None:
            return visitor
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if scheme.lower() != "bearer" or not token.strip():
            return self.refuse(request, 401, "Sign in to use the workbench.", here)
        try:
            visitor = await self.check(request, token.strip())
        except TooManyFailures:
            return self.refuse(request, 429, "Too many wrong tokens from this address; wait a minute.", here)
        return visitor or self.refuse(request, 401, "That token was not accepted.", here)

    async def check(self, request: Request, token: str) -> Visitor | None:
        """The token's visitor; a wrong token is counted against the client and answered after a delay."""
        assert self.access is not None
        client = request.client.host if request.client else "unknown"
        if self.failures.blocked(client):
            raise TooManyFailures()
        visitor = self.access.visitor(token)
        if visitor is None:
            self.failures.record(client)
            await anyio.sleep(self.access.failure_delay_s)
        return visitor

    async def sign_in(self, request: Request) -> Response:
        """GET: the form. POST: check the token (CSRF-checked form), open a session, go back to `next`."""
        if request.method not in ("GET", "POST"):
            return PlainTextResponse("Use GET or POST.", 405, headers={"allow": "GET, POST"})
        visitor = self.sessions.find(request.cookies.get(SESSION_COOKIE, ""))
        if request.method == "GET":
            return self.form_page(request, 200, "", safe_next(request.query_params.get("next")), visitor)
        try:
            form = await read_form(request, self.secret, self.max_body)
        except CsrfError as exc:
            return self.form_page(request, 403, f"Refused: {exc}", "/", visitor)
        target = safe_next(str(form.get("next") or "/"))
        try:
            found = await self.check(request, str(form.get("token") or "").strip())
        except TooManyFailures:
            return self.form_page(request, 429, "Too many wrong tokens from this address; wait a minute.", target)
        if found is None:
            return self.form_page(request, 401, "That token was not accepted.", target, visitor)
        response = RedirectResponse(target, 303)
        secure = request.url.scheme == "https"
        response.set_cookie(
            SESSION_COOKIE,
            self.sessions.open(found),
            max_age=int(self.sessions.lifetime_s),
            httponly=True,
            samesite="strict",
            secure=secure,
        )
        return response

    async def sign_out(self, request: Request) -> Response:
        """POST (CSRF-checked): forget this browser's session and drop its cookie."""
        if request.method != "POST":
            return PlainTextResponse("Use POST.", 405, headers={"allow": "POST"})
        try:
            await read_form(request, self.secret, self.max_body)
        except CsrfError as exc:
            return self.form_page(request, 403, f"Refused: {exc}", "/")
        self.sessions.close(request.cookies.get(SESSION_COOKIE, ""))
        response = RedirectResponse(SIGNIN_PATH, 303)
        response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")
        return response

    def refuse(self, request: Request, status: int, message: str, here: str) -> Response:
        """A browser (it asks for HTML) gets the sign-in form, coming back here after; others get one line."""
        if "text/html" in request.headers.get("accept", ""):
            return self.form_page(request, status, message, safe_next(here))
        headers = {"www-authenticate": 'Bearer realm="reviewtag"'} if status == 401 else {"retry-after": "60"}
        hint = "" if status == 429 else " Send Authorization: Bearer TOKEN, or sign in at /signin."
        return PlainTextResponse(message + hint, status, headers=headers)

    def form_page(
        self, request: Request, status: int, problem: str, target: str, visitor: Visitor | None = None
    ) -> HTMLResponse:
        context = {
            "csrf_field": CSRF_FIELD,
            "csrf": request.state.csrf_token,
            "problem": problem,
            "next": target,
            "visitor": visitor,
            "signin_path": SIGNIN_PATH,
            "signout_path": SIGNOUT_PATH,
            "min_chars": MIN_TOKEN_CHARS,
        }
        headers = {"www-authenticate": 'Bearer realm="reviewtag"'} if status == 401 else None
        return HTMLResponse(TEMPLATES.get_template("signin.html").render(**context), status, headers=headers)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site, or the index (the form is no open redirect)."""
    return target if target and SAFE_NEXT.fullmatch(target) else "/"
