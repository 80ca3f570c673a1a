"""`tuneops report --html DIR`: one self-contained page, checked in a real headless browser (tables
filled, charts drawn, no console messages) and saved as a screenshot; SQLite and PostgreSQL ledgers."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tuneops.cli import main

_spec = importlib.util.spec_from_file_location("tuneops_tests_browser", Path(__file__).with_name("browser.py"))
browser = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules[_spec.name] = browser  # type: ignore[union-attr]
_spec.loader.exec_module(browser)  # type: ignore[union-attr]

ARTIFACTS = Path(os.environ.get("TUNEOPS_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts"))


@pytest.fixture
def trained(project: Path, sandbox_env: object, capsys: pytest.CaptureFixture[str]) -> Path:
    """The example project after one run that was evaluated and promoted, and a refused second one."""
    assert main(["submit", str(project), "--watch", "--json"]) == 0
    project.write_text(project.read_text().replace("seed = 7", "seed = 8"))  # a second run, refused the alias
    assert main(["submit", str(project), "--watch", "--json"]) == 0
    capsys.readouterr()
    return project


def test_the_page_is_self_contained_and_shows_every_section(trained: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--html", str(tmp_path / "report")]) == 0
    assert "report written to" in capsys.readouterr().out
    page = (tmp_path / "report" / "index.html").read_text()
    # Nothing to fetch: no external URL in any src/href, and a policy that forbids loading anything.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "default-src 'none'" in page and "<script" not in page
    for heading in ("Runs", "Spend against budgets", "Eval scores, promotions and rollbacks", "Loss curves",
                    "Scheduler", "Audit trail", "ROI of promoted models"):
        assert f"<h2>{heading}</h2>" in page
    assert "chain intact" in page and "support-triage@production" in page and "next due triggers" in page
    assert "no sign of overfitting" in page and "paid for from the start" in page


def test_headless_chromium_renders_tables_and_charts_without_console_errors(
        trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    browser.chromium()
    assert main(["report", "--html", str(tmp_path / "report")]) == 0
    url = (tmp_path / "report" / "index.html").resolve().as_uri()
    dom_text, console = browser.load(url)
    assert console == [], console
    dom = browser.Dom(dom_text)
    assert dom.rows.get("runs") == 2
    assert dom.rows.get("budgets") == 1 and dom.rows.get("roi") == 1 and dom.rows.get("plan", 0) >= 3
    assert dom.rows.get("moves", 0) >= 1
    assert dom.classes.get("chart", 0) >= 2  # spend, eval scores
    assert dom.classes.get("bar", 0) >= 1 and dom.classes.get("point", 0) >= 2
    assert dom.classes.get("promote", 0) >= 1  # the promotion is marked on the score chart
    assert dom.tags.get("svg", 0) >= 3 and dom.tags.get("path", 0) + dom.tags.get("polyline", 0) >= 2
    assert "chain intact" in "".join(dom.text.get("audit-status", []))
    shot = browser.screenshot(url, ARTIFACTS / "report.png")
    print(f"screenshot of the report: {shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_console_check_catches_a_page_that_errs(tmp_path: Path) -> None:
    browser.chromium()
    bad = tmp_path / "bad.html"
    bad.write_text("<!doctype html><p>x</p><script>missing()</script>")
    _, console = browser.load(bad.as_uri())
    assert any("missing is not defined" in line for line in console)


def test_serve_answers_reads_and_refuses_writes(trained: Path, tmp_path: Path) -> None:
    from tuneops.cli import report

    assert main(["report", "--html", str(tmp_path / "r")]) == 0
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = threading.Thread(target=report.serve, args=(tmp_path / "r", port), daemon=True)
    server.start()
    for _ in range(50):
        try:
            got = httpx.get(f"http://127.0.0.1:{port}/index.html", timeout=2)
            break
        except httpx.ConnectError:
            time.sleep(0.1)
    assert got.status_code == 200 and "<h2>Runs</h2>" in got.text
    assert httpx.post(f"http://127.0.0.1:{port}/index.html", content=b"x", timeout=2).status_code == 405


@pytest.mark.postgres
def test_the_report_reads_a_postgresql_ledger(pg_db_url: str, project: Path, sandbox_env: object,
                                             tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", pg_db_url, "submit", str(project), "--watch", "--json"]) == 0
    capsys.readouterr()
    assert main(["--db", pg_db_url, "report", "--html", str(tmp_path / "pg")]) == 0
    page = (tmp_path / "pg" / "index.html").read_text()
    assert "chain intact" in page and "support-triage@production" in page and "succeeded" in page
