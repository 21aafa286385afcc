"""What stands between the browser and the server: every byte from the browser is treated as hostile.

One pure ASGI middleware (`Guard`) does the checks that must happen before any route runs: the Host
header (a page on another site that rebinds its DNS name to 127.0.0.1 must not be able to read this
one), the upload size (refused from Content-Length, and counted while streaming for chunked bodies),
the CSRF cookie, and the response headers (a strict Content-Security-Policy: no inline script, no
inline style, nothing from another origin). Pure ASGI, not BaseHTTPMiddleware, so that an upload is
counted as it streams instead of being buffered first.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from http.cookies import SimpleCookie

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]
CSRF_COOKIE = "reviewtag_csrf"
CSRF_FIELD = "csrf"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class UploadTooLarge(Exception):
    """The request body passed the upload limit while it was being read."""


class CsrfError(Exception):
    """A POST without a valid token: from another site, a stale page, or a hand-made request."""


def is_loopback(host: str) -> bool:
    return host.strip("[]") in {"127.0.0.1", "localhost", "::1"} or host.startswith("127.")


def too_large_message(limit_bytes: int) -> str:
    return (
        f"The upload is larger than this server's limit of {limit_bytes / 2**20:.0f} MiB "
        "(setting serve.max_upload_mb in params.yaml). Send the files in smaller batches."
    )


class Guard:
    """Host check, body size limit, CSRF cookie and security headers, for every HTTP request."""

    def __init__(self, app: ASGIApp, secret: bytes, max_body: int, allowed_hosts: frozenset[str] | None):
        self.app, self.secret, self.max_body, self.allowed_hosts = app, secret, max_body, allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        host = host_name(headers.get(b"host", b"").decode("latin-1"))
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            await _plain(send, 400, "Unknown Host header: open the page as http://127.0.0.1:<port>/")
            return
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _plain(send, 413, too_large_message(self.max_body))
            return
        nonce = _cookie(headers, CSRF_COOKIE)
        fresh = not (nonce and len(nonce) == 32 and nonce.isalnum())
        if fresh:
            nonce = secrets.token_hex(16)
        scope.setdefault("state", {})["csrf_token"] = sign(self.secret, nonce)
        scope["state"]["csrf_nonce"] = nonce
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise UploadTooLarge()
            return message

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS)
                if fresh:
                    cookie = f"{CSRF_COOKIE}={nonce}; Path=/; HttpOnly; SameSite=Strict"
                    extra.append((b"set-cookie", cookie.encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, counted, with_headers)


def host_name(header: str) -> str:
    """The Host header without its port ('[::1]:8000' -> '[::1]', '127.0.0.1:8000' -> '127.0.0.1')."""
    if header.startswith("["):
        return header[: header.find("]") + 1] if "]" in header else header
    return header.rsplit(":", 1)[0]


def sign(secret: bytes, nonce: str) -> str:
    """The form token for a cookie nonce: another site can neither read the cookie nor forge this."""
    return hmac.new(secret, nonce.encode(), hashlib.sha256).hexdigest()


def new_secret() -> bytes:
    return secrets.token_bytes(32)


async def read_form(request: Request, secret: bytes, max_body: int) -> FormData:
    """The POSTed form, after the CSRF checks: the Origin (when the browser sends one) is this
    server, and the token in the form matches the cookie (double submit, HMAC-signed)."""
    origin = request.headers.get("origin")
    if origin is not None and origin.rstrip("/") != f"{request.url.scheme}://{request.headers.get('host', '')}":
        raise CsrfError(f"request from another origin ({origin[:80]})")
    form = await request.form(max_files=10_000, max_fields=1_000, max_part_size=max_body)
    nonce = request.cookies.get(CSRF_COOKIE, "")
    token = form.get(CSRF_FIELD)
    if not nonce or not isinstance(token, str) or not hmac.compare_digest(token, sign(secret, nonce)):
        await form.close()
        raise CsrfError("missing or invalid form token; reload the page and try again")
    return form


def _cookie(headers: dict[bytes, bytes], name: str) -> str:
    raw = headers.get(b"cookie", b"").decode("latin-1")
    try:
        jar = SimpleCookie(raw)
    except Exception:  # a malformed cookie header is simply no cookie
        return ""
    return jar[name].value if name in jar else ""


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
