"""Webhook notifications: retried with backoff, bounded, never raised into the scheduler, sent only
for the events a spec subscribes to, to the spec's URLs and to TUNEOPS_NOTIFY_URLS."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tuneops.errors import SpecError
from tuneops.scheduler.notify import Notifier, env_urls, where
from tuneops.scheduler.policy import JobPolicy
from tuneops.spec import parse


def PUBLIC(host: str, port: int) -> list[str]:
    """Every *.test name resolves to one public address (the socket guard blocks real lookups)."""
    return ["93.184.216.34"]


def policy(urls: tuple[str, ...] = ("http://hooks.test/a",), events: tuple[str, ...] = (),
           retries: int = 3) -> JobPolicy:
    return JobPolicy(name="triage", path="jobs/triage.toml", notify_urls=urls, notify_events=events,
                     notify_timeout_s=1.0, notify_retries=retries)


def test_a_failing_receiver_is_retried_then_succeeds() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503 if len(seen) < 3 else 200)

    n = Notifier(transport=httpx.MockTransport(handler), environ={}, sleep=lambda s: None, resolve=PUBLIC)
    assert n.notify(policy(), "fire", {"job": "triage", "fire_key": "age:7"}) == 1
    n.close()
    [d] = n.deliveries
    assert d.ok and d.attempts == 3 and d.url == "http://hooks.test/..."
    bodies = [json.loads(r.content) for r in seen]
    assert {b["delivery_id"] for b in bodies} == {d.delivery_id}  # the same id on every retry
    assert bodies[0]["event"] == "fire" and bodies[0]["fire_key"] == "age:7"
    assert seen[0].headers["x-tuneops-event"] == "fire"


def test_failures_are_counted_never_raised() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    n = Notifier(transport=httpx.MockTransport(down), environ={}, sleep=lambda s: None, resolve=PUBLIC)
    n.notify(policy(retries=2), "failure", {"job": "triage"})
    n.close()
    [d] = n.deliveries
    assert not d.ok and d.attempts == 3 and "ConnectError" in (d.error or "") and n.failures == 1

    gone = Notifier(transport=httpx.MockTransport(lambda r: httpx.Response(404)), environ={}, sleep=lambda s: None,
                    resolve=PUBLIC)
    gone.notify(policy(), "fire", {})
    gone.close()
    assert gone.deliveries[0].attempts == 1  # a 404 is not retried


def test_events_go_where_they_are_wanted() -> None:
    got: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        got.append(f"{request.url.host}:{json.loads(request.content)['event']}")
        return httpx.Response(204)

    env = {"TUNEOPS_NOTIFY_URLS": "http://ops.test/all, http://audit.test/x"}
    n = Notifier(transport=httpx.MockTransport(handler), environ=env, sleep=lambda s: None, resolve=PUBLIC)
    only_promotions = policy(events=("promotion",))
    n.notify(only_promotions, "fire", {})
    n.notify(only_promotions, "promotion", {})
    n.notify(None, "refusal", {})
    n.close()
    assert sorted(got) == sorted(["ops.test:fire", "audit.test:fire", "hooks.test:promotion", "ops.test:promotion",
                                  "audit.test:promotion", "ops.test:refusal", "audit.test:refusal"])
    assert env_urls({}) == () and where("https://hooks.slack.test/services/T0/B0/secret") == "https://hooks.slack.test/..."


def test_the_spec_checks_notify_urls_and_cron() -> None:
    base = 'name = "x"\n[model]\nprovider = "sandbox"\nbase = "m"\n[data]\ntrain = "t.jsonl"\n'
    spec = parse(base + '[notify]\nurls = ["https://hooks.test/a"]\nevents = ["promotion"]\n', Path("x.toml"))
    assert spec.notify is not None and spec.notify.events == ["promotion"]
    with pytest.raises(SpecError, match=r"notify\.urls"):
        parse(base + '[notify]\nurls = ["hooks.test/a"]\n', Path("x.toml"))
    with pytest.raises(SpecError, match=r"retrain\.cron: not a five-field cron"):
        parse(base + '[retrain]\ncron = "every monday"\n', Path("x.toml"))
    assert parse(base + '[retrain]\ncron = "0 3 * * 1"\nmisfire = "skip"\n', Path("x.toml")).retrain.misfire == "skip"  # type: ignore[union-attr]


@pytest.mark.parametrize("url, resolved", [
    ("http://127.0.0.1:8080/hook", ["127.0.0.1"]),
    ("http://169.254.169.254/latest/meta-data", ["169.254.169.254"]),
    ("http://intranet.test/hook", ["10.1.2.3"]),
    ("http://split.test/hook", ["93.184.216.34", "192.168.0.7"]),  # one internal record is enough
    ("http://v6.test/hook", ["::1"]),
    ("http://mapped.test/hook", ["::ffff:127.0.0.1"]),
], ids=["loopback", "metadata", "private-name", "mixed-records", "ipv6-loopback", "v4-mapped"])
def test_a_webhook_into_the_local_network_is_refused_and_never_sent(url: str, resolved: list[str]) -> None:
    sent: list[httpx.Request] = []
    n = Notifier(transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200)), environ={},
                 sleep=lambda s: None, resolve=lambda host, port: resolved)
    n.notify(policy((url,)), "fire", {})
    n.close()
    [d] = n.deliveries
    assert not d.ok and sent == [] and "local or private network" in (d.error or "")
    assert "TUNEOPS_ALLOW_PRIVATE_WEBHOOKS" in (d.error or "")


def test_the_env_setting_allows_a_receiver_on_this_host() -> None:
    sent: list[httpx.Request] = []
    n = Notifier(transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200)),
                 environ={"TUNEOPS_ALLOW_PRIVATE_WEBHOOKS": "1"}, sleep=lambda s: None,
                 resolve=lambda host, port: ["127.0.0.1"])
    n.notify(policy(("http://127.0.0.1:9/hook",)), "fire", {})
    n.close()
    assert n.deliveries[0].ok and len(sent) == 1


def test_credentials_in_a_webhook_url_never_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    n = Notifier(transport=httpx.MockTransport(down), environ={}, sleep=lambda s: None, resolve=PUBLIC)
    n.notify(policy(("https://alice:hunter2secret@hooks.test/a?x=1",), retries=0), "fire", {})
    n.close()
    [d] = n.deliveries
    assert d.url == "https://hooks.test/..."
    assert "hunter2secret" not in (d.error or "") and "hunter2secret" not in caplog.text
    assert where("http://user@hooks.test:8080/x") == "http://hooks.test:8080/..."


def test_a_spec_naming_a_private_webhook_or_a_url_with_a_password_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    base = '[model]\nprovider = "openai"\nbase = "m"\n[data]\ntrain = "t.jsonl"\n'
    for url, what in (("http://169.254.169.254/x", "local or private network"),
                      ("http://localhost:9000/x", "local or private network"),
                      ("https://bob:s3cretpass@hooks.test/x", "looks like a credential")):
        with pytest.raises(SpecError) as err:
            parse(base + f'[notify]\nurls = ["{url}"]\n', Path("x.toml"))
        assert what in str(err.value) and "s3cretpass" not in str(err.value)
    monkeypatch.setenv("TUNEOPS_ALLOW_PRIVATE_WEBHOOKS", "1")
    assert parse(base + '[notify]\nurls = ["http://127.0.0.1:9000/x"]\n', Path("x.toml")).notify is not None
