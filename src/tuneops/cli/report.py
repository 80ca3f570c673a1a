"""`tuneops report --html DIR [--serve]`: the one page to open, written from the ledger."""

from __future__ import annotations

from pathlib import Path

import typer


def serve(directory: Path, port: int) -> None:
    """Serve ``directory`` read-only on 127.0.0.1 until interrupted."""
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from tuneops.cli import state

    class ReadOnly(SimpleHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_error(405, "read-only report")

        do_PUT = do_DELETE = do_PATCH = do_POST

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), partial(ReadOnly, directory=str(directory)))
    state.console().print(f"serving {directory} read-only at http://127.0.0.1:{server.server_port}/ "
                          "(Ctrl-C stops)", markup=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def register(app: typer.Typer) -> None:
    """Add `tuneops report`."""

    @app.command("report")
    def report_cmd(
        html: Path = typer.Option(..., "--html", help="Write index.html into this directory."),
        jobs: Path = typer.Option(Path("jobs"), "--jobs", help="Job specs, for the scheduler's next due triggers."),
        serve_it: bool = typer.Option(False, "--serve", help="Then serve it read-only on 127.0.0.1."),
        port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port for --serve (0 picks a free one)."),
    ) -> None:
        """One self-contained HTML page: runs, spend vs budgets, eval scores, loss curves, scheduler, audit, ROI."""
        from tuneops.cli import state
        from tuneops.dashboard import write_report

        try:
            html.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise typer.BadParameter(f"cannot make the directory {html}: {exc.strerror or exc}; name a new or "
                                     "existing directory you can write to", param_hint="'--html'") from None
        path = write_report(state.store(), html, jobs_dir=jobs)
        state.console().print(f"report written to {path}", markup=False)
        if serve_it:
            serve(html, port)
