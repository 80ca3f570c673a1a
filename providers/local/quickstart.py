"""`tuneops quickstart --provider local`: the example project switched to the local provider on a tiny model.

There is no hub to download a base model from, so the quickstart builds a tiny random model
(``tiny.py``) in the project; with it the LoRA adapter must learn the triage labels from scratch,
which takes a higher learning rate, a few hundred steps and training the embeddings and output layer.
A real base model needs none of those lines: the switch is ``provider = "local"`` plus
``[options.local] base_model_dir``.
"""

from __future__ import annotations

import re
from pathlib import Path

from tuneops.providers.local import loading

TINY_DIR = Path("models") / "tiny-chat"

# Only because the tiny base is random: a pretrained base trains with the defaults.
TINY_OPTIONS = """
[options.local]
base_model_dir = "models/tiny-chat"  # relative paths start at the project directory
modules_to_save = ["lm_head", "embed_tokens"]
max_steps = 400
eval_every = 20
threads = 1
"""


def switch_to_local(spec_text: str, options: str = TINY_OPTIONS) -> str:
    """The example spec with ``provider = "local"`` and an ``[options.local]`` table (and tiny-model settings)."""
    text = re.sub(r'(?m)^provider = "sandbox".*$', 'provider = "local"', spec_text)
    text = re.sub(r'(?m)^base = "sandbox-mini"$', 'base = "tiny-chat"', text)
    text = text.replace('learning_rate_multiplier = "auto"', "learning_rate = 0.003")
    text = text.replace('metrics = ["exact_match", "label_accuracy"]',
                        'metrics = ["exact_match", "label_accuracy"]\nmax_tokens = 12')
    return text.replace("\n[data]", options + "\n[data]", 1)


def prepare(jobs: Path) -> Path:
    """Build the tiny model next to ``jobs`` and switch the example spec to the local provider; returns the spec."""
    loading.require_packages()
    loading.go_private(False)
    from tuneops.providers.local.tiny import build_tiny_model

    build_tiny_model(jobs.parent / TINY_DIR)
    spec = jobs / "support-triage.toml"
    spec.write_text(switch_to_local(spec.read_text(encoding="utf-8")), encoding="utf-8")
    return spec
