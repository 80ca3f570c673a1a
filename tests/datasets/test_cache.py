"""The snapshot cache: re-validating a grown dataset checks only the new examples, with the same answers."""

from __future__ import annotations

from pathlib import Path

from tuneops.datasets import preflight


def _summary(report) -> tuple:
    return ([str(f) for f in report.findings], report.stats["train"], report.tokens, report.trainable_tokens)


def test_second_run_is_served_from_the_cache_with_identical_results(write_spec, ds, tmp_path: Path) -> None:
    lines = [*ds.good(40), b'{"messages": [}\n', ds.line({"messages": [{"role": "user", "content": "x"}]})]
    loaded = write_spec(lines)
    cache = tmp_path / "cache"
    cold = preflight(loaded, cache_dir=cache)
    warm = preflight(loaded, cache_dir=cache)
    assert cold.cache["misses"] == 42 and cold.cache["hits"] == 0
    assert warm.cache["misses"] == 0 and warm.cache["hits"] == 42
    assert _summary(warm) == _summary(cold) == _summary(preflight(loaded, use_cache=False))


def test_appended_examples_are_the_only_ones_checked(write_spec, ds, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    preflight(write_spec(ds.good(100)), cache_dir=cache)
    grown = preflight(write_spec([*ds.good(100), *ds.good(3, start=500)]), cache_dir=cache)
    assert (grown.cache["hits"], grown.cache["misses"]) == (100, 3)
    assert grown.examples == 103


def test_cached_findings_get_the_line_numbers_of_this_run(write_spec, ds, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    bad = ds.line({"messages": [{"role": "user", "content": "no answer"}]})
    preflight(write_spec([bad, *ds.good(20)]), cache_dir=cache)
    moved = preflight(write_spec([*ds.good(20), bad]), cache_dir=cache)
    assert moved.cache["misses"] == 0
    assert [f.line for f in moved.findings if f.code == "example.no_assistant"] == [21]


def test_other_target_formats_are_cached_separately(write_spec, ds, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    loaded = write_spec(ds.good(12))
    preflight(loaded, cache_dir=cache)
    other = preflight(loaded, ["sandbox", "bedrock"], cache_dir=cache)
    assert other.cache["misses"] == 12  # conversion checks for bedrock were never run on these lines


def test_a_broken_cache_never_breaks_preflight(write_spec, ds, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "preflight.sqlite").write_bytes(b"this is not a database" * 100)
    report = preflight(write_spec(ds.good(12)), cache_dir=cache)
    assert report.ok and report.examples == 12
    assert any(f.code == "cache.disabled" and f.severity == "info" for f in report.findings)


def test_default_cache_lives_under_the_project_home(write_spec, ds, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TUNEOPS_HOME", str(tmp_path / "home"))
    report = preflight(write_spec(ds.good(12)))
    assert report.cache["path"] == str(tmp_path / "home" / "cache" / "preflight.sqlite")
    assert Path(report.cache["path"]).is_file()
