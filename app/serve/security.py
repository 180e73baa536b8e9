"""Who may talk to `jarvis serve`: loopback by default, a token off loopback, Host checked against DNS
rebinding, CORS only for the origins the user allowed.

A web page the user visits can reach a loopback port through a DNS name it controls (DNS rebinding);
its requests then carry that name in Host, so only this machine's names (and the bound host) pass.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
#: The headers browsers may read from a cross-origin answer.
EXPOSED_HEADERS = ("X-Jarvis-Model", "X-Jarvis-Attempts", "X-Jarvis-Fallbacks", "X-Jarvis-Run", "Retry-After")


def is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def startup_problem(host: str, token: str | None) -> str | None:
    """One sentence when the server must not start with these settings."""
    if not is_loopback(host) and not token:
        return (
            f"Refusing to serve on {host} without a token: anyone who can reach this machine could use"
            " your models; pass --token T or set JARVIS_SERVE_TOKEN (clients send `Authorization: Bearer T`),"
            " or bind 127.0.0.1."
        )
    return None


def host_name(header: str) -> str:
    """The name in a Host header, without port or IPv6 brackets, lowercased."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    if header.count(":") == 1:
        return header.split(":", 1)[0]
    return header


def error_json(path: str, status: int, message: str) -> bytes:
    """The error in the shape of the API the path belongs to."""
    if path.startswith("/v1"):
        kind = "authentication_error" if status == 401 else "invalid_request_error"
        code = "invalid_api_key" if status == 401 else None
        doc: dict = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    else:
        doc = {"error": message}
    return json.dumps(doc).encode()


class Guard:
    """ASGI middleware: Host check, then the bearer token (when one is set)."""

    def __init__(
        self, app: ASGIApp, *, bound_host: str, token: str | None, allowed_hosts: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.token = token
        self.any_host = bound_host in WILDCARD_HOSTS
        self.allowed = LOOPBACK_NAMES | {bound_host.lower().strip("[]")} | {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope.get("path", "")
        host = host_name(headers.get("host", ""))
        # A wildcard bind needs a token, which a rebinding page cannot know: any name may reach it then.
        if not self.any_host and host not in self.allowed:
            message = (
                f"The Host header '{host}' is not a name of this server (a DNS-rebinding guard);"
                " use http://127.0.0.1 or localhost, or start jarvis serve with --allow-host."
            )
            await _send(send, 403, error_json(path, 403, message))
            return
        if self.token and scope.get("method") != "OPTIONS" and path != "/":
            given = headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            good = hmac.compare_digest(value.strip().encode(), self.token.encode())
            if scheme.lower() != "bearer" or not good:
                what = "a wrong token" if given else "no token"
                message = (
                    f"This server needs `Authorization: Bearer <token>` and the request had {what};"
                    " use the token jarvis serve was started with."
                )
                await _send(send, 401, error_json(path, 401, message), [(b"www-authenticate", b"Bearer")])
                return
        await self.app(scope, receive, send)


async def _send(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})
