"""Tokens of tool (function) definitions, counted with OpenAI's documented recipe.

The recipe is the function-definition section of the OpenAI cookbook "How to count tokens with
tiktoken" (``num_tokens_for_tools``): the model sees each function as ``name:description`` and each
property as ``name:type:description`` plus fixed per-function, per-property and per-enum-item
overheads, not as the JSON text of the schema (which counts about 40% more). Definitions the recipe
does not describe (a missing description, a property without a type, nested schemas) are counted
as the recipe would count their nearest well-formed shape: missing text counts as empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (func_init, prop_init, prop_key, enum_init, enum_item, func_end), from the cookbook's table:
# gpt-4o and gpt-4o-mini (o200k_base), and gpt-3.5-turbo and gpt-4 (cl100k_base).
O200K = (7, 3, 3, -3, 3, 12)
CL100K = (10, 3, 3, -3, 3, 12)


def constants_for(encoding: str | None) -> tuple[int, int, int, int, int, int]:
    """The recipe's overheads for a model's encoding (the gpt-4o values for everything newer)."""
    return CL100K if encoding == "cl100k_base" else O200K


def _text(value: Any) -> str:
    return value if type(value) is str else ""


def _function(tool: Any) -> dict[str, Any] | None:
    """The function object of a ``tools`` entry or of a deprecated ``functions`` entry."""
    if type(tool) is not dict:
        return None
    fn = tool.get("function")
    if type(fn) is dict:
        return fn
    return tool if "name" in tool else None


def tool_tokens(tools: Any, count: Callable[[str], int], constants: tuple[int, ...] = O200K) -> int:
    """Tokens of a ``tools`` (or ``functions``) list; 0 for an empty or malformed list."""
    if type(tools) is not list or not tools:
        return 0
    func_init, prop_init, prop_key, enum_init, enum_item, func_end = constants
    total = 0
    for tool in tools:
        fn = _function(tool)
        if fn is None:
            continue
        total += func_init
        desc = _text(fn.get("description")).removesuffix(".")
        total += count(f"{_text(fn.get('name'))}:{desc}")
        params = fn.get("parameters")
        props = params.get("properties") if type(params) is dict else None
        if type(props) is not dict or not props:
            continue
        total += prop_init
        for key, prop in props.items():
            total += prop_key
            prop = prop if type(prop) is dict else {}
            ptype = prop.get("type", "")
            ptype = ptype if type(ptype) is str else str(ptype)
            enum = prop.get("enum")
            if type(enum) is list:
                total += enum_init
                for item in enum:
                    total += enum_item + count(item if type(item) is str else str(item))
            pdesc = _text(prop.get("description")).removesuffix(".")
            total += count(f"{key}:{ptype}:{pdesc}")
    return total + func_end
