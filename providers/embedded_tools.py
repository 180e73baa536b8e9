"""Tool calls with the embedded llama.cpp models, through llama-cpp-python's "chatml-function-calling"
chat handler: the functions are described in a ChatML system turn and the model's choice and arguments
are generated under grammars (the arguments under one built from the function's JSON Schema), so a
call always parses.

What it can and cannot do (llama-cpp-python 0.3.x):
- Only for GGUFs whose chat template is ChatML (`<|im_start|>`: SmolLM2, Qwen2.5, ...); the handler
  writes ChatML whatever the model's own template says.
- A named function (`tool_choice` naming it) streams: a call in pieces, then finish_reason "tool_calls".
- "auto" decides between a message and calls without streaming. Its message branch is broken (the
  text is generated under the grammar meant for a follow-up call, so it comes out empty: measured with
  SmolLM2), so when no call was chosen the answer is generated again, streamed, with the model's own
  template. "required" with one function is that function named; with several it is "auto" (the
  handler does not know "required").
- The functions are listed in the system turn only: a conversation without one gets an empty one.
- Tool results are not rendered by its template (a `tool` turn would be an empty header), so they go
  in as user turns; the assistant's earlier calls are rendered as the handler writes them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .errors import ProviderError
from .tool_calls import CHOICE_WORDS, plain_messages
from .types import GenerationOptions, Message, ToolSpec

CHATML = "<|im_start|>"
#: An empty system turn for a conversation that has none: the handler writes the function list into it.
SYSTEM = {"role": "system", "content": ""}


def can_call_tools(meta: Mapping[str, Any]) -> bool:
    """Whether a GGUF's chat template is ChatML, the only one the handler writes."""
    return CHATML in str(meta.get("tokenizer.chat_template") or "")


def handler_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    # The handler lists the functions inside the system turn alone: without one the model never sees them
    # (measured with SmolLM2: "Call get_weather for Paris" then answers in text under "auto").
    out: list[dict[str, Any]] = [] if any(m.role == "system" for m in messages) else [SYSTEM]
    for m in messages:
        if m.role == "tool":
            out.append({"role": "user", "content": f"Tool result: {m.content}"})
        else:
            out.append(m.as_dict())
    return out


def tool_chunks(
    llm: Any, messages: Sequence[Message], options: GenerationOptions, kwargs: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Chat-completion stream chunks (OpenAI's shape, tool calls in ``delta.tool_calls``)."""
    from llama_cpp.llama_chat_format import chatml_function_calling

    for tool in options.tools or ():
        if not grammar_parses(llm, tool):
            raise ProviderError(
                f"llama.cpp cannot follow the parameters of the function '{tool.name}': llama-cpp-python"
                " turns that JSON Schema into a grammar llama.cpp rejects (a quote or backslash in a"
                " property name, an enum or a const value); send it to another model or simplify it."
            )
    tools = [t.as_openai() for t in options.tools or ()]
    args = {k: v for k, v in kwargs.items() if k not in ("stream", "seed")}
    if options.seed is not None:
        llm.set_seed(options.seed)
    choice = options.tool_choice
    if choice == "required" and len(tools) == 1:
        choice = options.tools[0].name if options.tools else None
    payload = handler_messages(messages)
    if choice is not None and choice not in CHOICE_WORDS:
        named = {"type": "function", "function": {"name": choice}}
        stream = chatml_function_calling(
            llama=llm, messages=payload, tools=tools, tool_choice=named, stream=True, **args
        )
        return iter(stream)
    # "Automatic streaming tool choice is not supported" by the handler: one whole answer, as one chunk.
    whole = chatml_function_calling(
        llama=llm, messages=payload, tools=tools, tool_choice="auto", stream=False, **args
    )
    if whole["choices"][0].get("message", {}).get("tool_calls"):
        return iter([as_chunk(whole)])
    # The model chose to answer in text: its own template, streamed (the handler's text is empty).
    return iter(llm.create_chat_completion(messages=plain_messages(messages), **kwargs))


def as_chunk(response: Mapping[str, Any]) -> dict[str, Any]:
    choice = response["choices"][0]
    message = choice.get("message") or {}
    calls = [
        {"index": i, "id": c.get("id"), "function": c.get("function") or {}}
        for i, c in enumerate(message.get("tool_calls") or ())
    ]
    delta = {"content": message.get("content"), "tool_calls": calls or None}
    chunk = {"index": 0, "delta": delta, "finish_reason": choice.get("finish_reason")}
    return {"choices": [chunk], "usage": response.get("usage")}


def grammar_parses(llm: Any, tool: ToolSpec) -> bool:
    """Whether llama.cpp parses the grammar the handler builds from the function's JSON Schema. Its converter
    leaves a backslash unescaped (a quote in a property name, an enum or a const value), and the handler
    adds the sampler llama.cpp then fails to make (NULL) to its chain: a segfault, the whole process gone
    (llama-cpp-python 0.3.36). Its function names are safe: ToolSpec allows no quotes in them."""
    import llama_cpp
    from llama_cpp.llama_grammar import LlamaGrammar

    try:
        grammar = LlamaGrammar.from_json_schema(json.dumps(tool.as_openai()["function"]["parameters"]))
    except Exception:
        return True  # the handler falls back to plain JSON's grammar, which parses
    sampler = llama_cpp.llama_sampler_init_grammar(
        llm._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
    )
    if not sampler:
        return False
    llama_cpp.llama_sampler_free(sampler)
    return True
