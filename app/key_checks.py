"""Testing cloud keys (one cheap authenticated call each), shared by `jarvis keys test` and the Keys panel."""

from __future__ import annotations

from dataclasses import dataclass

from jarvis.providers.keys.rotation import KeyRotation
from jarvis.providers.keys.sources import KeySources
from jarvis.providers.keys.types import KeyUse, NamedKey

from .config import Config

#: The model a test asks when the config names none for that provider: cheap ones.
PROBE_MODELS = {
    "openai": "openai/gpt-4o-mini",
    "anthropic": "anthropic/claude-3-5-haiku-latest",
    "gemini": "gemini/gemini-1.5-flash",
    "openrouter": "openrouter/openai/gpt-4o-mini",
}


@dataclass(frozen=True)
class KeyCheck:
    key: NamedKey
    model: str
    #: ok, rejected, rate_limited, unreachable or failed.
    status: str
    detail: str

    def as_json(self) -> dict[str, str]:
        k = self.key
        return {"provider": k.provider, "name": k.name, "source": k.source, "model": self.model,
                "status": self.status, "detail": self.detail}  # fmt: skip

    def use(self) -> KeyUse:
        """For the ledger: a test is a use of the key too (it is what `keys list` shows as last used)."""
        return KeyUse(self.key.provider, self.key.name, self.key.source, self.model, self.status)


def probe_model(config: Config, provider: str, asked: str | None = None) -> str | None:
    """The model to test ``provider``'s keys with: the one asked, the user's first, or a cheap default."""
    if asked:
        return asked
    mine = [m for m in config.cloud.models if m.split("/", 1)[0] == provider]
    return mine[0] if mine else PROBE_MODELS.get(provider)


async def check_keys(config: Config, model: str, keys: list[NamedKey], sources: KeySources) -> list[KeyCheck]:
    """Each key tried once, in order, through litellm (the config's api_base if it has one)."""
    from jarvis.providers.cloud import CloudProvider

    rotation = KeyRotation(sources)
    rotation.load(model.split("/", 1)[0])  # so every error is redacted of these keys too
    provider = CloudProvider(
        "cloud", [model], api_base=config.cloud.api_base, timeout=config.cloud.timeout, keys=rotation
    )
    return [KeyCheck(k, model, *await provider.probe_key(model, k)) for k in keys]
