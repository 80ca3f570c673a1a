"""End to end with the official openai SDK over real HTTP against a sandbox on loopback."""

from __future__ import annotations

import csv
import io
import json
import random
import time
from datetime import UTC, date, datetime
from types import SimpleNamespace

import httpx
import openai
import pytest
from openai.types import FileObject, Model
from openai.types.chat import ChatCompletion
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent
from openai.types.fine_tuning.jobs import FineTuningJobCheckpoint

from tuneops.sandbox import SandboxServer


def test_upload_train_watch_and_chat(client: openai.OpenAI, training_bytes: bytes, kit: SimpleNamespace) -> None:
    raw_file = client.files.with_raw_response.create(file=("train.jsonl", training_bytes), purpose="fine-tune")
    uploaded = FileObject.model_validate(raw_file.http_response.json())  # the wire JSON fits the SDK's type
    assert uploaded.bytes == len(training_bytes)
    assert uploaded.purpose == "fine-tune"

    job = client.fine_tuning.jobs.create(model="sandbox-mini", training_file=uploaded.id, suffix="triage", seed=7)
    assert job.status == "validating_files"
    assert job.hyperparameters.n_epochs == "auto"  # resolved only once the files are validated

    events = list(client.fine_tuning.jobs.list_events(job.id, limit=50))  # the SDK follows `after` cursors
    assert events[-1].message == f"Created fine-tuning job: {job.id}"  # oldest last

    done = kit.wait_for(client, job.id)
    assert done.status == "succeeded"
    FineTuningJob.model_validate(client.fine_tuning.jobs.with_raw_response.retrieve(job.id).http_response.json())
    assert done.fine_tuned_model == f"ft:sandbox-mini:tuneops-sandbox:triage:{job.id[-16:]}"
    assert done.hyperparameters.batch_size == 8 and done.hyperparameters.n_epochs == 3
    assert done.trained_tokens and done.trained_tokens > 0
    assert done.finished_at is not None and done.finished_at >= done.created_at
    assert done.seed == 7

    all_events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))  # auto-paginates
    raw_events = client.fine_tuning.jobs.with_raw_response.list_events(job.id, limit=100).http_response.json()
    for event in raw_events["data"]:
        FineTuningJobEvent.model_validate(event)
    metrics = [e for e in all_events if e.type == "metrics"]
    total_steps = 38 * 3  # ceil(300 / 8) steps per epoch, 3 epochs
    assert len(metrics) == total_steps
    assert all_events[0].message == "The job has successfully completed"
    assert [e.data["step"] for e in metrics] == list(range(total_steps, 0, -1))  # newest first
    first_loss, last_loss = metrics[-1].data["train_loss"], metrics[0].data["train_loss"]
    assert last_loss < first_loss / 4

    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    for raw_ckpt in client.fine_tuning.jobs.checkpoints.with_raw_response.list(job.id).http_response.json()["data"]:
        FineTuningJobCheckpoint.model_validate(raw_ckpt)
    assert [c.step_number for c in checkpoints] == [114, 76, 38]
    assert checkpoints[0].fine_tuned_model_checkpoint == f"{done.fine_tuned_model}:ckpt-step-114"
    assert checkpoints[0].metrics.train_loss == last_loss

    assert len(done.result_files) == 1
    result = client.files.retrieve(done.result_files[0])
    assert result.purpose == "fine-tune-results"
    rows = list(csv.DictReader(io.StringIO(client.files.content(done.result_files[0]).text)))
    assert list(rows[0]) == ["step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy"]
    assert len(rows) == total_steps and float(rows[-1]["train_loss"]) == last_loss
    assert rows[-1]["valid_loss"] == ""  # no validation file

    reply = client.chat.completions.create(
        model=done.fine_tuned_model,
        messages=[
            {"role": "system", "content": kit.SYSTEM},
            {"role": "user", "content": "I was overcharged on my invoice"},
        ],
        temperature=1.7,
    )
    ChatCompletion.model_validate(reply.model_dump(), strict=False)
    assert reply.choices[0].message.content == "billing"
    assert reply.usage is not None and reply.usage.completion_tokens == 1
    checkpoint_reply = client.chat.completions.create(
        model=checkpoints[-1].fine_tuned_model_checkpoint,
        messages=[{"role": "user", "content": "the app shows an error and crashes on the loading screen"}],
    )
    assert checkpoint_reply.choices[0].message.content == "technical"


