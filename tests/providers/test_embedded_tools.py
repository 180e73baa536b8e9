"""Tool calls with the embedded SmolLM2 through llama-cpp-python's chatml-function-calling handler."""

from __future__ import annotations

import json

import pytest

from jarvis.providers.embedded import DEFAULT_MODEL_NAME, EmbeddedProvider
from jarvis.providers.embedded_tools import handler_messages
from jarvis.providers.errors import ProviderError
from jarvis.providers.types import GenerationOptions, Message, ToolSpec
from tests.helpers import ask, collect

WEATHER = ToolSpec(
    name="get_weather",
    description="The weather in a city now.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


@pytest.fixture(scope="module")
async def embedded():
    provider = EmbeddedProvider()
    yield provider
    await provider.close()


def test_the_functions_are_described_even_without_a_system_turn():
    # The handler lists the functions inside the system turn only: without one the model never sees them.
    assert handler_messages(ask("hi"))[0] == {"role": "system", "content": ""}
    given = [Message("system", "Be brief."), Message("user", "hi")]
    assert handler_messages(given) == [m.as_dict() for m in given]


async def test_auto_calls_a_function_the_user_asks_for_without_a_system_turn(embedded):
    options = GenerationOptions(temperature=0, max_tokens=40, tools=(WEATHER,))
    pieces, final = await collect(
        embedded.stream_chat(DEFAULT_MODEL_NAME, ask("Call get_weather for Paris"), options)
    )
    assert not pieces and final.finish_reason == "tool_calls"
    assert [c.name for c in final.tool_calls] == ["get_weather"]
    assert json.loads(final.tool_calls[0].arguments)["city"] == "Paris"
    assert final.completion_tokens > 0


async def test_a_named_call_counts_its_tokens(embedded):
    options = GenerationOptions(temperature=0, max_tokens=40, tools=(WEATHER,), tool_choice="get_weather")
    pieces, final = await collect(
        embedded.stream_chat(DEFAULT_MODEL_NAME, ask("Call get_weather for Paris"), options)
    )
    assert not pieces and final.finish_reason == "tool_calls"
    arguments = final.tool_calls[0].arguments
    # Each streamed piece of the arguments is one generated token: '{"city": "Paris"}' is several.
    assert 3 <= final.completion_tokens <= len(arguments)
    assert final.prompt_tokens > 0


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"enum": ['x"y']}}},
        {"type": "object", "properties": {'say "hi"': {"type": "string"}}},
        {"anyOf": [{"type": "integer"}, {"const": 'q"x'}]},
    ],
)
async def test_a_schema_llama_cpp_cannot_follow_is_an_error_not_a_crash(embedded, schema):
    # These killed the process (a segfault in llama.cpp, through llama-cpp-python's tool handler).
    tool = ToolSpec(name="f", parameters=schema)
    for choice in ("f", None):
        options = GenerationOptions(max_tokens=8, tools=(tool,), tool_choice=choice)
        with pytest.raises(ProviderError, match="cannot follow the parameters of the function 'f'"):
            await collect(embedded.stream_chat(DEFAULT_MODEL_NAME, ask("call f"), options))
