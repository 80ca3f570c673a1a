"""Large files go through the Uploads API: parts in parallel, and a re-run after a failed part sends
only the parts that are missing (the upload id and part ids live in a sidecar next to the file)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fakeopenai import FakeOpenAI

from tuneops.errors import TransientProviderError
from tuneops.provider import ProviderConfig
from tuneops.providers.openai import OpenAIProvider
from tuneops.providers.openai.uploads import sidecar_path

BASE = "https://api.openai.com/v1"
PART = 1000


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as r:
        yield r


def _provider(http: httpx.Client, **options: Any) -> OpenAIProvider:
    opts = {"upload_chunked_above_bytes": 2000, "upload_part_bytes": PART, "upload_workers": 4, **options}
    return OpenAIProvider(ProviderConfig(options=opts, env={"OPENAI_API_KEY": "sk-test"}, http_client=http))


def _staged(tmp_path: Path, size: int) -> tuple[Path, str]:
    path = tmp_path / "big.jsonl"
    path.write_bytes(bytes(i % 251 for i in range(size)))
    return path, "d" * 64


def test_a_large_file_is_sent_in_parts_in_parallel_and_joined_in_order(
        router: respx.MockRouter, http: httpx.Client, tmp_path: Path) -> None:
    api = FakeOpenAI(router, BASE, part_delay=0.05)
    path, digest = _staged(tmp_path, 7 * PART + 123)
    up = _provider(http).upload(path, sha256=digest)
    assert api.contents[up.provider_file_id] == path.read_bytes()
    assert up.bytes == path.stat().st_size
    assert api.calls["upload_part"] == 8 and api.max_parallel_parts > 1
    created = json.loads(api.op_requests("upload")[0].content)
    assert created == {"bytes": up.bytes, "filename": up.filename, "mime_type": "text/jsonl",
                       "purpose": "fine-tune"}
    assert not sidecar_path(path, "openai").exists()  # nothing left to resume


def test_a_small_file_skips_the_uploads_api(router: respx.MockRouter, http: httpx.Client,
                                            tmp_path: Path) -> None:
    api = FakeOpenAI(router, BASE)
    path, digest = _staged(tmp_path, 2000)
    _provider(http).upload(path, sha256=digest)
    assert api.calls["upload_part"] == 0 and len(api.files) == 1


def test_a_rerun_after_a_failed_part_sends_only_the_missing_parts(
        router: respx.MockRouter, http: httpx.Client, tmp_path: Path) -> None:
    api = FakeOpenAI(router, BASE)
    path, digest = _staged(tmp_path, 5 * PART)
    api.fail_next("upload_part", 502, after=2)  # parts 0 and 1 arrive, part 2 fails
    with pytest.raises(TransientProviderError):
        _provider(http, upload_workers=1).upload(path, sha256=digest)
    state = json.loads(sidecar_path(path, "openai").read_text())
    done = set(state["parts"])  # a part already in flight when 2 failed may have made it too
    assert state["upload_id"] in api.uploads and {"0", "1"} <= done and "2" not in done
    sent_first = api.calls["upload_part"]

    # A fresh adapter (a new process) resumes the same Upload and sends only the missing parts.
    up = _provider(http).upload(path, sha256=digest)
    assert api.calls["upload"] == 1 and api.calls["upload_part"] - sent_first == 5 - len(done)
    assert api.contents[up.provider_file_id] == path.read_bytes()
    assert not sidecar_path(path, "openai").exists()


def test_an_expired_upload_is_started_over(router: respx.MockRouter, http: httpx.Client,
                                           tmp_path: Path) -> None:
    api = FakeOpenAI(router, BASE)
    path, digest = _staged(tmp_path, 3 * PART)
    sidecar_path(path, "openai").write_text(json.dumps({
        "version": 1, "upload_id": "upload-gone", "sha256": digest, "bytes": 3 * PART, "part_bytes": PART,
        "expires_at": 1000, "account": BASE + "/", "parts": {"0": "part-old"}}))
    up = _provider(http).upload(path, sha256=digest)
    assert api.calls["upload"] == 1 and api.calls["upload_part"] == 3
    assert api.contents[up.provider_file_id] == path.read_bytes()


def test_an_upload_the_provider_no_longer_knows_is_started_over_once(
        router: respx.MockRouter, http: httpx.Client, tmp_path: Path) -> None:
    import time

    api = FakeOpenAI(router, BASE)
    path, digest = _staged(tmp_path, 3 * PART)
    sidecar_path(path, "openai").write_text(json.dumps({
        "version": 1, "upload_id": "upload-cancelled", "sha256": digest, "bytes": 3 * PART,
        "part_bytes": PART, "expires_at": int(time.time()) + 3000, "account": BASE + "/", "parts": {}}))
    up = _provider(http).upload(path, sha256=digest)
    assert api.contents[up.provider_file_id] == path.read_bytes()
    assert api.calls["upload"] == 1  # the fresh Upload


def test_a_sidecar_for_other_bytes_is_ignored(router: respx.MockRouter, http: httpx.Client,
                                              tmp_path: Path) -> None:
    api = FakeOpenAI(router, BASE)
    path, digest = _staged(tmp_path, 3 * PART)
    sidecar_path(path, "openai").write_text(json.dumps({
        "version": 1, "upload_id": "upload-x", "sha256": "e" * 64, "bytes": 3 * PART, "part_bytes": PART,
        "expires_at": 9_999_999_999, "account": BASE + "/", "parts": {"0": "part-x"}}))
    up = _provider(http).upload(path, sha256=digest)
    assert api.contents[up.provider_file_id] == path.read_bytes() and api.calls["upload_part"] == 3