def test_fine_tuned_model_beats_base_model_on_held_out_prompts(
    client: openai.OpenAI, training_bytes: bytes, kit: SimpleNamespace
) -> None:
    uploaded = client.files.create(file=("train.jsonl", training_bytes), purpose="fine-tune")
    job = kit.wait_for(client, client.fine_tuning.jobs.create(model="sandbox-mini", training_file=uploaded.id).id)
    held_out = kit.classification_rows(10, seed=999)  # 30 prompts never seen in training

    def accuracy(model: str) -> float:
        hits = 0
        for row in held_out:
            prompt = row["messages"][:2]
            answer = client.chat.completions.create(model=model, messages=prompt).choices[0].message.content
            hits += answer == row["messages"][2]["content"]
        return hits / len(held_out)

    tuned, base = accuracy(job.fine_tuned_model), accuracy("sandbox-mini")
    assert tuned >= 0.8
    assert base <= 0.4
    # Deterministic: asking again gives the same answer.
    again = [client.chat.completions.create(model=job.fine_tuned_model, messages=held_out[0]["messages"][:2])]
    first = client.chat.completions.create(model=job.fine_tuned_model, messages=held_out[0]["messages"][:2])
    assert again[0].choices[0].message.content == first.choices[0].message.content


def test_validation_file_gives_validation_metrics(client: openai.OpenAI, kit: SimpleNamespace) -> None:
    train = client.files.create(file=("t.jsonl", kit.jsonl(kit.classification_rows(20, seed=3))), purpose="fine-tune")
    valid = client.files.create(file=("v.jsonl", kit.jsonl(kit.classification_rows(5, seed=4))), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model="sandbox-mini",
        training_file=train.id,
        validation_file=valid.id,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 4}}},
    )
    done = kit.wait_for(client, job.id)
    assert done.status == "succeeded"
    assert done.method is not None and done.method.supervised is not None
    assert done.method.supervised.hyperparameters.batch_size == 4
    rows = list(csv.DictReader(io.StringIO(client.files.content(done.result_files[0]).text)))
    assert len(rows) == 15 * 2  # ceil(60 / 4) x 2 epochs
    assert float(rows[-1]["valid_loss"]) < float(rows[0]["valid_loss"])
    ckpt = client.fine_tuning.jobs.checkpoints.list(job.id).data[0]
    assert ckpt.metrics.full_valid_loss is not None


def test_dpo_job_learns_the_preferred_reply(client: openai.OpenAI, kit: SimpleNamespace) -> None:
    rng = random.Random(5)
    rows = []
    for _ in range(15):
        for label in ("billing", "technical", "account"):
            rows.append(
                {
                    "input": {"messages": [{"role": "user", "content": kit.ticket(label, rng)}]},
                    "preferred_output": [{"role": "assistant", "content": label}],
                    "non_preferred_output": [{"role": "assistant", "content": "no idea"}],
                }
            )
    uploaded = client.files.create(file=("dpo.jsonl", kit.jsonl(rows)), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model="sandbox-mini",
        training_file=uploaded.id,
        method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}},
    )
    done = kit.wait_for(client, job.id)
    assert done.status == "succeeded", done.error
    assert done.method is not None and done.method.dpo is not None
    assert done.method.dpo.hyperparameters.beta == 0.2
    answer = client.chat.completions.create(
        model=done.fine_tuned_model, messages=[{"role": "user", "content": "forgot my password, account locked"}]
    )
    assert answer.choices[0].message.content == "account"


