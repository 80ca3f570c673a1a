"""Converters: golden files per provider format, each line checked against the provider's documented shape.

Shapes are checked twice: by strict models written from the providers' docs (reference/providers.md),
and, where the SDK is installed, by the SDK's own types (openai TypedDicts, google-genai Content,
botocore's Converse model, mistralai messages). Regenerate goldens with TUNEOPS_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any, Literal

import orjson
import pytest
from pydantic import BaseModel, ConfigDict, TypeAdapter

from tuneops.datasets.convert import FORMATS, ConversionError, convert, convert_record, problems

GOLDEN = Path(__file__).with_name("golden")

SYSTEM = {"role": "system", "content": "You sort support tickets."}
TOOLS = [{"type": "function", "function": {
    "name": "lookup", "description": "Find a ticket",
    "parameters": {"type": "object", "properties": {"id": {"type": "integer"}}}}}]
CANONICAL: dict[str, dict[str, Any]] = {
    "simple": {"messages": [SYSTEM, {"role": "user", "content": "I was charged twice"},
                            {"role": "assistant", "content": "billing"}]},
    "multi_turn_weight": {"messages": [SYSTEM, {"role": "user", "content": "Hi"},
                                       {"role": "assistant", "content": "Hello! What happened?", "weight": 0},
                                       {"role": "user", "content": "The app crashes on login"},
                                       {"role": "assistant", "content": "bug", "weight": 1}]},
    "tools": {"messages": [SYSTEM, {"role": "user", "content": "Status of ticket 7?"},
                           {"role": "assistant", "content": None, "tool_calls": [
                               {"id": "call_1", "type": "function",
                                "function": {"name": "lookup", "arguments": "{\"id\": 7}"}}]},
                           {"role": "tool", "tool_call_id": "call_1", "content": "{\"status\": \"open\"}"},
                           {"role": "assistant", "content": "Ticket 7 is open."}],
              "tools": TOOLS},
    "single_turn": {"messages": [{"role": "user", "content": "Translate 'bonjour'"},
                                 {"role": "assistant", "content": "hello"}], "id": "kept-out"},
    "preference": {"input": {"messages": [SYSTEM, {"role": "user", "content": "My card was declined"}]},
                   "preferred_output": [{"role": "assistant", "content": "billing"}],
                   "non_preferred_output": [{"role": "assistant", "content": "bug"}]},
}
CAN = {  # which canonical records each format can express
    "openai_chat": {"simple", "multi_turn_weight", "tools", "single_turn", "preference"},
    "mistral_chat": {"simple", "multi_turn_weight", "tools", "single_turn"},
    "gemini": {"simple", "single_turn", "preference"},
    "bedrock_conversation": {"simple", "single_turn"},
    "bedrock_prompt_completion": {"single_turn"},
}


# -- strict shapes written from the providers' documentation -------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OAIFunction(_Strict):
    name: str
    arguments: str


class OAIToolCall(_Strict):
    id: str
    type: Literal["function"]
    function: OAIFunction


class OAIMessage(_Strict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None
    weight: Literal[0, 1] | None = None
    tool_calls: list[OAIToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None


class OAIChat(_Strict):
    messages: list[OAIMessage]
    tools: list[dict[str, Any]] | None = None
    parallel_tool_calls: bool | None = None


class OAIInput(_Strict):
    messages: list[OAIMessage]
    tools: list[dict[str, Any]] | None = None


class OAIAssistant(OAIMessage):
    role: Literal["assistant"]


class OAIPreference(_Strict):
    input: OAIInput
    preferred_output: list[OAIAssistant]
    non_preferred_output: list[OAIAssistant]


class GPart(_Strict):
    text: str


class GContent(_Strict):
    role: Literal["user", "model"]
    parts: list[GPart]


class GSystem(_Strict):
    role: str | None = None
    parts: list[GPart]


class GeminiSFT(_Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    systemInstruction: GSystem | None = None
    contents: list[GContent]


class GCompletion(_Strict):
    score: Literal[0, 1]
    completion: GContent


class GeminiPreference(_Strict):
    system_instruction: GSystem | None = None
    contents: list[GContent]
    completions: list[GCompletion]


class BText(_Strict):
    text: str


class BMessage(_Strict):
    role: Literal["user", "assistant"]
    content: list[BText]


class BedrockConversation(_Strict):
    schemaVersion: Literal["bedrock-conversation-2024"]
    system: list[BText] | None = None
    messages: list[BMessage]


class PromptCompletion(_Strict):
    prompt: str
    completion: str


def check_documented_shape(fmt: str, method: str, obj: dict[str, Any]) -> None:
    """Raise if ``obj`` is not the provider's documented line shape (plus the rules around it)."""
    if fmt in ("openai_chat", "mistral_chat"):
        if method == "dpo":
            OAIPreference.model_validate(obj)
        else:
            OAIChat.model_validate(obj)
    elif fmt == "gemini":
        if method == "dpo":
            g = GeminiPreference.model_validate(obj)
            assert g.contents[-1].role == "user" and sorted(c.score for c in g.completions) == [0, 1]
        else:
            GeminiSFT.model_validate(obj)
    elif fmt == "bedrock_conversation":
        b = BedrockConversation.model_validate(obj)
        roles = [m.role for m in b.messages]
        assert roles[0] == "user" and roles[-1] == "assistant"
        assert all(x != y for x, y in itertools.pairwise(roles)), "turns must alternate"
    else:
        PromptCompletion.model_validate(obj)


