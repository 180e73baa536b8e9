"""A small OpenAI-compatible embeddings server (none of the model test servers embeds): /v1/models lists
`nomic-embed-text`, /v1/embeddings returns deterministic 8-dimensional vectors derived from each text.

Run: python -m tests.serve.embed_server --port 8080
"""

from __future__ import annotations

import argparse
import hashlib

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MODEL = "nomic-embed-text"


def vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255 for b in digest[:8]]


async def models(_: Request) -> JSONResponse:
    return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "test"}]})


async def embeddings(request: Request) -> JSONResponse:
    body = await request.json()
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = [{"object": "embedding", "index": i, "embedding": vector(t)} for i, t in enumerate(texts)]
    return JSONResponse({"object": "list", "data": data, "model": body["model"]})


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = Starlette(
        routes=[Route("/v1/models", models), Route("/v1/embeddings", embeddings, methods=["POST"])]
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
