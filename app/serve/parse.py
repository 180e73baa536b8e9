"""Reading request bodies of both APIs into messages and generation options; a bad body is one sentence."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from jarvis.providers.types import GenerationOptions, Message

from .tools import BadTools, ToolTurns

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}


class BadRequest(Exception):
    """A request this server cannot take; the message says what was wrong and what to send instead."""


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as err:
        raise BadRequest(f"The request body is not valid JSON ({err}); send a JSON object.") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def model_name(body: dict[str, Any]) -> str:
    name = body.get("model", body.get("name"))
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("The request names no model: set `model` to one of the listed models.")
    return name


def messages(raw: Any) -> list[Message]:
    """OpenAI/Ollama chat messages as text messages (text parts joined), with an agent's tool turns."""
    if not isinstance(raw, list) or not raw:
        raise BadRequest("`messages` must be a non-empty list of {role, content} objects.")
    out: list[Message] = []
    turns = ToolTurns()
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            raise BadRequest(f"messages[{i}] is not an object; each message is {{role, content}}.")
        role = _ROLES.get(str(m.get("role")))
        if role is None:
            raise BadRequest(
                f"messages[{i}] has the role {m.get('role')!r}; use system, user, assistant or tool."
            )
        if m.get("images"):  # Ollama's way of attaching pictures
            raise BadRequest(f"messages[{i}] has images; the models served here take text only.")
        content = text_content(m.get("content"), f"messages[{i}].content")
        try:  # an agent's turns: the calls it was given, the results it sends back
            calls, call_id = turns.fields(m, f"messages[{i}]")
        except BadTools as err:
            raise BadRequest(str(err)) from None
        out.append(Message(role, content, calls, call_id))  # type: ignore[arg-type]
    return out


def text_content(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") in ("text", "input_text"):
                parts.append(str(part.get("text", "")))
            elif isinstance(part, dict) and part.get("type") in ("image_url", "input_image", "image"):
                raise BadRequest(f"{where} has an image; the models served here take text only.")
            elif isinstance(part, str):
                parts.append(part)
        return "".join(parts)
    raise BadRequest(f"{where} must be a string or a list of text parts.")


def options(values: dict[str, Any], where: str = "the request") -> GenerationOptions:
    """Generation options from the fields both APIs share (already renamed to ours); None means unset."""
    clean = {k: v for k, v in values.items() if v is not None}
    stop = clean.get("stop")
    if isinstance(stop, str):
        clean["stop"] = (stop,)
    elif isinstance(stop, list):
        clean["stop"] = tuple(str(s) for s in stop) or None
    try:
        return GenerationOptions(**clean)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "a field"
        raise BadRequest(f"In {where}, `{field}` is not usable: {first['msg']}.") from None


def openai_options(body: dict[str, Any]) -> GenerationOptions:
    n = body.get("n")
    if n not in (None, 1):
        raise BadRequest("Only n=1 is supported: ask for one choice per request.")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    return options(
        {
            "temperature": body.get("temperature"),
            "max_tokens": max_tokens,
            "top_p": body.get("top_p"),
            "stop": body.get("stop"),
            "seed": body.get("seed"),
        }
    )


def ollama_options(body: dict[str, Any]) -> GenerationOptions:
    opts = body.get("options") or {}
    if not isinstance(opts, dict):
        raise BadRequest(
            "`options` must be an object (temperature, num_predict, top_p, stop, seed, num_ctx)."
        )
    num_predict = opts.get("num_predict")
    return options(
        {
            "temperature": opts.get("temperature"),
            # Ollama's -1/-2 mean "until done" / "fill the context": no bound of ours.
            "max_tokens": num_predict if isinstance(num_predict, int) and num_predict > 0 else None,
            "top_p": opts.get("top_p"),
            "stop": opts.get("stop"),
            "seed": opts.get("seed"),
            "num_ctx": opts.get("num_ctx"),
        },
        "`options`",
    )


def texts(raw: Any, field: str = "input") -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(t, str) for t in raw):
        return list(raw)
    raise BadRequest(
        f"`{field}` must be a string or a non-empty list of strings (token arrays are not taken)."
    )
