"""Providers layer: one async protocol over Ollama, OpenAI-compatible servers, embedded llama.cpp
and cloud models.

Nothing here imports Textual or the chains layer, and nothing does I/O at import time.
"""
