"""Spec values checked against what each provider declares it accepts, before anything is admitted.

Every adapter's ``Capabilities`` carries ``limits`` (hyperparameter ranges, the validation minimum)
and, where the provider publishes it, the list of base models it tunes. A value outside them would
end as a failed run after an upload; here it is an error on the spec's line.
"""

from __future__ import annotations

from typing import Any

from tuneops.datasets.findings import Finding
from tuneops.spec import LoadedSpec, _find_line

_RANGED = ("seed", "epochs", "batch_size", "learning_rate_multiplier", "learning_rate")


def _num(v: float) -> str:
    return f"{v:,}" if isinstance(v, int) else f"{v:g}"


class SpecLocator:
    """Findings located at a field's line in the spec file."""

    def __init__(self, loaded: LoadedSpec):
        self.file = str(loaded.path)
        try:
            self.text = loaded.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            self.text = ""

    def error(self, code: str, field: str, message: str, severity: str = "error") -> Finding:
        """A finding on ``field``'s line (the file alone when the line cannot be found)."""
        line = _find_line(self.text, tuple(field.split("."))) if self.text else None
        return Finding(severity, code, self.file, line, field, message)  # type: ignore[arg-type]


def provider_value_findings(loaded: LoadedSpec, provider: str, caps: Any, n_train: int, n_val: int,
                            at: SpecLocator | None = None) -> list[Finding]:
    """Errors for spec values ``provider`` refuses: hyperparameters out of its declared ranges, a base
    model it does not list, too few validation examples."""
    if caps is None:
        return []
    at = at or SpecLocator(loaded)
    spec = loaded.spec
    out: list[Finding] = []
    limits = getattr(caps, "limits", None)
    hp = spec.hyperparameters
    for name in _RANGED:
        value = getattr(hp, name, None)
        bounds = getattr(limits, name, None) if limits is not None else None
        if bounds is None or value is None or value == "auto":
            continue
        lo, hi = bounds
        if not lo <= value <= hi:
            why = f"; source: {limits.source}" if getattr(limits, "source", "") else ""
            out.append(at.error("provider.hyperparameter", f"hyperparameters.{name}",
                                f"{provider} accepts {name} from {_num(lo)} to {_num(hi)}; got {_num(value)}{why}"))
    models = tuple(getattr(caps, "models", ()) or ())
    base = spec.model.base
    if models and base not in models and not base.startswith("ft:"):
        shown = ", ".join(models[:8]) + (f" and {len(models) - 8} more" if len(models) > 8 else "")
        # A warning: the lists on capabilities are not declared complete (a provider may tune more).
        out.append(at.error("provider.model", "model.base",
                            f"{provider} does not list {base!r} among the base models it tunes ({shown}); "
                            "it may refuse the job", severity="warning"))
    need = getattr(limits, "min_validation_examples", None) if limits is not None else None
    asked = spec.data.validation is not None or spec.data.validation_split is not None
    if need and asked and n_val < need:
        field = "data.validation_split" if spec.data.validation_split is not None else "data.validation"
        out.append(at.error("count.validation_min", field,
                            f"{provider} needs at least {need} validation examples; this leaves {n_val}"))
    return out
