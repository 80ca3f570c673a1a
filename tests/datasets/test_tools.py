"""Tool calls and function definitions: checked whatever the message shape, counted as OpenAI counts them."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tuneops.cli import main
from tuneops.datasets.preflight import preflight
from tuneops.datasets.tokens import load_encoding

TOOLS = [{"type": "function", "function": {
    "name": "set_altitude", "description": "Set the cruising altitude.",
    "parameters": {"type": "object", "required": ["altitude"], "properties": {
        "altitude": {"type": "integer", "description": "Feet above sea level."},
        "unit": {"type": "string", "description": "Unit.", "enum": ["ft", "m"]}}}}}]


def call(name: str = "set_altitude", arguments: Any = '{"altitude": 30000}', cid: str = "call_1") -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": arguments}}


def example(calls: Any, *, content_key: bool, tools: Any = TOOLS, i: int = 0, **top: Any) -> dict[str, Any]:
    """A function-calling example; ``content_key`` adds ``"content": null`` to the calling turn."""
    turn: dict[str, Any] = {"role": "assistant", "tool_calls": calls}
    if content_key:
        turn = {"role": "assistant", "content": None, "tool_calls": calls}
    return {"messages": [{"role": "user", "content": f"Climb please, flight {i}"}, turn,
                         {"role": "tool", "tool_call_id": "call_1", "content": '{"ok": true}'},
                         {"role": "assistant", "content": f"Climbing, flight {i}."}], "tools": tools, **top}


BAD_CALLS = {
    "undeclared": ([call("launch_rockets")], "tool_calls.undeclared"),
    "not json": ([call(arguments="{altitude: 100")], "tool_calls.arguments"),
    "not a list": ("oops", "tool_calls.shape"),
    "double-encoded": ([call(arguments=json.dumps(json.dumps({"altitude": 1})))], "tool_calls.arguments"),
    "missing required key": ([call(arguments='{"unit": "ft"}')], "tool_calls.arguments"),
    "wrong type": ([call(arguments='{"altitude": "high"}')], "tool_calls.arguments"),
    "wrong tool type": ([{**call(), "type": "retrieval"}], "tool_calls.type"),
}


def _data(ds, bad: dict[str, Any] | None, *, content_key: bool) -> list[bytes]:
    lines = [ds.line(example([call()], content_key=content_key, i=i)) for i in range(30)]
    if bad is not None:
        lines.insert(4, ds.line(bad))
    return lines


@pytest.mark.parametrize("content_key", [False, True], ids=["no content key", "content null"])
@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_every_bad_tool_call_is_an_error_on_its_line_in_both_shapes(write_spec, ds, capsys, case: str,
                                                                      content_key: bool) -> None:
    calls, code = BAD_CALLS[case]
    loaded = write_spec(_data(ds, example(calls, content_key=content_key), content_key=content_key))
    rc = main(["validate", str(loaded.path)])
    out = capsys.readouterr().out
    assert rc == 2
    assert code in out and "data/train.jsonl:5: messages[1].tool_calls" in out


def test_the_content_less_shape_is_checked_exactly_as_the_content_null_shape(write_spec, ds) -> None:
    reports = []
    for content_key in (False, True):
        lines = _data(ds, None, content_key=content_key)
        for calls, _ in BAD_CALLS.values():
            lines.append(ds.line(example(calls, content_key=content_key, i=len(lines))))
        reports.append(preflight(write_spec(lines)))
    bare, null = reports
    assert [(f.line, f.code, f.field, f.message) for f in bare.findings] == \
           [(f.line, f.code, f.field, f.message) for f in null.findings]
    assert (bare.tokens, bare.trainable_tokens) == (null.tokens, null.trainable_tokens)
    assert bare.trainable_tokens > 0


def test_tool_results_must_answer_a_pending_call(write_spec, ds) -> None:
    rec = example([call()], content_key=False)
    rec["messages"][2]["tool_call_id"] = "call_9"
    report = preflight(write_spec(_data(ds, rec, content_key=False)))
    assert any(f.code == "tool.call_id" and f.line == 5 for f in report.errors())


def test_parallel_tool_calls_false_with_two_calls_in_one_turn_is_an_error(write_spec, ds) -> None:
    rec = example([call(), call(cid="call_2")], content_key=False, parallel_tool_calls=False)
    rec["messages"].insert(3, {"role": "tool", "tool_call_id": "call_2", "content": "{}"})
    report = preflight(write_spec(_data(ds, rec, content_key=False)))
    assert [f.code for f in report.errors()] == ["tool_calls.parallel"]


def test_parallel_tool_calls_false_is_not_an_error_for_a_provider_without_tools(write_spec, ds) -> None:
    lines = [ds.line({**ds.chat(f"Ticket {i} is about billing", "billing"), "parallel_tool_calls": False})
             for i in range(30)]
    report = preflight(write_spec(lines, base="gemini-2.5-flash"), ["vertex"])
    assert report.ok, [str(f) for f in report.errors()]


# -- counting -----------------------------------------------------------------------------------

def reference_num_tokens_for_tools(functions: list[dict[str, Any]], encoding: Any, gpt4o: bool) -> int:
    """The cookbook's num_tokens_for_tools (function-definition section), definitions only."""
    func_init, prop_init, prop_key, enum_init, enum_item, func_end = (7 if gpt4o else 10), 3, 3, -3, 3, 12
    func_token_count = 0
    if len(functions) > 0:
        for f in functions:
            func_token_count += func_init
            function = f["function"]
            f_name = function["name"]
            f_desc = function["description"]
            if f_desc.endswith("."):
                f_desc = f_desc[:-1]
            line = f_name + ":" + f_desc
            func_token_count += len(encoding.encode(line))
            if len(function["parameters"]["properties"]) > 0:
                func_token_count += prop_init
                for key in list(function["parameters"]["properties"].keys()):
                    func_token_count += prop_key
                    p_name = key
                    p_type = function["parameters"]["properties"][key]["type"]
                    p_desc = function["parameters"]["properties"][key]["description"]
                    if "enum" in function["parameters"]["properties"][key]:
                        func_token_count += enum_init
                        for item in function["parameters"]["properties"][key]["enum"]:
                            func_token_count += enum_item
                            func_token_count += len(encoding.encode(item))
                    if p_desc.endswith("."):
                        p_desc = p_desc[:-1]
                    line = f"{p_name}:{p_type}:{p_desc}"
                    func_token_count += len(encoding.encode(line))
        func_token_count += func_end
    return func_token_count


