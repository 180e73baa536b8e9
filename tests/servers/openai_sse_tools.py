"""A loopback OpenAI-compatible server that streams tool calls exactly as OpenAI's API does, and keeps
the bodies it was sent (GET /recorded) so a test can see what reached the backend.

The stream for a request with `tools`, as api.openai.com sends it: one `id`/`created` for all chunks; a
first chunk with `role` and `content: null`; per call, a delta with `index`, `id`, `type` and
`function.name` (arguments "") and then deltas with `index` and an `arguments` fragment only (name never
repeated); a last choice chunk with an empty delta and `finish_reason: "tool_calls"`; a usage chunk with
`choices: []` when `stream_options.include_usage` is set; `data: [DONE]`. Which functions are called:
every one whose name the last user message mentions (none with tool_choice "none"), with the JSON arguments
{"city": <the message's last word>}. Without tools (or when a tool result is the last turn) it answers
with text: "Noted: <the last message's first 20 characters>".

Run: python -m tests.servers.openai_sse_tools --port 1234
"""

from __future__ import annotations

import argparse
import json
import re

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MODEL = "toolbox-1"
#: How many characters of the arguments each fragment delta carries.
FRAGMENT = 4


def make_app() -> Starlette:
    recorded: list[dict] = []

    async def models(_: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "me"}]})

    async def seen(_: Request) -> Response:
        return JSONResponse(recorded)

    async def chat(request: Request) -> Response:
        body = await request.json()
        recorded.append(body)
        messages = body.get("messages") or []
        last = messages[-1] if messages else {}
        text = str(last.get("content") or "")
        names = [t["function"]["name"] for t in body.get("tools") or () if t["function"]["name"] in text]
        if last.get("role") != "user" or body.get("tool_choice") == "none":
            names = []
        words = re.findall(r"[\w.-]+", text)
        arguments = json.dumps({"city": words[-1] if words else ""})
        head = {"id": "chatcmpl-toolbox", "object": "chat.completion.chunk", "created": 1_700_000_000}
        head["model"] = MODEL

        def chunk(delta: dict, finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return "data: " + json.dumps({**head, "choices": [choice]}) + "\n\n"

        def events():
            yield chunk({"role": "assistant", "content": None if names else ""})
            if names:
                for i, name in enumerate(names):
                    first = {"index": i, "id": f"call_tb{i}", "type": "function"}
                    yield chunk({"tool_calls": [{**first, "function": {"name": name, "arguments": ""}}]})
                    for at in range(0, len(arguments), FRAGMENT):
                        piece = {"index": i, "function": {"arguments": arguments[at : at + FRAGMENT]}}
                        yield chunk({"tool_calls": [piece]})
                yield chunk({}, "tool_calls")
            else:
                for word in f"Noted: {text[:20]}".split(" "):
                    yield chunk({"content": word + " "})
                yield chunk({}, "stop")
            if (body.get("stream_options") or {}).get("include_usage"):
                usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
                yield "data: " + json.dumps({**head, "choices": [], "usage": usage}) + "\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/v1/models", models),
            Route("/recorded", seen),
            Route("/v1/chat/completions", chat, methods=["POST"]),
        ]
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(make_app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