def test_bad_training_file_fails_the_job_naming_the_line(client: openai.OpenAI, kit: SimpleNamespace) -> None:
    rows = kit.classification_rows(5, seed=2)
    lines = [json.dumps(r) for r in rows]
    lines[6] = '{"messages": [{"role": "user", "content": "hi"}'  # line 7 is cut short
    bad_json = client.files.create(file=("a.jsonl", "\n".join(lines).encode()), purpose="fine-tune")
    job = kit.wait_for(client, client.fine_tuning.jobs.create(model="sandbox-mini", training_file=bad_json.id).id)
    assert job.status == "failed"
    assert job.error is not None
    assert job.error.code == "invalid_training_file" and job.error.param == "training_file"
    assert "line 7" in job.error.message
    assert job.fine_tuned_model is None and job.result_files == []
    events = client.fine_tuning.jobs.list_events(job.id).data
    assert events[0].level == "error" and "line 7" in events[0].message

    rows[3]["messages"] = rows[3]["messages"][:2]  # line 4 has no assistant reply
    no_reply = client.files.create(file=("b.jsonl", kit.jsonl(rows)), purpose="fine-tune")
    job = kit.wait_for(client, client.fine_tuning.jobs.create(model="sandbox-mini", training_file=no_reply.id).id)
    assert job.status == "failed" and job.error is not None
    assert "line 4" in job.error.message and "assistant" in job.error.message


def test_create_rejects_bad_requests_like_openai(client: openai.OpenAI, training_bytes: bytes) -> None:
    uploaded = client.files.create(file=("train.jsonl", training_bytes), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError) as exc:
        client.fine_tuning.jobs.create(model="gpt-nonexistent", training_file=uploaded.id)
    assert exc.value.code == "model_not_found" and exc.value.param == "model"
    with pytest.raises(openai.BadRequestError) as exc:
        client.fine_tuning.jobs.create(model="sandbox-mini", training_file="file-missing")
    assert exc.value.param == "training_file"
    with pytest.raises(openai.BadRequestError) as exc:
        client.fine_tuning.jobs.create(
            model="sandbox-mini", training_file=uploaded.id, metadata={f"k{i}": "v" for i in range(17)}
        )
    assert exc.value.param == "metadata"
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.create(model="sandbox-mini", training_file=uploaded.id, metadata={"k" * 65: "v"})
    with pytest.raises(openai.BadRequestError) as exc:
        client.fine_tuning.jobs.create(model="sandbox-mini", training_file=uploaded.id, metadata={"k": "v" * 513})
    assert exc.value.param == "metadata.k"
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.create(
            model="sandbox-mini",
            training_file=uploaded.id,
            method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 0}}},
        )
    with pytest.raises(openai.BadRequestError):
        client.files.create(file=("train.txt", b"x"), purpose="fine-tune")
    with pytest.raises(openai.NotFoundError):
        client.fine_tuning.jobs.retrieve("ftjob-nope")
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="ft:sandbox-mini:nope", messages=[{"role": "user", "content": "hi"}])


def test_list_filters_by_metadata_and_paginates_with_after(client: openai.OpenAI, kit: SimpleNamespace) -> None:
    small = kit.jsonl(kit.classification_rows(4, seed=6))
    uploaded = client.files.create(file=("train.jsonl", small), purpose="fine-tune")
    tag = f"batch-{time.monotonic_ns()}"
    ids = [
        client.fine_tuning.jobs.create(
            model="sandbox-mini", training_file=uploaded.id, metadata={"tag": tag, "n": str(i)}
        ).id
        for i in range(5)
    ]
    client.fine_tuning.jobs.create(model="sandbox-mini", training_file=uploaded.id, metadata={"tag": "other"})

    page = client.fine_tuning.jobs.list(limit=2, metadata={"tag": tag})
    assert [j.id for j in page.data] == ids[::-1][:2]  # newest first
    assert page.has_more is True
    page2 = client.fine_tuning.jobs.list(limit=2, metadata={"tag": tag}, after=page.data[-1].id)
    assert [j.id for j in page2.data] == ids[::-1][2:4]
    assert [j.id for j in client.fine_tuning.jobs.list(limit=2, metadata={"tag": tag})] == ids[::-1]
    only = client.fine_tuning.jobs.list(metadata={"tag": tag, "n": "3"}).data
    assert [j.id for j in only] == [ids[3]]
    assert only[0].metadata == {"tag": tag, "n": "3"}
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.list(limit=101)


