"""llama-cpp-python's own OpenAI-compatible server (the protocol LM Studio speaks), plus a thin
shim for LM Studio's REST /api/v0/models, which llama.cpp's server does not have.

Run: python -m tests.servers.openai_server --port 1234 [--model PATH] [--alias NAME] [--no-v0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jarvis.providers import gguf

DEFAULT_ALIAS = "smollm2-135m-instruct"


def make_app(model_path: Path, alias: str, with_v0: bool = True):
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    app = create_app(
        server_settings=ServerSettings(host="127.0.0.1"),
        model_settings=[
            ModelSettings(model=str(model_path), model_alias=alias, n_ctx=4096, n_threads=2, verbose=False)
        ],
    )
    if with_v0:
        meta = gguf.read_metadata(model_path)
        arch = str(meta.get("general.architecture", "llama"))

        @app.get("/api/v0/models")
        async def lmstudio_models():
            return {
                "object": "list",
                "data": [
                    {
                        "id": alias,
                        "object": "model",
                        "type": "llm",
                        "publisher": "HuggingFaceTB",
                        "arch": arch,
                        "compatibility_type": "gguf",
                        "quantization": "Q4_1",
                        "state": "loaded",
                        "max_context_length": int(meta.get(f"{arch}.context_length", 0)),
                    },
                    # LM Studio also lists downloaded models that are not loaded.
                    {
                        "id": "text-embedding-nomic-embed-text-v1.5",
                        "object": "model",
                        "type": "embeddings",
                        "publisher": "nomic-ai",
                        "arch": "nomic-bert",
                        "compatibility_type": "gguf",
                        "quantization": "Q4_K_M",
                        "state": "not-loaded",
                        "max_context_length": 2048,
                    },
                ],
            }

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--alias", default=DEFAULT_ALIAS)
    parser.add_argument("--no-v0", action="store_true")
    args = parser.parse_args()
    path = args.model or gguf.default_model_path()
    uvicorn.run(
        make_app(path, args.alias, not args.no_v0), host="127.0.0.1", port=args.port, log_level="warning"
    )


if __name__ == "__main__":
    main()
