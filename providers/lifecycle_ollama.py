"""Ollama's lifecycle through the official client: pull (streamed, cancellable), delete, copy, /api/ps,
load ahead of use (an empty generate with keep_alive) and unload (keep_alive 0)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from .errors import ModelNotFound, ProviderError
from .lifecycle import LoadedNow, PullProgress
from .ollama import OllamaProvider, keep_alive_value


class PullFailed(ProviderError):
    """A pull stopped before Ollama wrote the manifest: nothing was registered."""

    kind = "pull_failed"


class OllamaLifecycle:
    def __init__(self, provider: OllamaProvider) -> None:
        self.provider = provider

    @property
    def where(self) -> str:
        return f"{self.provider.name} at {self.provider.host}"

    def _error(self, err: Exception, model: str) -> ProviderError:
        mapped = self.provider._error(err, model)
        if isinstance(mapped, ModelNotFound):
            return ModelNotFound(
                f"{self.where} has no model called {model}.",
                hint=f"`jarvis models --json` lists what it has; `jarvis models pull {model}` fetches it.",
                provider=self.provider.name,
                model=model,
            )
        return mapped

    async def loaded(self) -> list[LoadedNow]:
        try:
            ps = await self.provider.client.ps()
        except Exception as err:
            raise self._error(err, "") from None
        return [
            LoadedNow(
                provider=self.provider.name,
                name=m.model or m.name or "",
                host=self.provider.host,
                size_bytes=int(m.size or 0),
                size_vram=int(m.size_vram or 0),
                expires_at=m.expires_at,
                context_length=m.context_length,
            )
            for m in ps.models
        ]

    async def load(self, name: str, *, keep_alive: str | None, num_ctx: int | None) -> str:
        keep = keep_alive_value(keep_alive or self.provider.keep_alive_for(name))
        options = {"num_ctx": num_ctx or self.provider.num_ctx}
        try:
            # An empty prompt loads the model and answers at once (done_reason "load").
            await self.provider.client.generate(model=name, prompt="", keep_alive=keep, options=options)
        except Exception as err:
            raise self._error(err, name) from None
        how_long = (
            "until unloaded"
            if keep is not None and str(keep).startswith("-")
            else (f"for {keep}" if keep is not None else "for Ollama's keep_alive (5 minutes by default)")
        )
        return f"Loaded {name} on {self.where}; it stays loaded {how_long}."

    async def unload(self, name: str) -> str:
        try:
            await self.provider.client.generate(model=name, prompt="", keep_alive=0)
        except Exception as err:
            raise self._error(err, name) from None
        return f"Unloaded {name} on {self.where}."

    async def delete(self, name: str) -> str:
        try:
            await self.provider.client.delete(name)
        except Exception as err:
            raise self._error(err, name) from None
        self.provider.show_cache.pop(name, None)
        return f"Deleted {name} from {self.where}."

    async def copy(self, name: str, destination: str) -> str:
        try:
            await self.provider.client.copy(name, destination)
        except Exception as err:
            raise self._error(err, name) from None
        return f"Copied {name} to {destination} on {self.where}."

    async def pull(self, name: str) -> AsyncIterator[PullProgress]:
        """Ollama's progress lines; a failure mid-way raises PullFailed (Ollama keeps the partial blob
        and resumes from it next time, but lists nothing until the manifest is written)."""
        last: PullProgress | None = None
        try:
            stream = await self.provider.client.pull(name, stream=True)
            async for part in stream:
                last = PullProgress(
                    name, self.provider.host, part.status or "", part.digest, part.total, part.completed
                )
                yield last
        except Exception as err:
            mapped = self.provider._error(err, name)
            done = ""
            if last is not None and last.total:
                done = f" after {_mb(last.completed or 0)} of {_mb(last.total)}"
            detail = getattr(err, "error", None) or mapped.message
            if "file does not exist" in str(detail):
                raise PullFailed(
                    f"{self.where} found no model called {name} in its registry.",
                    hint="Check the name and tag on ollama.com/library (e.g. qwen2.5-coder:7b).",
                    provider=self.provider.name,
                    model=name,
                ) from None
            raise PullFailed(
                f"Pulling {name} on {self.where} stopped{done}: {detail}. Nothing was registered.",
                hint="Run the pull again: Ollama resumes from what it already downloaded.",
                provider=self.provider.name,
                model=name,
            ) from None
        if last is None or last.status != "success":
            raise PullFailed(
                f"Pulling {name} on {self.where} ended without a success line; nothing was registered.",
                hint="Run the pull again.",
                provider=self.provider.name,
                model=name,
            )


def _mb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"
