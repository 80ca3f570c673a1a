"""Bedrock hyperparameters are checked against the per-family tables before anything is sent."""

from __future__ import annotations

import pytest
from fakebedrock import NOVA, example_request

from tuneops.errors import UnsupportedOperation
from tuneops.provider import Hyperparameters
from tuneops.providers.bedrock import BedrockProvider
from tuneops.providers.bedrock.hyperparams import FAMILIES, family_of, hyperparameters

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
TITAN = "amazon.titan-text-express-v1:0:8k"
LLAMA = "meta.llama3-1-8b-instruct-v1:0:128k"


def test_portable_names_become_bedrock_strings() -> None:
    assert hyperparameters(NOVA, Hyperparameters(epochs=2, learning_rate=2e-5)) == {
        "epochCount": "2", "learningRate": "2e-05"}
    assert hyperparameters(HAIKU, Hyperparameters(epochs=4, batch_size=16, learning_rate_multiplier=1.5)) == {
        "epochCount": "4", "batchSize": "16", "learningRateMultiplier": "1.5"}


def test_provider_specific_names_come_from_options_and_are_checked() -> None:
    assert hyperparameters(NOVA, Hyperparameters(), {"learningRateWarmupSteps": 20}) == {
        "learningRateWarmupSteps": "20"}
    with pytest.raises(UnsupportedOperation, match="earlyStoppingPatience"):
        hyperparameters(NOVA, Hyperparameters(), {"earlyStoppingPatience": 2})
    with pytest.raises(UnsupportedOperation, match="set twice"):
        hyperparameters(NOVA, Hyperparameters(epochs=2), {"epochCount": 3})


@pytest.mark.parametrize(("base", "hp", "message"), [
    (NOVA, Hyperparameters(epochs=6), r"epochCount=6 is out of range; allowed 1 to 5"),
    (NOVA, Hyperparameters(learning_rate=1e-3), "learningRate"),
    (NOVA, Hyperparameters(learning_rate_multiplier=2.0), "takes an absolute learningRate"),
    (NOVA, Hyperparameters(batch_size=8), "does not take batchSize"),
    (HAIKU, Hyperparameters(learning_rate=1e-5), "takes learningRateMultiplier"),
    (HAIKU, Hyperparameters(batch_size=2), "batchSize=2 is out of range"),
    (TITAN, Hyperparameters(batch_size=128), "batchSize=128"),
    (LLAMA, Hyperparameters(batch_size=2), "batchSize=2"),
    (NOVA, Hyperparameters(seed=1), "seed"),
    (NOVA, Hyperparameters(beta=0.1), "beta"),
])
def test_values_a_model_cannot_take_are_refused_with_the_reason(base: str, hp: Hyperparameters, message: str) -> None:
    with pytest.raises(UnsupportedOperation, match=message):
        hyperparameters(base, hp)


def test_a_fractional_epoch_count_is_refused() -> None:
    with pytest.raises(UnsupportedOperation, match="whole number"):
        hyperparameters(NOVA, Hyperparameters(), {"epochCount": 2.5})


def test_an_unknown_model_takes_defaults_but_refuses_unchecked_values() -> None:
    assert hyperparameters("cohere.command-r-v1:0", Hyperparameters()) == {}
    with pytest.raises(UnsupportedOperation, match="no hyperparameter table"):
        hyperparameters("cohere.command-r-v1:0", Hyperparameters(epochs=2))


def test_families_are_recognised_from_ids_and_arns() -> None:
    assert family_of(f"arn:aws:bedrock:us-east-1::foundation-model/{NOVA}") is family_of(NOVA) is FAMILIES[0]
    assert family_of(HAIKU).name.startswith("Anthropic")  # type: ignore[union-attr]
    assert family_of(LLAMA).formats == ("bedrock_conversation", "bedrock_prompt_completion")  # type: ignore[union-attr]


def test_a_prompt_completion_model_needs_the_matching_data_format(make_bedrock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnsupportedOperation, match='data_format = "bedrock_prompt_completion"'):
        make_bedrock().create_body(example_request(TITAN))
    titan = make_bedrock(data_format="bedrock_prompt_completion")
    assert titan.capabilities.data_format == "bedrock_prompt_completion"
    assert titan.create_body(example_request(TITAN))["baseModelIdentifier"] == TITAN
    lines = list(titan.prepare([{"messages": [{"role": "user", "content": "q"},
                                              {"role": "assistant", "content": "a"}]}], "sft"))
    assert lines == [b'{"prompt":"q","completion":"a"}\n']
    assert BedrockProvider.capabilities.data_format == "bedrock_conversation"  # the class default is untouched


def test_preference_tuning_is_refused(bedrock: BedrockProvider) -> None:
    from dataclasses import replace

    with pytest.raises(UnsupportedOperation, match="method 'dpo'"):
        bedrock.create_body(replace(example_request(), method="dpo"))
