"""Answering chat requests with a base model or base + adapter, loaded once per process; merged export.

Evals ask from several threads at once; one lock per loaded model serialises generation (a tiny or a
single-GPU model gains nothing from concurrent forward passes, and generate() is not re-entrant).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneops.provider import Completion


@dataclass
class LoadedModel:
    """A model ready to answer: weights, tokenizer and the lock its generate calls take."""

    model: Any
    tokenizer: Any
    lock: threading.Lock = field(default_factory=threading.Lock)


_loaded: dict[tuple[str, str | None], LoadedModel] = {}
_loading = threading.Lock()


def loaded(base_source: str, adapter_dir: str | None, *, threads: int = 2, allow_hub: bool = False) -> LoadedModel:
    """Base (+ adapter) loaded on first use in this process and kept."""
    key = (base_source, adapter_dir)
    with _loading:
        if key not in _loaded:
            from tuneops.providers.local import loading

            loading.go_private(allow_hub)
            import torch

            torch.set_num_threads(threads)
            tokenizer = loading.load_tokenizer(base_source)
            model = loading.load_model(base_source)
            if adapter_dir is not None:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, adapter_dir)
            if torch.cuda.is_available():
                model = model.to("cuda")
            model.eval()
            _loaded[key] = LoadedModel(model, tokenizer)
        return _loaded[key]


def answer(target: LoadedModel, messages: Sequence[Mapping[str, Any]], *, max_tokens: int = 256,
           temperature: float = 0.0) -> Completion:
    """One chat answer: greedy decoding unless a temperature above zero asks for sampling."""
    import torch

    from tuneops.providers.local.data import prompt_ids

    tok = target.tokenizer
    ids = prompt_ids(tok, [{"role": m.get("role"), "content": m.get("content") or ""} for m in messages])
    device = next(target.model.parameters()).device
    inputs = torch.tensor([ids], device=device)
    sample = temperature > 0
    with target.lock, torch.no_grad():
        out = target.model.generate(input_ids=inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=max_tokens,
                                    do_sample=sample, temperature=temperature if sample else None, top_p=None,
                                    top_k=None, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    new = out[0][len(ids):].tolist()
    return Completion(tok.decode(new, skip_special_tokens=True).strip(), len(ids), len(new))


def export_merged(base_source: str, adapter_dir: str, out_dir: Path) -> list[Path]:
    """Base weights with the adapter merged in, saved as safetensors with the tokenizer; returns the files."""
    from peft import PeftModel

    from tuneops.providers.local import loading

    loading.go_private(False)
    tokenizer = loading.load_tokenizer(base_source)
    model = PeftModel.from_pretrained(loading.load_model(base_source), adapter_dir).merge_and_unload()
    staging = out_dir.with_name(f".{out_dir.name}.tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging, safe_serialization=True)
    tokenizer.save_pretrained(staging)
    if out_dir.exists():
        out_dir.rmdir()  # the caller checked it is empty; never delete a user's files
    os.replace(staging, out_dir)
    return sorted(p for p in out_dir.iterdir() if p.is_file())
