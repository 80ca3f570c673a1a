"""One dataset with one defect of each kind: preflight names every one at the right line and severity."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tuneops import registry
from tuneops.cli import main
from tuneops.datasets.preflight import preflight
from tuneops.provider import Capabilities

S = "You sort support tickets into billing or bug."


def j(obj: Any) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def ex(*msgs: dict[str, Any], system: bool = True, **top: Any) -> bytes:
    head = [{"role": "system", "content": S}] if system else []
    return j({"messages": [*head, *msgs], **top})


def u(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def a(text: str, **kw: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": text, **kw}


def filler(i: int) -> bytes:
    """A clean classification example; replies are imbalanced on purpose (90 billing, 6 bug)."""
    return ex(u(f"Ticket {i}: I was charged {i * 3} euros for plan {i % 7}."), a("bug" if i % 16 == 0 else "billing"))


CALL = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"ticket": 7}'}}
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]

# (line bytes, expected findings on that line as (severity, code)); line numbers follow list order.
DEFECTS: list[tuple[bytes, set[tuple[str, str]]]] = [
    (b"\xef\xbb\xbf" + filler(1000), {("warning", "encoding.bom")}),
    (filler(1001)[:-1] + b"\r\n", set()),  # CRLF: reported once for the file
    (b'{"messages": [{"role": "user", "content": "caf\xe9"}]}\n', {("error", "encoding.utf8")}),
    (b'{"messages": [\n', {("error", "json.invalid")}),
    (b"\n", {("warning", "json.blank")}),
    (b"[1, 2]\n", {("error", "json.not_object")}),
    (j({"prompt": "hi", "completion": "billing"}), {("error", "format.unknown")}),
    (j({"messages": "hi"}), {("error", "messages.type")}),
    (ex({"content": "who am I"}, a("billing")), {("error", "message.role_missing")}),
    (ex({"role": "bot", "content": "beep"}, a("billing")), {("error", "message.role_unknown")}),
    (ex(u("   "), a("billing")), {("error", "message.content_empty")}),
    (ex(u("Ticket without answer")), {("error", "example.no_assistant")}),
    (ex(u("Ticket nobody trains on"), a("billing", weight=0)), {("error", "example.not_trainable")}),
    (ex(u("Ticket with a weight of two"), a("billing", weight=2)), {("error", "weight.value")}),
    (ex({"role": "user", "content": "User turn with weight", "weight": 1}, a("billing")),
     {("error", "weight.role")}),
    (ex(u("Look up ticket 7"), {"role": "assistant", "content": None, "tool_calls": [
        {**CALL, "function": {"name": "lookup", "arguments": "{not json"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{}"}, a("billing"), tools=TOOLS),
     {("error", "tool_calls.arguments")}),
    (ex(u("Ticket 8"), {"role": "tool", "tool_call_id": "call_9", "content": "{}"}, a("billing")),
     {("error", "tool.call_id")}),
    (ex(u("Ticket with broken tools"), a("billing"), tools=[{"type": "function"}]), {("error", "tools.shape")}),
    (ex({"role": "user", "content": "Ticket with a mood", "mood": "sad"}, a("billing")),
     {("warning", "message.unknown_key")}),
    (ex(u("First question"), a("billing"), {"role": "system", "content": "Be brief."}, u("Second question"),
        a("billing")), {("warning", "order.system_late")}),
    (ex(a("How can I help?"), u("My card was charged twice"), a("billing")), {("warning", "order.first_not_user")}),
    (ex(u("Hello"), u("My card was charged three times"), a("billing")), {("warning", "order.consecutive")}),
    (ex(u("Charged again"), a("billing"), u("Thanks")), {("warning", "order.last_not_assistant")}),
    (ex(u("My invoice says <|endoftext|> at the bottom"), a("billing")), {("warning", "message.special_token")}),
    (ex(u("word " * 4300), a("billing")), {("warning", "tokens.too_long")}),
    (filler(1000), {("warning", "dup.exact")}),  # same as line 1 (whose BOM is not content)
    (ex(u("  TICKET 1001: I WAS charged 3003 euros for plan 0. "), a("Billing")), {("warning", "dup.near")}),
    (ex(u("Ticket with no system prompt"), a("billing"), system=False), {("warning", "system.missing")}),
    (j({"input": {"messages": [{"role": "system", "content": S}, u("Which queue?")]},
        "preferred_output": [a("billing")], "non_preferred_output": [a("bug")]}), {("error", "format.method")}),
    (ex({"role": "function", "name": "lookup", "content": "{}"}, u("and?"), a("billing")),
     {("warning", "message.role_soft")}),
    (ex({"role": "user", "content": [{"type": "text", "text": "See the screenshot"},
                                     {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]},
        a("billing")), {("info", "message.image")}),
    # Clean lines the cookbook would flag or crash on: a tool-call turn with null content, weight 1.
    (ex(u("Look up ticket 9"), {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"queue": "billing"}'}, a("billing", weight=1),
        tools=TOOLS), set()),
]
N_FILLER = 96

# Dataset-level findings (no line): severity, code.
DATASET_LEVEL = {("warning", "encoding.crlf"), ("warning", "label.imbalance"), ("warning", "label.variants"),
                 ("warning", "count.recommended"), ("error", "file.too_large")}


class TinyBox:
    """A provider whose upload limit is smaller than the fixture file."""

    name = "tinybox"
    capabilities = Capabilities(methods=frozenset({"sft"}), max_upload_bytes=8_000, min_examples=10)


@pytest.fixture
def tinybox() -> Iterator[None]:
    undo = registry.register("tinybox", TinyBox)  # type: ignore[arg-type]
    yield
    undo()


def _fixture() -> tuple[bytes, dict[int, set[tuple[str, str]]]]:
    lines = [d[0] for d in DEFECTS] + [filler(i) for i in range(N_FILLER)]
    expected = {i + 1: d[1] for i, d in enumerate(DEFECTS)}
    return b"".join(lines), expected


def test_every_defect_is_reported_at_its_line_with_its_severity(write_spec, tinybox) -> None:
    data, expected = _fixture()
    loaded = write_spec(data, base="gpt-3.5-turbo-0613")
    report = preflight(loaded, ["sandbox", "tinybox"])

    found: dict[int | None, set[tuple[str, str]]] = {}
    for f in report.findings:
        if f.file != str(loaded.path):  # the spec's own findings (a model the sandbox does not list)
            found.setdefault(f.line, set()).add((f.severity, f.code))
    for lineno, want in expected.items():
        assert found.get(lineno, set()) == want, f"line {lineno}: {found.get(lineno)} != {want}"
    assert found.get(None, set()) == DATASET_LEVEL
    # The spec's own finding: the sandbox tunes sandbox-* models, not gpt-3.5-turbo.
    assert ("warning", "model.unknown_base") in {(f.severity, f.code) for f in report.findings
                                                  if f.file == str(loaded.path)}
    filler_lines = set(range(len(DEFECTS) + 1, len(DEFECTS) + N_FILLER + 1))
    assert not filler_lines & set(found), "clean lines got findings"
    assert not report.ok


def test_finding_text_is_file_line_field_message(write_spec, tinybox) -> None:
    data, _ = _fixture()
    report = preflight(write_spec(data, base="gpt-3.5-turbo-0613"), ["sandbox", "tinybox"])
    weight = next(f for f in report.findings if f.code == "weight.value")
    assert str(weight) == "data/train.jsonl:14: messages[2].weight: weight must be 0 or 1; got 2"
    crlf = next(f for f in report.findings if f.code == "encoding.crlf")
    assert crlf.line is None and "1 line(s)" in crlf.message
    too_long = next(f for f in report.findings if f.code == "tokens.too_long")
    assert "4,096-token" in too_long.message


def test_cli_exits_2_on_errors_and_prints_them_grouped(write_spec, tinybox, capsys) -> None:
    data, _ = _fixture()
    loaded = write_spec(data, base="gpt-3.5-turbo-0613")
    rc = main(["validate", str(loaded.path), "--providers", "sandbox,tinybox"])
    out = capsys.readouterr().out
    assert rc == 2
    assert "data/train.jsonl:14: messages[2].weight: weight must be 0 or 1; got 2" in out
    assert "weight.value" in out and "error(s)" in out


def test_cli_json_lists_every_finding(write_spec, tinybox, capsys) -> None:
    data, expected = _fixture()
    loaded = write_spec(data, base="gpt-3.5-turbo-0613")
    rc = main(["validate", str(loaded.path), "--providers", "sandbox,tinybox", "--json", "--max-findings", "1"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 2
    lines = {f["line"] for f in report["findings"]}
    assert {n for n, want in expected.items() if want} <= lines
    assert report["counts"]["error"] == sum(1 for f in report["findings"] if f["severity"] == "error")


def test_warnings_alone_exit_zero(write_spec, capsys) -> None:
    lines = [filler(i) for i in range(40)] + [filler(3)]  # a duplicate and few examples: warnings only
    loaded = write_spec(b"".join(lines))
    assert main(["validate", str(loaded.path)]) == 0
    out = capsys.readouterr().out
    assert "dup.exact" in out and "0 error(s)" in out


def test_min_examples_per_provider_is_an_error(write_spec) -> None:
    loaded = write_spec(b"".join(filler(i) for i in range(5)))
    report = preflight(loaded, ["sandbox", "fireworks", "together"])
    mins = {f.message.split(" ")[0] for f in report.findings if f.code == "count.min"}
    assert mins == {"sandbox"}  # sandbox needs 10; fireworks 3 and together 1 are satisfied
    assert any(f.code == "count.few" and f.severity == "warning" for f in report.findings)


def test_validation_overlap_points_at_both_files(write_spec) -> None:
    train = [filler(i) for i in range(30)]
    valid = [ex(u(f"Validation ticket {i}"), a("billing")) for i in range(5)] + [filler(7)]
    report = preflight(write_spec(train, valid))
    overlap = [f for f in report.findings if f.code == "overlap.validation"]
    assert [(f.file, f.line, f.severity) for f in overlap] == [("data/valid.jsonl", 6, "warning")]
    assert "training line 8" in overlap[0].message


def test_conversion_problems_are_errors_for_the_provider_that_cannot_express_them(write_spec) -> None:
    lines = [filler(i) for i in range(20)]
    lines.append(ex(u("Look up ticket 9"), {"role": "assistant", "content": None, "tool_calls": [CALL]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "{}"}, a("billing"), tools=TOOLS))
    report = preflight(write_spec(lines, base="amazon.nova-lite-v1:0"), ["sandbox", "bedrock"])
    conv = [f for f in report.findings if f.code.startswith("convert.")]
    assert conv and all(f.severity == "error" and f.line == 21 for f in conv)
    assert all(f.message.startswith("bedrock: ") for f in conv)
    assert {f.code for f in conv} == {"convert.bedrock_conversation"}


def test_a_single_reply_for_every_example_is_flagged(write_spec) -> None:
    lines = [ex(u(f"Ticket {i} about an invoice"), a("billing")) for i in range(30)]
    report = preflight(write_spec(lines))
    assert any(f.code == "label.single" and f.severity == "warning" for f in report.findings)
    assert report.stats["train"]["classes"] == {"billing": 30}
