"""A re-implementation of the OpenAI cookbook's chat fine-tuning data checks (the baseline).

Written from the description in reference/reliability.md §1: load every line into a list with
``json.loads``, run the format checks (counted per kind, no line numbers), then count tokens with
the 3-per-message recipe (every value encoded, roles included), count assistant tokens again
separately, print distributions and the epoch/billing estimate. Same passes, same work, same
encoding as the notebook; only the printing is reduced to a returned dict.
"""

from __future__ import annotations

import json
from collections import defaultdict

try:
    import numpy as np
except ImportError:  # the notebook uses numpy; the statistics module gives the same numbers here
    np = None

MAX_TOKENS_PER_EXAMPLE = 16385
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25


def run(path: str, encoding) -> dict:
    """All three passes of the notebook over ``path``; returns counts and the token total."""
    with open(path, encoding="utf-8") as f:
        dataset = [json.loads(line) for line in f]

    format_errors: dict[str, int] = defaultdict(int)
    for ex in dataset:
        if not isinstance(ex, dict):
            format_errors["data_type"] += 1
            continue
        messages = ex.get("messages", None)
        if not messages:
            format_errors["missing_messages_list"] += 1
            continue
        for message in messages:
            if "role" not in message or "content" not in message:
                format_errors["message_missing_key"] += 1
            if any(k not in ("role", "content", "name", "function_call", "weight") for k in message):
                format_errors["message_unrecognized_key"] += 1
            if message.get("role", None) not in ("system", "user", "assistant", "function"):
                format_errors["unrecognized_role"] += 1
            content = message.get("content", None)
            function_call = message.get("function_call", None)
            if (not content and not function_call) or not isinstance(content, str):
                format_errors["missing_content"] += 1
        if not any(message.get("role", None) == "assistant" for message in messages):
            format_errors["example_missing_assistant_message"] += 1

    def num_tokens_from_messages(messages, tokens_per_message=3, tokens_per_name=1):
        num_tokens = 0
        for message in messages:
            num_tokens += tokens_per_message
            for key, value in message.items():
                num_tokens += len(encoding.encode(value))
                if key == "name":
                    num_tokens += tokens_per_name
        num_tokens += 3
        return num_tokens

    def num_assistant_tokens_from_messages(messages):
        num_tokens = 0
        for message in messages:
            if message["role"] == "assistant":
                num_tokens += len(encoding.encode(message["content"]))
        return num_tokens

    n_missing_system = n_missing_user = 0
    n_messages, convo_lens, assistant_message_lens = [], [], []
    for ex in dataset:
        messages = ex["messages"]
        if not any(message["role"] == "system" for message in messages):
            n_missing_system += 1
        if not any(message["role"] == "user" for message in messages):
            n_missing_user += 1
        n_messages.append(len(messages))
        convo_lens.append(num_tokens_from_messages(messages))
        assistant_message_lens.append(num_assistant_tokens_from_messages(messages))

    dists = {name: _dist(values) for name, values in
             (("messages", n_messages), ("tokens", convo_lens), ("assistant_tokens", assistant_message_lens))}
    n_too_long = sum(n > MAX_TOKENS_PER_EXAMPLE for n in convo_lens)

    n_train = len(dataset)
    n_epochs = TARGET_EPOCHS
    if n_train * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        n_epochs = min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_train)
    elif n_train * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        n_epochs = max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_train)
    billing = sum(min(MAX_TOKENS_PER_EXAMPLE, n) for n in convo_lens)
    return {"examples": n_train, "errors": dict(format_errors), "missing_system": n_missing_system,
            "missing_user": n_missing_user, "too_long": n_too_long, "distributions": dists,
            "tokens": sum(convo_lens), "billing_tokens": billing, "epochs": n_epochs,
            "charged_tokens": n_epochs * billing}


def _dist(values: list[int]) -> dict:
    if np is not None:
        return {"min": int(min(values)), "max": int(max(values)), "mean": float(np.mean(values)),
                "median": float(np.median(values)), "p10": float(np.quantile(values, 0.1)),
                "p90": float(np.quantile(values, 0.9))}
    import statistics

    q = statistics.quantiles(values, n=10)
    return {"min": min(values), "max": max(values), "mean": statistics.fmean(values),
            "median": statistics.median(values), "p10": q[0], "p90": q[-1]}
