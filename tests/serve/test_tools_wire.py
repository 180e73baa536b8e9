"""The tool-call wire formats without a server: OpenAI deltas joined by index (also when a server repeats
the name in every delta or leaves the index out), Ollama's whole calls with object arguments, an agent's
turns paired by id or by function name, and a call surviving the answer cache."""

from __future__ import annotations

import json
from dataclasses import replace

from jarvis.app.serve.gateway import Finished
from jarvis.app.serve.openai_api import ChatEncoder
from jarvis.app.serve.tools import ToolTurns, openai_calls, with_tools
from jarvis.providers import tool_calls
from jarvis.providers.types import Completion, GenerationOptions, Message, ToolCall, Usage


def test_openai_deltas_join_by_index_into_whole_calls():
    acc = tool_calls.ToolCallAccumulator()
    acc.add_delta(
        [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}}]
    )
    acc.add_delta([{"index": 1, "id": "call_b", "function": {"name": "g", "arguments": '{"x"'}}])
    acc.add_delta([{"index": 0, "function": {"arguments": '{"city": '}}])
    acc.add_delta(
        [{"index": 0, "function": {"arguments": '"Rome"}'}}, {"index": 1, "function": {"arguments": ": 1}"}}]
    )
    assert acc.calls() == (ToolCall("call_a", "f", '{"city": "Rome"}'), ToolCall("call_b", "g", '{"x": 1}'))


def test_a_server_repeating_the_name_or_leaving_out_the_index_still_gives_one_call_each():
    repeats = tool_calls.ToolCallAccumulator()
    for piece in ('{"a"', ": 1", "}"):  # llama-cpp-python: id and name in every delta
        repeats.add_delta([{"index": 0, "id": "call_x", "function": {"name": "f", "arguments": piece}}])
    assert repeats.calls() == (ToolCall("call_x", "f", '{"a": 1}'),)

    no_index = tool_calls.ToolCallAccumulator()
    no_index.add_delta([{"id": "c1", "function": {"name": "f", "arguments": "{}"}}])
    no_index.add_delta([{"id": "c2", "function": {"name": "g", "arguments": "{"}}])
    no_index.add_delta([{"function": {"arguments": "}"}}])
    assert [(c.id, c.name, c.arguments) for c in no_index.calls()] == [("c1", "f", "{}"), ("c2", "g", "{}")]


def test_ollama_calls_have_object_arguments_and_no_index_zero():
    raw = [
        {"function": {"name": "f", "arguments": {"city": "Rome"}}},
        {"function": {"index": 1, "name": "g"}},
    ]
    calls = tool_calls.from_ollama(raw)
    assert calls == (ToolCall("", "f", '{"city": "Rome"}'), ToolCall("", "g", "{}"))
    sent = tool_calls.ollama_messages(
        [
            Message("assistant", "", (ToolCall("c0", "f", '{"city": "Rome"}'),)),
            Message("tool", "sun", (), "c0"),
        ]
    )
    assert sent == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "f", "arguments": {"city": "Rome"}}}],
        },
        {"role": "tool", "content": "sun", "tool_name": "f"},
    ]
    # Text that is not a JSON object is kept, not dropped (Ollama's arguments are a map).
    assert tool_calls.arguments_object(ToolCall("", "f", "not json")) == {"value": "not json"}


def test_turns_pair_results_with_calls_by_id_or_by_function_name():
    turns = ToolTurns()
    calls, _ = turns.fields(
        {
            "role": "assistant",
            "tool_calls": [{"function": {"name": "f", "arguments": {}}}, {"function": {"name": "g"}}],
        },
        "messages[1]",
    )
    assert [c.id for c in calls] == ["call_0", "call_1"]
    assert turns.fields({"role": "tool", "tool_name": "g", "content": "2"}, "messages[2]") == ((), "call_1")
    assert turns.fields({"role": "tool", "content": "1"}, "messages[3]") == ((), "call_0")
    assert turns.fields({"role": "tool", "tool_call_id": "zz", "content": "?"}, "messages[4]") == ((), "zz")


def test_request_fields_become_typed_options_and_back():
    body = {
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
    }
    options = with_tools(body, GenerationOptions(max_tokens=5))
    assert options.max_tokens == 5 and options.tool_choice == "f" and options.tools[0].name == "f"
    assert tool_calls.openai_tools(options) == {
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
    }
    assert not tool_calls.wants_tools(with_tools({**body, "tool_choice": "none"}, GenerationOptions()))
    assert with_tools({}, options) is options


def test_ids_are_made_up_only_where_the_backend_gave_none():
    made = openai_calls([ToolCall("", "f", "{}"), ToolCall("call_k", "g", "{}")], "run-7")
    assert [(c["index"], c["id"]) for c in made] == [(0, "call_run-7_0"), (1, "call_k")]


def test_a_backend_without_tools_reads_the_turns_as_text():
    plain = tool_calls.plain_messages(
        [Message("assistant", "", (ToolCall("c", "f", '{"a": 1}'),)), Message("tool", "42", (), "c")]
    )
    assert plain == [
        {"role": "assistant", "content": '[called f({"a": 1})]'},
        {"role": "user", "content": "Tool result: 42"},
    ]


def test_an_answer_that_is_calls_survives_the_cache():
    done = Completion(
        "p", "m", "", 3, 4, None, None, 0.1, "tool_calls", tool_calls=(ToolCall("c", "f", "{}"),)
    )
    record = json.loads(json.dumps(done.cache_record()))
    assert Completion.from_cache(record) == done
    assert Message("tool", "x", (), "c").as_dict() == {"role": "tool", "content": "x", "tool_call_id": "c"}


def test_litellm_s_model_map_says_which_cloud_models_call_functions_without_importing_litellm():
    known = tool_calls.litellm_function_calling(["openai/gpt-4o-mini", "openai/toolbox-1", "gpt-4o-mini"])
    assert known == {"openai/gpt-4o-mini", "gpt-4o-mini"}
    assert tool_calls.litellm_function_calling([]) == frozenset()


def test_calls_cut_off_by_max_tokens_finish_with_length_not_tool_calls():
    done = Completion("p", "m", "", 3, 4, None, None, 0.1, "stop")
    whole, cut = ToolCall("c", "f", '{"city": "Rome"}'), ToolCall("d", "f", '{"city":')
    assert tool_calls.with_calls(done, [whole]).finish_reason == "tool_calls"
    # llama-cpp-python's handler says "tool_calls" whatever happened; the arguments tell.
    assert tool_calls.with_calls(done, [whole, cut]).finish_reason == "length"
    assert tool_calls.with_calls(replace(done, finish_reason="length"), [whole]).finish_reason == "length"
    assert tool_calls.with_calls(done, []) is done
    usage = Usage(3, 4, finish_reason="length")
    assert ChatEncoder._reason(Finished("m", usage, "length", (cut,))) == "length"
    assert ChatEncoder._reason(Finished("m", usage, "tool_calls", (whole,))) == "tool_calls"
