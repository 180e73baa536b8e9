"""The per-token fast paths of the OpenAI stream encoder make the very bytes the general path makes."""

from __future__ import annotations

import json

from jarvis.app.serve.gateway import ServedRequest, Text
from jarvis.app.serve.models import Route
from jarvis.app.serve.openai_api import ChatEncoder
from jarvis.providers.types import GenerationOptions, Message

TEXTS = [" t0", 'quote " and \\ back', "line\nbreak\ttab", "ünïcødé 漢字 🙂", "", "\x00nul"]


def test_content_chunks_are_byte_identical_to_the_general_encoding():
    for kind in ("chat", "text"):
        req = ServedRequest(Route("jarvis/auto", "auto"), [Message("user", "hi")], GenerationOptions())
        req.run_id, req.model = "run_1", "up/bench"
        encoder = ChatEncoder(req, 1700000000, kind)
        encoder.chunk(Text("first"))  # the role chunk goes out with the first piece
        for text in TEXTS:
            data, last = encoder.chunk(Text(text))
            assert not last
            assert data == encoder._chunk(encoder._choice(text, None)), (kind, text)
            doc = json.loads(data.removeprefix(b"data: "))
            assert doc["model"] == "up/bench" and doc["id"].endswith("run_1")
            piece = doc["choices"][0]["delta"]["content"] if kind == "chat" else doc["choices"][0]["text"]
            assert piece == text


def test_a_changed_model_changes_the_frame():
    req = ServedRequest(Route("jarvis/auto", "auto"), [Message("user", "hi")], GenerationOptions())
    encoder = ChatEncoder(req, 1, "chat")
    assert json.loads(encoder.chunk(Text("a"))[0].split(b"\n\n")[1][6:])["model"] == "jarvis/auto"
    req.model = "ollama/qwen2.5-coder:7b"
    assert json.loads(encoder.chunk(Text("b"))[0][6:])["model"] == "ollama/qwen2.5-coder:7b"
