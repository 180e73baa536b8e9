"""Turns HTTP statuses, error bodies and transport failures into the typed provider errors."""

from __future__ import annotations

import email.utils
import json
import socket
import time

import httpx

from .errors import (
    AuthenticationFailed,
    BadResponse,
    ContextOverflow,
    ModelNotFound,
    Origin,
    OutOfMemory,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    redact,
)


def error_message(body: bytes | str) -> str:
    """The human part of an error body.

    Ollama's {"error": "..."}, OpenAI's {"error": {"message"}}, FastAPI's {"detail"}.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:500]
    if isinstance(data, dict):
        err = data.get("error", data.get("detail"))
        if isinstance(err, dict):
            return str(err.get("message") or err)
        if err is not None:
            return str(err)
    return text.strip()[:500]


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is either seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(parsed.timestamp() - time.time(), 0.0) if parsed else None


def from_status(
    status: int,
    message: str,
    *,
    provider: str,
    model: str,
    address: str,
    retry_after: str | None = None,
    secrets: tuple[str, ...] = (),
) -> ProviderError:
    msg = redact(message, secrets)
    low = msg.lower()
    kw: Origin = {"provider": provider, "model": model}
    if status == 429:
        wait = retry_after_seconds(retry_after)
        after = f" Try again in {wait:.0f} s." if wait is not None else ""
        return RateLimited(f"{provider} is rate limiting requests ({msg}).{after}", retry_after=wait, **kw)
    if status in (401, 403):
        return AuthenticationFailed(
            f"{provider} rejected the credentials (HTTP {status}).",
            hint="Check the API key in your environment or config.",
            **kw,
        )
    if "memory" in low and ("requires more" in low or "out of memory" in low or "oom" in low):
        return OutOfMemory(
            f"{provider} cannot load {model}: {msg}", hint="Pick a smaller model or free memory.", **kw
        )
    if "context" in low and any(w in low for w in ("exceed", "too long", "overflow", "length", "window")):
        return ContextOverflow(
            f"The prompt does not fit {model}'s context window: {msg}", hint="Shorten the prompt.", **kw
        )
    if status == 404 or "not found" in low or "no models loaded" in low or "model_not_found" in low:
        return ModelNotFound(
            f"{provider} at {address} has no model '{model}' ({msg}).",
            hint="Run `jarvis models` to see what is installed, or load the model in the server first.",
            **kw,
        )
    if status >= 500:
        return ProviderUnavailable(f"{provider} at {address} failed with HTTP {status}: {msg}", **kw)
    return BadResponse(f"{provider} refused the request with HTTP {status}: {msg}", **kw)


def is_refused(err: BaseException) -> bool:
    """Whether ``err``, or an error it was raised from, says no connection could be opened.

    Client libraries wrap the transport error (openai/litellm raise an APIConnectionError whose
    cause is httpx.ConnectError), so the cause chain is followed until a transport error says
    which. A bare ConnectionError is how the ollama client reports that it could not connect.
    """
    current: BaseException | None = err
    for _ in range(8):  # cause chains are short; the bound also stops a cycle
        if current is None:
            break
        if isinstance(current, (httpx.ConnectError, ConnectionRefusedError, socket.gaierror)):
            return True
        if isinstance(current, httpx.TransportError):
            return False  # a read, write or protocol failure: a connection was open
        current = current.__cause__ or current.__context__
    return isinstance(err, ConnectionError)


def from_transport(
    err: Exception, *, provider: str, model: str, address: str, partial_text: str = "", hint: str = ""
) -> ProviderError:
    """Map an httpx (or socket) failure; text already streamed is kept on the error."""
    kw: Origin = {"provider": provider, "model": model}
    if is_refused(err) and not partial_text:
        return ProviderUnavailable(
            f"Could not connect to {provider} at {address}.", hint=hint, refused=True, **kw
        )
    if isinstance(err, httpx.TimeoutException):
        what = "connecting to" if isinstance(err, httpx.ConnectTimeout) else "waiting for"
        return ProviderTimeout(
            f"Timed out {what} {provider} at {address}.",
            hint="The server may be overloaded or still loading the model.",
            **kw,
        )
    if partial_text:
        return BadResponse(
            f"The stream from {provider} broke after {len(partial_text)} characters ({type(err).__name__}).",
            partial_text=partial_text,
            **kw,
        )
    return ProviderUnavailable(
        f"{provider} at {address} dropped the connection ({type(err).__name__}).", hint=hint, **kw
    )
