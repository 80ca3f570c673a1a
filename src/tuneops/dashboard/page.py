"""The HTML report as one self-contained page: inline CSS and SVG, no script, nothing fetched.

A Content-Security-Policy of ``default-src 'none'`` makes the browser refuse any network request the
page might make, so a report opened from a shared folder cannot leak or break.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from tuneops.dashboard.data import Dashboard
from tuneops.roi import usd

PALETTE = ("#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2", "#65a30d", "#db2777")

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#111;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;background:#fff;margin:6px 0}td,th{border:1px solid #e2e2e2;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#047857;font-weight:600}.bad{color:#b91c1c;font-weight:600}.dim{color:#666}
.scroll{max-height:420px;overflow:auto;display:inline-block}svg{background:#fff;border:1px solid #e2e2e2;
margin:4px 8px 4px 0}.grid{display:flex;flex-wrap:wrap}
"""


def _when(at: datetime | None) -> str:
    return "" if at is None else f"{at:%Y-%m-%d %H:%M}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def _table(cls: str, head: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:  # type: ignore[assignment]
    """A table; cells are HTML already escaped by the caller."""
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _axes(w: int, h: int, left: int, bottom: int, title: str, y_label: str) -> str:
    return (f'<text x="{w / 2:.0f}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>'
            f'<line x1="{left}" y1="{h - bottom}" x2="{w - 10}" y2="{h - bottom}" stroke="#888"/>'
            f'<line x1="{left}" y1="24" x2="{left}" y2="{h - bottom}" stroke="#888"/>'
            f'<text x="12" y="{h / 2:.0f}" font-size="11" transform="rotate(-90 12 {h / 2:.0f})" '
            f'text-anchor="middle">{escape(y_label)}</text>')


def spend_chart(spend: dict[str, dict[str, int]], *, width: int = 640, height: int = 260) -> str:
    """Stacked bars: spend per month, one colour per provider."""
    left, bottom = 70, 40
    months = list(spend)[-12:]
    providers = sorted({p for m in months for p in spend[m]})
    most = max(sum(spend[m].values()) for m in months)
    top = most or 1  # all free (the sandbox): flat bars, labelled $0.00
    plot_h, slot = height - bottom - 30, (width - left - 20) / max(1, len(months))
    parts = [_axes(width, height, left, bottom, "spend per month", "USD")]
    for i, month in enumerate(months):
        y = height - bottom
        for j, p in enumerate(providers):
            v = spend[month].get(p, 0)
            bar = plot_h * v / top
            y -= bar
            parts.append(f'<rect class="bar" x="{left + i * slot + 4:.1f}" y="{y:.1f}" width="{slot - 8:.1f}" '
                         f'height="{bar:.1f}" fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(month)} '
                         f'{escape(p)} {usd(v)}</title></rect>')
        parts.append(f'<text x="{left + (i + 0.5) * slot:.1f}" y="{height - bottom + 16}" font-size="11" '
                     f'text-anchor="middle">{escape(month)}</text>')
    parts.append(f'<text x="{left - 6}" y="34" font-size="11" text-anchor="end">{usd(most)}</text>')
    for j, p in enumerate(providers):
        parts.append(f'<rect x="{left + 10 + j * 110}" y="{height - 14}" width="10" height="10" '
                     f'fill="{PALETTE[j % len(PALETTE)]}"/><text x="{left + 24 + j * 110}" y="{height - 5}" '
                     f'font-size="11">{escape(p)}</text>')
    return f'<svg class="chart" width="{width}" height="{height}" role="img">{"".join(parts)}</svg>'


