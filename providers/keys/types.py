"""The plain records of the key manager: a key with its name, an index entry, and one use of a key."""

from __future__ import annotations

from dataclasses import dataclass, field

#: The environment variable litellm reads for each provider prefix.
KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "google": "GEMINI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
}

#: Where a key came from; "env" and "config" are also the names such keys go by.
SOURCES = ("env", "keyring", "file", "config")


@dataclass(frozen=True)
class NamedKey:
    """A key and the name it is known by; ``secret`` is left out of repr and comparisons."""

    provider: str
    name: str
    source: str
    secret: str = field(repr=False, compare=False)

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.name}"


@dataclass(frozen=True)
class KeyEntry:
    """One stored key as the index knows it: never the key, only its last characters."""

    provider: str
    name: str
    last4: str
    added_at: float
    #: "keyring" (the OS keyring) or "file" (the encrypted file).
    store: str

    def as_json(self) -> dict[str, object]:
        return {
            "provider": self.provider,
            "name": self.name,
            "last4": self.last4,
            "added_at": self.added_at,
            "store": self.store,
        }


@dataclass(frozen=True)
class KeyUse:
    """One request made with a key, for the ledger (by the key's name, never the key)."""

    provider: str
    key_name: str
    source: str
    model: str
    #: ok, rejected (authentication failed), rate_limited, or failed (anything else).
    outcome: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float = 0.0


def last4(secret: str) -> str:
    """The last four characters, only when they are a small part of the key (never half of a short one)."""
    return secret[-4:] if len(secret) >= 12 else ""
