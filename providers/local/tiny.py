"""A tiny causal LM built from a config (no download): for tests, benchmarks and `quickstart --provider local`.

It is a randomly initialised Llama-architecture model of ~100k parameters with a byte-level tokenizer
and a ChatML-style chat template, saved with ``save_pretrained`` so the provider loads it through its
ordinary loading code. It knows nothing until a LoRA adapter teaches it; that is the point of a base.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIALS = ("<|bos|>", "<|pad|>", "<|im_start|>", "<|im_end|>")


def byte_tokenizer() -> object:
    """A byte-level tokenizer (256 byte tokens, no merges) with ChatML specials and a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<|bos|>", eos_token="<|im_end|>",
                                  pad_token="<|pad|>", additional_special_tokens=["<|im_start|>"])
    tok.chat_template = CHAT_TEMPLATE
    return tok


def build_tiny_model(directory: Path, *, hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    """Write a tiny random Llama and its byte-level tokenizer to ``directory``; returns it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tuneops.providers.local.loading import quiet

    quiet()
    tok = byte_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=4,
                         max_position_embeddings=512, tie_word_embeddings=False,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tok.pad_token_id
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory
