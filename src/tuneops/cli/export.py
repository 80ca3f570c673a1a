"""`tuneops export MODEL --merged DIR`: a local model's adapter merged into its base, as safetensors."""

from __future__ import annotations

from pathlib import Path

import typer

from tuneops.cli import state


def _refused() -> type[Exception]:
    from tuneops.errors import TuneopsError

    class ExportRefused(TuneopsError):
        """A user error: nothing was written."""

        exit_code = 2

    return ExportRefused


def register(app: typer.Typer) -> None:
    """Add the export command."""
    app.command("export")(export)


def export(
    model: str = typer.Argument(..., help="A local model: its id (local:<job>:<sha256>), an alias (job@name) "
                                "or a run id."),
    merged: Path = typer.Option(..., "--merged", help="Write the merged weights (safetensors) and tokenizer "
                                "to this new or empty directory.", show_default=False),
) -> None:
    """Merge a local model's LoRA adapter into its base model and save it for serving elsewhere."""
    from tuneops import models, registry
    from tuneops.provider import ProviderConfig

    refused = _refused()

    with state.store().read() as s:
        row = models.find_model(s, model)
        target = models.target_for(s, row) if row is not None else None
    if target is None and not model.startswith("local:"):
        raise models.ModelNotFound(f"no model, alias or run {model!r} in this ledger; `tuneops models list` "
                                   "shows them")
    if target is not None and target.provider != "local":
        raise refused(f"{model} is a {target.provider} model: its weights stay at {target.provider}; "
                           "export --merged takes models trained by the local provider")
    if merged.exists() and (not merged.is_dir() or any(merged.iterdir())):
        raise refused(f"--merged {merged}: exists and is not an empty directory; name a new directory "
                           "(nothing was written)")
    model_id = target.model if target is not None else model
    provider = registry.create("local", ProviderConfig(options=dict(target.options) if target else {}))
    out = state.console()
    out.print(f"merging {model_id} into its base model ...", markup=False)
    files = provider.export_merged(model_id, merged)  # type: ignore[attr-defined]
    for path in files:
        out.print(f"wrote {path} ({path.stat().st_size:,} bytes)", markup=False)
    out.print(f"serve it with any transformers-compatible server, e.g. AutoModelForCausalLM.from_pretrained("
              f"{str(merged)!r})", markup=False)