def score_chart(job: str, evals: list[dict[str, Any]], moves: list[dict[str, Any]], *, width: int = 640,
                height: int = 260) -> str:
    """Eval scores over time (fine-tuned and base models), promotions and rollbacks as vertical marks."""
    left, bottom = 50, 40
    metric = next((m for e in evals for m in e["scores"]), None)
    points = [(e["at"], e["scores"][metric], e["kind"]) for e in evals if metric in e["scores"]]
    times = [p[0] for p in points] + [m["at"] for m in moves]
    t0, t1 = min(times), max(times)
    span = (t1 - t0).total_seconds() or 1.0

    def x(at: datetime) -> float:
        return left + (width - left - 20) * ((at - t0).total_seconds() / span if len(times) > 1 else 0.5)

    def y(v: float) -> float:
        return height - bottom - (height - bottom - 30) * v

    parts = [_axes(width, height, left, bottom, f"{job}: {metric} over time", metric or "score")]
    for v in (0.0, 0.5, 1.0):
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end">{v:.1f}</text>')
    for move in moves:
        color = "#059669" if move["action"] == "promote" else "#dc2626"
        parts.append(f'<line class="mark {escape(move["action"])}" x1="{x(move["at"]):.1f}" y1="24" '
                     f'x2="{x(move["at"]):.1f}" y2="{height - bottom}" stroke="{color}" stroke-dasharray="4 3">'
                     f'<title>{escape(move["action"])} {escape(move["alias"])} -> {escape(move["model"])} '
                     f'{_when(move["at"])}</title></line>')
    for i, kind in enumerate(("fine-tuned", "base")):
        pts = [(x(at), y(v)) for at, v, k in points if k == kind]
        if len(pts) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
            parts.append(f'<polyline class="series" points="{path}" fill="none" stroke="{PALETTE[i]}"/>')
        parts.extend(f'<circle class="point" cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{PALETTE[i]}"/>'
                     for px, py in pts)
        parts.append(f'<rect x="{left + 10 + i * 120}" y="{height - 14}" width="10" height="10" '
                     f'fill="{PALETTE[i]}"/><text x="{left + 24 + i * 120}" y="{height - 5}" font-size="11">'
                     f'{kind}</text>')
    parts.append(f'<text x="{left + 260}" y="{height - 5}" font-size="11" fill="#059669">| promotion</text>'
                 f'<text x="{left + 350}" y="{height - 5}" font-size="11" fill="#dc2626">| rollback</text>')
    return f'<svg class="chart" width="{width}" height="{height}" role="img">{"".join(parts)}</svg>'


def _runs(board: Dashboard) -> str:
    rows = []
    for r in board.runs:
        est, cost = r["estimate"], r["cost"]
        vs = "" if est is None or cost is None or est == 0 else f"{cost / est:.0%}"
        rows.append([escape(r["id"]), escape(r["job"]), escape(r["provider"]), escape(r["state"]),
                     _when(r["created_at"]), _duration(r["duration_s"]), usd(est), usd(cost), vs,
                     escape(r["trigger"] or "")])
    return ('<div class="scroll">' + _table("runs", ["run", "job", "provider", "state", "created (UTC)", "duration",
                                                      "estimate", "cost", "actual/estimate", "trigger"],
                                             rows, {5, 6, 7, 8}) + "</div>")


def _budget(board: Dashboard) -> str:
    rows = []
    for b in board.budgets:
        over = b["per_month"] is not None and b["spent"] > b["per_month"]
        share = "" if not b["per_month"] else f"{b['spent'] / b['per_month']:.0%}"
        rows.append([escape(b["job"]), usd(b["spent"]), usd(b["per_month"]) if b["per_month"] is not None
                     else "no limit", f'<span class="{"bad" if over else "ok"}">{share or "-"}</span>'])
    spend_rows = [[escape(m), escape(p), usd(v)] for m, by in board.spend.items() for p, v in sorted(by.items())]
    chart = spend_chart(board.spend) if board.spend else "<p class=dim>no spend recorded</p>"
    return (chart + _table("budgets", ["job", f"spent {board.generated_at:%Y-%m}", "budget per month", "used"],
                           rows, {1, 2, 3})
            + _table("spend", ["month", "provider", "spent"], spend_rows, {2}))


