"""The serving lifecycle driven as a user drives it, shared by the per-provider tests (loaded by path):
a job spec switched to a provider, submit, follow to succeeded, deploy, eval through the deployment,
promote, undeploy; and a crash injected during deploy, then a restart."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

EVAL_EXAMPLES = 90  # lines of the example project's eval set


def load() -> Any:
    """This module as ``servingflow`` (test directories are not packages)."""
    if "servingflow" not in sys.modules:
        spec = importlib.util.spec_from_file_location("servingflow", Path(__file__))
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["servingflow"] = module
        spec.loader.exec_module(module)
    return sys.modules["servingflow"]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def write_job(project: Path, *, provider: str, base: str, options: dict[str, Any] | None = None,
              serve: dict[str, Any] | None = None, budget: dict[str, Any] | None = None) -> Path:
    """The example spec switched to ``provider`` (the one-line switch plus its options), promoting on
    the first eval (no beat_base), with ``[serve]`` and ``[budget]`` as given."""
    text = project.read_text()
    text = re.sub(r'(?m)^provider = .*$', f'provider = "{provider}"', text, count=1)
    text = re.sub(r'(?m)^base = .*$', f'base = "{base}"', text, count=1)
    text = re.sub(r'(?m)^learning_rate_multiplier = .*\n', "", text)
    text = re.sub(r'(?m)^seed = .*\n', "", text)
    text = text.replace("beat_base = true", "beat_base = false").replace("margin = 0.02", "margin = 0.0")
    text = re.split(r"(?m)^\[(?:budget|serve|options\.[^\]]+)\]", text)[0]  # what an earlier call appended
    for table, values in ((f"options.{provider}", options), ("serve", serve), ("budget", budget)):
        if values:
            text += f"\n[{table}]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in values.items())
    project.write_text(text)
    return project


def submit_and_finish(orch: Any, spec_path: Path, *, on_created: Any = None, rounds: int = 20) -> Any:
    """Submit the spec and poll until the run is terminal; ``on_created(run)`` steers the fake first."""
    from tuneops import spec as specmod
    from tuneops.store import queries

    run = orch.submit(specmod.load(spec_path))
    assert run.provider_job_id, (run.state, run.error_message)
    if on_created is not None:
        on_created(run)
    for _ in range(rounds):
        run = orch.advance(run)
        if run.state in queries.TERMINAL_STATES:
            break
    assert run.state == "succeeded", (run.state, run.error_message)
    return run


def after_success(orch: Any, spec_path: Path, run: Any) -> Any:
    """The step `submit --watch` / `sync` take after success: deploy, eval through it, promote."""
    from tuneops import spec as specmod
    from tuneops.evals.flow import after_success as flow

    return flow(orch, specmod.load(spec_path), run)


class Crash(BaseException):
    """Stands in for SIGKILL at a crash point (in-process, so the fakes keep their state)."""


def crash_at(monkeypatch: Any, name: str) -> None:
    """Make ``crash.point(name)`` raise Crash (once)."""
    from tuneops.runs import crash

    real = crash.point
    fired: list[str] = []

    def point(n: str) -> None:
        if n == name and not fired:
            fired.append(n)
            raise Crash(n)
        real(n)

    monkeypatch.setattr(crash, "point", point)


def audit_actions(store: Any, prefix: str = "deployment.") -> list[str]:
    """The audit trail's deployment actions, oldest first."""
    from sqlalchemy import select

    from tuneops.store.tables import AuditEventRow

    with store.read() as s:
        rows = s.exec(select(AuditEventRow).order_by(AuditEventRow.seq)).scalars().all()  # type: ignore
    return [r.action for r in rows if r.action.startswith(prefix)]


def tally(requests: Any, shorten: Any = None) -> dict[str, int]:
    """How many requests of each kind a respx router saw: ``"POST /deployments"`` -> count, with ids
    (anything after the collection name) cut by ``shorten(path)`` when given."""
    out: dict[str, int] = {}
    for call in requests:
        path = call.request.url.path
        key = f"{call.request.method} {shorten(path) if shorten else path}"
        out[key] = out.get(key, 0) + 1
    return out
