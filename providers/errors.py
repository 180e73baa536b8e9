"""One small typed family of provider errors, each a sentence a person can act on."""

from __future__ import annotations

import re
from typing import TypedDict


class Origin(TypedDict):
    """Who raised an error: passed on as ``**origin`` by the code that maps a failure."""

    provider: str
    model: str


class ProviderError(Exception):
    """Base of every error a provider raises.

    ``str(err)`` is a complete sentence: what happened, then what to do.
    ``kind`` is a stable machine name used by the fallback manager and the ledger.
    """

    kind = "provider_error"
    #: Transient errors may succeed when retried after a pause.
    transient = False

    def __init__(self, message: str, *, hint: str = "", provider: str = "", model: str = "") -> None:
        self.message = message
        self.hint = hint
        self.provider = provider
        self.model = model
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class ProviderUnavailable(ProviderError):
    """The server cannot be reached (refused, DNS, reset before any answer, 5xx)."""

    kind = "unavailable"
    transient = True

    def __init__(self, message: str, *, refused: bool = False, **kw: str) -> None:
        #: No connection could be opened at all (refused, no such host): nothing is listening,
        #: so a retry only delays the failover. False for a 5xx or a connection dropped later.
        self.refused = refused
        super().__init__(message, **kw)


class ModelNotFound(ProviderError):
    """The provider answered but does not have the named model."""

    kind = "model_not_found"


class ContextOverflow(ProviderError):
    """Prompt plus requested output do not fit the model's context window."""

    kind = "context_overflow"

    def __init__(self, message: str, *, needed: int = 0, window: int = 0, **kw: str) -> None:
        self.needed = needed
        self.window = window
        super().__init__(message, **kw)


class OutOfMemory(ProviderError):
    """The model does not fit in the memory available (refused by us or by the server)."""

    kind = "out_of_memory"


class RateLimited(ProviderError):
    """The server asked us to slow down; ``retry_after`` is in seconds when it said."""

    kind = "rate_limited"
    transient = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: str) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ProviderTimeout(ProviderError):
    """No answer (or no next token) within the configured timeout."""

    kind = "timeout"
    transient = True


class BadResponse(ProviderError):
    """The server answered with something we cannot parse, or cut a stream mid-way."""

    kind = "bad_response"
    transient = True

    def __init__(self, message: str, *, partial_text: str = "", **kw: str) -> None:
        #: Text received before the stream broke; the chain keeps it.
        self.partial_text = partial_text
        super().__init__(message, **kw)


class ContentFiltered(ProviderError):
    """A cloud provider refused the content."""

    kind = "content_filtered"


class AuthenticationFailed(ProviderError):
    """The API key was missing or rejected (the key itself is never shown)."""

    kind = "authentication"


# Anything shaped like an API key or bearer token: sk-..., key=..., Bearer ...
_SECRET_SHAPES = re.compile(
    r"(sk-[A-Za-z0-9_\-]{6,}|(?<=Bearer )[A-Za-z0-9_\-\.=]{8,}|"
    r"(?<=api_key=)[^&\s'\"]+|(?<=key=)[^&\s'\"]+|AIza[0-9A-Za-z_\-]{10,})"
)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove known secret values and key-shaped strings from ``text``.

    Applied to every message that crosses a provider boundary, so a key echoed
    back by a server in an error body never reaches logs, the ledger or the user.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return _SECRET_SHAPES.sub("[redacted]", text)
