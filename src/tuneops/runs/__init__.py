"""A run's lifecycle: intent -> admit -> upload -> create -> sync -> deploy -> finish, and following it.

- ``orchestrator``: the steps, each idempotent and recorded before the next; ``tracking``: statuses,
  events, metrics and checkpoints into the ledger; ``polling``: batched, backed-off polls;
  ``webhooks``: provider callbacks; ``crash``: injected crash points for tests; ``curves``: loss curves;
  ``intent``: the intent key; ``submission``: submit by intent, abandon; ``uploads``: verified uploads;
  ``plan``: what a submit would do; ``problems``: race-safe writes and messages for runs left behind.

Intent rules (what ``tuneops submit`` promises):

- A run's *intent* is (job name, the spec content that affects training, the dataset snapshots'
  sha256s, provider, provider endpoint/account, base model). There is at most one run per intent
  unless the user asks for another with ``--again --reason TEXT``.
- An unfinished run of the same intent (admitted, failed before the provider accepted a job,
  submitting, in flight) is resumed or attached to under the same run id and idempotency key.
- A succeeded run of the same intent means "no changes": nothing is written.
- A run the provider rejected stays failed; submitting again is a new intent only if something
  that affects training changed (or ``--again``). A cancelled or abandoned run frees its intent.
- The claim is atomic on both databases: a unique index allows one unfinished run per intent.
"""

import sys as _sys
import types as _types


class _RunsPackage(_types.ModuleType):
    """This package, callable: ``tuneops.runs(job=...)`` is ``tuneops.api.runs`` (the listing), whether
    ``tuneops.runs`` was reached as the API name or set on ``tuneops`` by importing a module in here."""

    def __call__(self, **options):  # type: ignore[no-untyped-def]
        from tuneops.api import runs

        return runs(**options)


_sys.modules[__name__].__class__ = _RunsPackage
