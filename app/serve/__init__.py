"""`jarvis serve`: the engine behind OpenAI- and Ollama-compatible HTTP APIs (Starlette)."""