def _scores(board: Dashboard) -> str:
    if not board.evals:
        return "<p class=dim>no evals yet</p>"
    charts = [score_chart(job, evals, board.moves.get(job, [])) for job, evals in sorted(board.evals.items())]
    moves = [[escape(m["alias"]), escape(m["action"]), escape(m["model"]), _when(m["at"]), escape(m["reason"])]
             for job in sorted(board.moves) for m in board.moves[job]]
    return (f'<div class="grid">{"".join(charts)}</div>'
            + _table("moves", ["alias", "action", "model", "at (UTC)", "reason"], moves))


def _curves(board: Dashboard) -> str:
    from tuneops.runs.curves import svg_plot

    if not board.curves:
        return "<p class=dim>no loss curves recorded</p>"
    out = []
    for c in board.curves:
        v = c["verdict"]
        cls, head = ("bad", "possible overfitting: ") if v.flag else ("ok", "")
        out.append(f'<div><div>{escape(c["job"])} <span class="dim">{escape(c["run"])}</span>: '
                   f'<span class="verdict {cls}">{head}{escape(v.reason)}</span></div>'
                   + svg_plot(c["train"], c["valid"], width=640, height=300, title=f"{c['job']} loss",
                              mark_step=v.from_step) + "</div>")
    return '<div class="grid">' + "".join(out) + "</div>"


def _scheduler(board: Dashboard) -> str:
    rows = [[escape(d["job_name"]), escape(d["outcome"] or ""), escape(d["rule"] or ""), escape(d["reason"]),
             _when(d["recorded_at"]), _when(d["last_fired_at"])] for d in board.decisions]
    html = ("<h3>last decisions</h3>" + _table("decisions", ["job", "decision", "rule", "why", "decided (UTC)",
                                                             "last fired (UTC)"], rows)
            if rows else "<p class=dim>the scheduler has not decided anything yet</p>")
    if board.plan is not None:
        due = [[escape(j["job"]), escape(j["decision"]), escape(t["rule"]),
                f'<span class="{"ok" if t["fire"] else "dim"}">{"due" if t["fire"] else "not due"}</span>',
                escape(t["reason"])] for j in board.plan for t in j["triggers"]]
        html += "<h3>next due triggers (schedule plan, now)</h3>" + _table(
            "plan", ["job", "decision", "trigger", "due", "why"], due)
    elif board.plan_error:
        html += f'<p class="bad">schedule plan failed: {escape(board.plan_error)}</p>'
    return html


def _audit(board: Dashboard) -> str:
    a = board.audit
    if a["ok"]:
        return (f'<p><span class="ok audit-status">chain intact</span>: {a["events"]:,} events verified from '
                f'genesis, head #{a["head_seq"]} <code>{escape(a["head_hash"][:16])}</code></p>')
    return (f'<p><span class="bad audit-status">chain broken</span> at event #{a["first_bad_seq"]}: '
            f'{escape(a["problem"] or "")}</p>')


def _roi(board: Dashboard) -> str:
    from tuneops.cli.roi import summary_lines

    if not board.roi:
        return "<p class=dim>no promoted model yet</p>"
    rows = []
    for r in board.roi:
        if "error" in r:
            rows.append([escape(r["alias"]), "", f'<span class="dim">{escape(r["error"])}</span>'])
        else:
            rows.append([escape(r["alias"] or ""), escape(r["model"]),
                         "<br>".join(escape(line) for line in summary_lines(r))])
    return _table("roi", ["alias", "model", "return on the fine-tune"], rows)


def render(board: Dashboard, *, title: str = "tuneops report") -> str:
    """The whole page."""
    sections = [("Runs", _runs(board)), ("Spend against budgets", _budget(board)),
                ("Eval scores, promotions and rollbacks", _scores(board)), ("Loss curves", _curves(board)),
                ("Scheduler", _scheduler(board)), ("Audit trail", _audit(board)),
                ("ROI of promoted models", _roi(board))]
    body = "".join(f'<section id="{escape(name.split()[0].lower())}"><h2>{escape(name)}</h2>{html}</section>'
                   for name, html in sections)
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{escape(title)}</h1><p class=dim>generated {_when(board.generated_at)} UTC from the ledger; "
            f"{len(board.runs):,} runs</p>{body}</body></html>")