def test_pause_resume_and_cancel_follow_the_clock(kit: SimpleNamespace, training_bytes: bytes) -> None:
    clock = kit.ManualClock()
    with SandboxServer(clock=clock) as srv, kit.sdk_client(srv) as client:
        uploaded = client.files.create(file=("train.jsonl", training_bytes), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(model="sandbox-mini", training_file=uploaded.id)
        with pytest.raises(openai.BadRequestError):
            client.fine_tuning.jobs.pause(job.id)  # still validating files
        clock.advance(0.5)
        assert client.fine_tuning.jobs.retrieve(job.id).status == "queued"
        clock.advance(1.0)
        assert client.fine_tuning.jobs.retrieve(job.id).status == "running"

        def steps() -> int:
            return sum(e.type == "metrics" for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data)

        before = steps()
        assert 0 < before < 114
        paused = client.fine_tuning.jobs.pause(job.id)
        assert paused.status == "paused"  # not in the SDK's Literal; the SDK passes it through
        clock.advance(3600)
        assert client.fine_tuning.jobs.retrieve(job.id).status == "paused"
        assert steps() == before
        assert client.fine_tuning.jobs.resume(job.id).status == "running"
        clock.advance(10)
        done = client.fine_tuning.jobs.retrieve(job.id)
        assert done.status == "succeeded"
        messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100)]
        assert "Fine-tuning job paused" in messages and "Fine-tuning job resumed" in messages
        # Time paused does not count: the job finished about an hour after it started.
        assert done.finished_at is not None and done.finished_at - done.created_at >= 3600

        other = client.fine_tuning.jobs.create(model="sandbox-mini", training_file=uploaded.id)
        clock.advance(1.0)
        cancelled = client.fine_tuning.jobs.cancel(other.id)
        assert cancelled.status == "cancelled" and cancelled.finished_at is not None
        clock.advance(100)
        assert client.fine_tuning.jobs.retrieve(other.id).status == "cancelled"
        assert client.fine_tuning.jobs.retrieve(other.id).fine_tuned_model is None
        with pytest.raises(openai.BadRequestError):
            client.fine_tuning.jobs.cancel(other.id)
        with pytest.raises(openai.BadRequestError):
            client.fine_tuning.jobs.resume(job.id)


