"""The snapshot cache: re-validating a grown dataset checks only the new examples, with the same answers."""

from __future__ import annotations

from pathlib import Path

from tuneops.datasets.preflight import preflight


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


def _messy(ds, n: int, start: int = 0) -> list[bytes]:
    """Valid lines mixed with defects, blank lines, CRLF and duplicates."""
    lines = ds.good(n, start=start)
    lines[1] = lines[1][:-1] + b"\r\n"
    lines[3] = b"\n"
    lines[5] = b'{"messages": 7}\n'
    lines[7] = lines[0]
    return lines


def test_a_grown_file_resumes_where_the_last_scan_ended(write_spec, ds, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = [b"\xef\xbb\xbf" + _messy(ds, 40)[0], *_messy(ds, 40)[1:]]
    preflight(write_spec(first), cache_dir=cache)
    grown = [*first, *_messy(ds, 20, start=100), ds.good(1)[0]]  # the last line duplicates line 1
    loaded = write_spec(grown)
    resumed = preflight(loaded, cache_dir=cache)
    assert resumed.cache["resumed_lines"] == 40
    # 21 new lines, less a blank one, an in-batch duplicate and two lines whose content was checked before.
    assert resumed.cache["misses"] == 17
    assert _summary(resumed) == _summary(preflight(loaded, use_cache=False))
    dup = [f for f in resumed.findings if f.code == "dup.exact" and f.line == 61]
    assert dup and "line 1" in dup[0].message


def test_an_edit_before_the_end_is_never_missed(write_spec, ds, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    lines = ds.good(30)
    preflight(write_spec(lines), cache_dir=cache)
    lines[10] = ds.line({"messages": [{"role": "user", "content": "edited, no answer"}]})
    edited = write_spec([*lines, *ds.good(3, start=200)])
    report = preflight(edited, cache_dir=cache)
    assert "resumed_lines" not in report.cache
    assert [f.line for f in report.findings if f.code == "example.no_assistant"] == [11]
    assert _summary(report) == _summary(preflight(edited, use_cache=False))


def test_a_file_without_a_final_newline_is_not_resumed_mid_line(write_spec, ds, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    lines = ds.good(12)
    lines[-1] = lines[-1][:-1]
    preflight(write_spec(lines), cache_dir=cache)
    lines[-1] = lines[-1][:-2] + b', "extra": 1}\n'  # the unterminated last line was still being written
    loaded = write_spec(lines)
    report = preflight(loaded, cache_dir=cache)
    assert "resumed_lines" not in report.cache
    assert _summary(report) == _summary(preflight(loaded, use_cache=False))