def reference_num_tokens_from_messages(messages: list[dict[str, Any]], encoding: Any) -> int:
    """The cookbook's message recipe: 3 per message, every value encoded, 1 per name, 3 to prime."""
    n = 0
    for m in messages:
        n += 3
        for key, value in m.items():
            n += len(encoding.encode(value if isinstance(value, str) else json.dumps(value)))
            if key == "name":
                n += 1
    return n + 3


def many_tools(k: int) -> list[dict[str, Any]]:
    tools = copy.deepcopy(TOOLS)
    for i in range(k):
        tools.append({"type": "function", "function": {
            "name": f"lookup_{i}", "description": f"Look up record kind {i} in the flight database.",
            "parameters": {"type": "object", "properties": {
                "id": {"type": "string", "description": "The record id."},
                "fields": {"type": "string", "description": "Comma-separated fields to return.",
                           "enum": ["all", "summary", "status"]}}}}})
    return tools


@pytest.mark.parametrize("k", [0, 3, 12])
def test_tool_definitions_are_counted_with_openais_recipe_within_2_percent(write_spec, ds, k: int) -> None:
    encoding, _ = load_encoding("cl100k_base")
    tools = many_tools(k)
    lines = [ds.line({"messages": [{"role": "user", "content": f"Flight {i}: what is our status?"},
                                   {"role": "assistant", "content": f"Flight {i} is on time."}], "tools": tools})
             for i in range(30)]
    report = preflight(write_spec(lines, base="gpt-3.5-turbo-0125"))
    want = sum(reference_num_tokens_from_messages(json.loads(b)["messages"], encoding)
               + reference_num_tokens_for_tools(tools, encoding, gpt4o=False) for b in lines)
    got = report.stats["train"]["tokens"]["total"]
    assert abs(got - want) <= 0.02 * want, (got, want)
    if k:  # counting the schema's JSON text (what preflight did before) is far off the recipe
        messages_only = sum(reference_num_tokens_from_messages(json.loads(b)["messages"], encoding) for b in lines)
        as_json = messages_only + len(lines) * len(encoding.encode(json.dumps(tools, separators=(",", ":"))))
        assert as_json > 1.1 * want