def test_uploads_api_assembles_parts_in_the_given_order(client: openai.OpenAI, training_bytes: bytes) -> None:
    cut1, cut2 = 1000, 5000
    chunks = [training_bytes[:cut1], training_bytes[cut1:cut2], training_bytes[cut2:]]
    upload = client.uploads.create(
        bytes=len(training_bytes), filename="big.jsonl", mime_type="application/jsonl", purpose="fine-tune"
    )
    assert upload.status == "pending"
    # Parts may arrive in any order; the order given to complete() is what counts.
    part3 = client.uploads.parts.create(upload.id, data=chunks[2])
    part1 = client.uploads.parts.create(upload.id, data=chunks[0])
    part2 = client.uploads.parts.create(upload.id, data=chunks[1])
    with pytest.raises(openai.BadRequestError):
        client.uploads.complete(upload.id, part_ids=[part1.id, part2.id])  # too few bytes
    done = client.uploads.complete(upload.id, part_ids=[part1.id, part2.id, part3.id])
    assert done.status == "completed" and done.file is not None
    assert client.files.content(done.file.id).content == training_bytes
    assert done.file.bytes == len(training_bytes)

    helper = client.uploads.upload_file_chunked(
        file=training_bytes,
        bytes=len(training_bytes),
        filename="again.jsonl",
        mime_type="application/jsonl",
        purpose="fine-tune",
        part_size=4096,
    )
    assert helper.file is not None
    assert client.files.content(helper.file.id).content == training_bytes

    cancelled = client.uploads.create(bytes=10, filename="x.jsonl", mime_type="application/jsonl", purpose="fine-tune")
    assert client.uploads.cancel(cancelled.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        client.uploads.parts.create(cancelled.id, data=b"0123456789")


def test_files_list_retrieve_delete(client: openai.OpenAI) -> None:
    a = client.files.create(file=("a.jsonl", b"{}\n"), purpose="fine-tune")
    b = client.files.create(file=("b.jsonl", b"{}\n"), purpose="batch")
    newest_first = [f.id for f in client.files.list(purpose="batch").data]
    assert newest_first[0] == b.id
    assert client.files.retrieve(a.id).filename == "a.jsonl"
    deleted = client.files.delete(a.id)
    assert deleted.deleted is True
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(a.id)


def test_models_list_base_and_fine_tuned(client: openai.OpenAI, training_bytes: bytes, kit: SimpleNamespace) -> None:
    uploaded = client.files.create(file=("train.jsonl", training_bytes), purpose="fine-tune")
    job = kit.wait_for(client, client.fine_tuning.jobs.create(model="sandbox-mini", training_file=uploaded.id).id)
    raw = client.models.with_raw_response.list().http_response.json()["data"]
    models = {m["id"]: Model.model_validate(m) for m in raw}
    assert {"sandbox-mini", "sandbox-legacy", job.fine_tuned_model} <= set(models)
    for model in models.values():
        assert "not a language model" in (model.model_extra or {})["description"]
        assert model.owned_by == "tuneops-sandbox"
    assert models["sandbox-mini"].shutdown_date is None
    shutdown = models["sandbox-legacy"].shutdown_date  # a calendar date, as OpenAI sends it
    assert shutdown is not None
    days_left = (date.fromisoformat(shutdown) - datetime.now(UTC).date()).days
    assert 19 <= days_left <= 20
    assert client.models.retrieve(job.fine_tuned_model).id == job.fine_tuned_model
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("sandbox-huge")


def test_requests_without_a_bearer_token_get_401(server: SandboxServer) -> None:
    with httpx.Client() as http:
        response = http.get(f"{server.url}/models")
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "invalid_request_error"
        assert http.get(f"{server.url}/models", headers={"Authorization": "Bearer anything"}).status_code == 200
        missing = http.get(f"{server.url}/nothing-here", headers={"Authorization": "Bearer x"})
        assert missing.status_code == 404 and "Invalid URL" in missing.json()["error"]["message"]


def test_stats_count_requests_per_route(client: openai.OpenAI, admin: httpx.Client, training_bytes: bytes) -> None:
    assert admin.get("/health").json()["status"] == "ok"
    admin.post("/reset-stats").raise_for_status()
    uploaded = client.files.create(file=("train.jsonl", training_bytes), purpose="fine-tune")
    client.files.create(file=("again.jsonl", training_bytes), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model="sandbox-mini", training_file=uploaded.id)
    client.fine_tuning.jobs.retrieve(job.id)
    for _ in range(3):
        client.chat.completions.create(model="sandbox-mini", messages=[{"role": "user", "content": "hi"}])
    stats = admin.get("/stats").json()
    assert stats["requests"] == {
        "POST /v1/files": 2,
        "POST /v1/fine_tuning/jobs": 1,
        "GET /v1/fine_tuning/jobs/{fine_tuning_job_id}": 1,
        "POST /v1/chat/completions": 3,
    }
    assert stats["jobs"] >= 1 and sum(stats["jobs_by_status"].values()) == stats["jobs"]
    admin.post("/reset-stats").raise_for_status()
    assert admin.get("/stats").json()["requests"] == {}


def test_continuing_from_a_fine_tuned_model_keeps_what_it_learned(client: openai.OpenAI, kit: SimpleNamespace) -> None:
    first = client.files.create(file=("t.jsonl", kit.jsonl(kit.classification_rows(10, seed=8))), purpose="fine-tune")
    parent = kit.wait_for(client, client.fine_tuning.jobs.create(model="sandbox-legacy", training_file=first.id).id)
    extra = [
        {
            "messages": [
                {"role": "user", "content": f"where is my parcel number {i}"},
                {"role": "assistant", "content": "shipping"},
            ]
        }
        for i in range(10)
    ]
    second = client.files.create(file=("s.jsonl", kit.jsonl(extra)), purpose="fine-tune")
    child = kit.wait_for(
        client, client.fine_tuning.jobs.create(model=parent.fine_tuned_model, training_file=second.id).id
    )
    assert child.fine_tuned_model.startswith("ft:sandbox-legacy:tuneops-sandbox::")

    def ask(text: str) -> str | None:
        reply = client.chat.completions.create(
            model=child.fine_tuned_model, messages=[{"role": "user", "content": text}]
        )
        return reply.choices[0].message.content

    assert ask("where is my parcel") == "shipping"
    assert ask("refund for the invoice charge please") == "billing"