def check_sdk_shape(fmt: str, method: str, obj: dict[str, Any]) -> None:
    """Validate with the provider SDK's own types where they are installed."""
    if fmt == "openai_chat":
        from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

        msgs = obj["input"]["messages"] + obj["preferred_output"] if method == "dpo" else obj["messages"]
        for m in msgs:
            TypeAdapter(ChatCompletionMessageParam).validate_python({k: v for k, v in m.items() if k != "weight"})
        for t in obj.get("tools", []):
            TypeAdapter(ChatCompletionToolParam).validate_python(t)
    elif fmt == "gemini":
        types = pytest.importorskip("google.genai.types")
        for c in obj["contents"]:
            types.Content.model_validate(c)
        for key in ("systemInstruction", "system_instruction"):
            if key in obj:
                types.Content.model_validate(obj[key])
        for c in obj.get("completions", []):
            types.Content.model_validate(c["completion"])
    elif fmt == "bedrock_conversation":
        botocore_session = pytest.importorskip("botocore.session")
        from botocore.validate import ParamValidator

        shape = botocore_session.get_session().get_service_model("bedrock-runtime").operation_model("Converse")
        params = {"modelId": "m", "messages": obj["messages"], **({"system": obj["system"]} if "system" in obj else {})}
        report = ParamValidator().validate(params, shape.input_shape)
        assert not report.has_errors(), report.generate_report()
    elif fmt == "mistral_chat":
        models = pytest.importorskip("mistralai.models")
        for m in obj["messages"]:
            TypeAdapter(models.Messages).validate_python({k: v for k, v in m.items() if k != "weight"})


def _method(name: str) -> str:
    return "dpo" if name == "preference" else "sft"


@pytest.mark.parametrize("fmt", FORMATS)
def test_converted_files_match_golden_and_documented_shapes(fmt: str) -> None:
    lines = []
    for name in sorted(CAN[fmt]):
        out = list(convert([CANONICAL[name]], fmt, _method(name)))
        assert len(out) == 1 and out[0].endswith(b"\n")
        obj = orjson.loads(out[0])
        check_documented_shape(fmt, _method(name), obj)
        check_sdk_shape(fmt, _method(name), obj)
        lines.append(json.dumps({"record": name, "line": obj}, sort_keys=True))
    golden = GOLDEN / f"{fmt}.jsonl"
    text = "\n".join(lines) + "\n"
    if os.environ.get("TUNEOPS_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert golden.read_text() == text


@pytest.mark.parametrize("fmt", FORMATS)
def test_features_a_format_cannot_express_are_errors_not_drops(fmt: str) -> None:
    for name in sorted(set(CANONICAL) - CAN[fmt]):
        record = CANONICAL[name]
        assert problems(record, fmt), f"{fmt} should report a problem for {name}"
        ok = [CANONICAL[n] for n in sorted(CAN[fmt]) if _method(n) == _method(name)][:1]
        with pytest.raises(ConversionError) as info:
            list(convert([*ok, record], fmt, _method(name)))
        assert info.value.index == len(ok) + 1  # names the record that could not be converted


def test_openai_round_trip_keeps_every_canonical_field_except_private_keys() -> None:
    for name in ("simple", "multi_turn_weight", "tools"):
        assert convert_record(CANONICAL[name], "openai_chat", "sft") == CANONICAL[name]
    single = convert_record(CANONICAL["single_turn"], "openai_chat", "sft")
    assert "id" not in single and single["messages"] == CANONICAL["single_turn"]["messages"]


def test_gemini_maps_roles_and_system_instruction() -> None:
    out = convert_record(CANONICAL["simple"], "gemini", "sft")
    assert out["systemInstruction"]["parts"] == [{"text": "You sort support tickets."}]
    assert [c["role"] for c in out["contents"]] == ["user", "model"]


def test_method_and_record_kind_must_agree() -> None:
    with pytest.raises(ConversionError, match="method dpo needs preference records"):
        convert_record(CANONICAL["simple"], "openai_chat", "dpo")
    with pytest.raises(ConversionError, match="unknown data format"):
        convert_record(CANONICAL["simple"], "parquet", "sft")
