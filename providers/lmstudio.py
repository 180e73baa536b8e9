"""LM Studio: the OpenAI-compatible provider plus LM Studio's REST /api/v0 for state and context length."""

from __future__ import annotations

from typing import Any

import httpx

from .errors import ModelNotFound
from .openai_compat import OpenAICompatProvider, guess_capabilities, is_loopback
from .types import ModelInfo

DEFAULT_LMSTUDIO_URL = "http://127.0.0.1:1234"


class LMStudioProvider(OpenAICompatProvider):
    kind = "lmstudio"
    start_hint = "Start LM Studio and turn on its local server (Developer tab, or `lms server start`)."

    def __init__(self, name: str = "lmstudio", base_url: str = DEFAULT_LMSTUDIO_URL, **kw: Any) -> None:
        super().__init__(name, base_url, **kw)

    async def post_json(self, path: str, body: dict[str, Any], model: str = "") -> Any:
        """POST to LM Studio's REST API (load, unload: providers/lifecycle_lmstudio.py)."""
        try:
            resp = await self._client.post(path, json=body)
        except httpx.HTTPError as err:
            raise self._transport_error(err, model) from None
        if resp.status_code >= 400:
            raise self._status_error(resp, resp.content, model)
        return resp.json() if resp.content else {}

    async def get_json(self, path: str) -> Any:
        return await self._get_json(path)

    async def list_models(self) -> list[ModelInfo]:
        try:
            data = await self._get_json("/api/v0/models")
        except ModelNotFound:
            # Older LM Studio builds have no /api/v0: plain OpenAI listing, no state.
            return await super().list_models()
        local = is_loopback(self.base_url)
        out = []
        for item in data.get("data", []):
            mid = str(item.get("id", ""))
            kind = item.get("type", "llm")
            caps = set(guess_capabilities(mid, kind))
            if kind == "vlm":
                caps.add("vision")
            if "tool_use" in (item.get("capabilities") or ()):  # newer LM Studio builds say so
                caps.add("function_calling")
            out.append(
                ModelInfo(
                    provider=self.name,
                    name=mid,
                    context_length=item.get("max_context_length"),
                    capabilities=frozenset(caps),
                    family=item.get("arch"),
                    quantization=item.get("quantization"),
                    loaded=item.get("state") == "loaded",
                    local=local,
                    details={k: item.get(k) for k in ("publisher", "compatibility_type", "type", "state")},
                )
            )
        return self.remember_windows(out)
