"""Recording what the scripted models were sent."""

from __future__ import annotations


def heard_prompts(provider) -> list[list]:
    """Every message list the scripted models were sent, in order, as (role, content) pairs."""
    calls: list[list] = []
    stream = provider.stream_chat

    def recording(model, messages, options=None):
        calls.append([(m.role, m.content) for m in messages])
        return stream(model, messages, options)

    provider.stream_chat = recording
    return calls
