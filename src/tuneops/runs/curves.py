"""Loss curves of a run: the series, an overfitting verdict, and drawings for the terminal, PNG and HTML.

The points are a run's ``metric_point`` rows (or anything with ``step``, ``train_loss`` and
``valid_loss``). Drawing libraries are imported inside the functions that need them: plotext for the
terminal, matplotlib (the optional extra ``plot``) for PNG; the HTML file is plain SVG written here.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any, Protocol

from tuneops.errors import TuneopsError

TRAIN_COLOR, VALID_COLOR = "#1f77b4", "#ff7f0e"
# 256-colour codes close to the two colours above, for the terminal drawing and its legend.
TRAIN_ANSI, VALID_ANSI = 33, 208
PNG_INSTALL = "pip install 'tuneops[plot]'"


class PointLike(Protocol):
    """What a metric point offers (MetricPointRow satisfies it)."""

    step: int
    train_loss: float | None
    valid_loss: float | None


@dataclass(frozen=True)
class Series:
    """One named metric by step, without the steps where it was not reported."""

    key: str
    label: str
    steps: tuple[int, ...]
    values: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.steps)

    def pairs(self) -> list[list[float]]:
        """``[[step, value], ...]``, the shape of the series in --json."""
        return [[s, v] for s, v in zip(self.steps, self.values, strict=True)]


@dataclass(frozen=True)
class Verdict:
    """Whether a run looks overfit, why, and the step where its validation loss was lowest."""

    flag: bool
    reason: str
    from_step: int | None = None


LABELS = {"train_loss": "training loss", "valid_loss": "validation loss",
          "train_accuracy": "training accuracy", "valid_accuracy": "validation accuracy"}


def series(points: Iterable[Any], key: str) -> Series:
    """The ``key`` metric of ``points`` by step, skipping missing and non-finite values."""
    got = sorted((int(p.step), float(v)) for p in points
                 if (v := getattr(p, key, None)) is not None and math.isfinite(v))
    return Series(key, LABELS.get(key, key), tuple(s for s, _ in got), tuple(v for _, v in got))


def all_series(points: Sequence[Any]) -> dict[str, Series]:
    """Every metric of ``points`` as a series, keyed like the metric_point columns."""
    return {key: series(points, key) for key in LABELS}


def decimate(s: Series, buckets: int) -> Series:
    """At most about ``2 * buckets`` points that draw like ``s``: the first and last point, and the
    lowest and highest of each equal step range, in step order (spikes survive, unlike every n-th)."""
    if len(s) <= 2 * buckets:
        return s
    first, span = s.steps[0], (s.steps[-1] - s.steps[0]) or 1
    keep: set[int] = {0, len(s) - 1}
    start = 0
    for b in range(buckets):
        end = start
        limit = first + span * (b + 1) / buckets
        while end < len(s) and (s.steps[end] <= limit or b == buckets - 1):
            end += 1
        if end > start:
            lo = min(range(start, end), key=s.values.__getitem__)
            hi = max(range(start, end), key=s.values.__getitem__)
            keep.update((lo, hi))
        start = end
    order = sorted(keep)
    return Series(s.key, s.label, tuple(s.steps[i] for i in order), tuple(s.values[i] for i in order))


# -- overfitting --------------------------------------------------------------------------------


def _fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares slope of ys over xs and its standard error (inf when it cannot be known)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0, math.inf
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    if n <= 2:
        return slope, math.inf
    resid = sum((y - (my + slope * (x - mx))) ** 2 for x, y in zip(xs, ys, strict=True))
    return slope, math.sqrt(resid / (n - 2) / sxx)


def _t_critical(df: int, confidence: float) -> float:
    """One-sided Student t quantile (Cornish-Fisher expansion; within 2% for df >= 3)."""
    z = NormalDist().inv_cdf(confidence)
    v = max(df, 1)
    return (z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3))


def _lowest_step(valid: Series) -> tuple[int, float]:
    """The step of the lowest validation loss, after a short moving average so one noisy dip does
    not decide it; returns the step and the raw loss there."""
    n = len(valid)
    half = 2 if n >= 15 else 0
    prefix = [0.0]
    for v in valid.values:
        prefix.append(prefix[-1] + v)

    def smoothed(i: int) -> float:
        lo, hi = max(0, i - half), min(n, i + half + 1)
        return (prefix[hi] - prefix[lo]) / (hi - lo)

    best = min(range(n), key=lambda i: (smoothed(i), i))
    return valid.steps[best], valid.values[best]


def detect_overfitting(points: Sequence[Any], *, window: int | None = None, min_points: int = 5,
                       tolerance: float = 0.02, confidence: float = 0.99) -> Verdict:
    """Flag validation loss rising while training loss falls over the trailing window.

    The window is the last ``window`` validation points (default: a quarter of them, at least
    ``min_points``). Validation loss must rise by more than ``tolerance`` (relative to its mean in
    the window) across the window, with a least-squares slope above zero at ``confidence`` (a one-sided
    t-test, so noise alone seldom raises the flag), while the training loss over the same steps falls
    or stays level (both rising is a diverging run, not overfitting).
    """
    valid, train = series(points, "valid_loss"), series(points, "train_loss")
    if not valid:
        return Verdict(False, "no validation loss was reported; give the job spec validation data "
                              "to detect overfitting")
    k = window or max(min_points, len(valid) // 4)
    k = max(k, min_points)
    if len(valid) < k:
        return Verdict(False, f"too few validation points to judge ({len(valid)}, need {k})")
    steps, values = valid.steps[-k:], valid.values[-k:]
    first, last = steps[0], steps[-1]
    low_step, low = _lowest_step(valid)
    slope_v, se_v = _fit(steps, values)
    rise = slope_v * (last - first) / max(sum(values) / k, 1e-9)
    span = f"steps {first}-{last}"
    if rise <= tolerance or slope_v < _t_critical(k - 2, confidence) * se_v:
        trend = "falling" if rise < -tolerance else "flat within noise"
        return Verdict(False, f"validation loss is {trend} over {span} ({rise:+.1%}); no sign of overfitting")
    in_window = [(s, v) for s, v in zip(train.steps, train.values, strict=True) if first <= s <= last]
    if len(in_window) < 2:
        return Verdict(False, f"validation loss rose {rise:.1%} over {span}, but too few training loss "
                              "points there to tell overfitting from a bad run")
    slope_t, se_t = _fit([s for s, _ in in_window], [v for _, v in in_window])
    mean_t = sum(v for _, v in in_window) / len(in_window)
    change = slope_t * (last - first) / max(mean_t, 1e-9)
    # A training loss that has levelled off still counts: late in a run it falls too slowly to
    # show through batch noise, and that is exactly when overfitting sets in.
    if change > tolerance and slope_t >= _t_critical(len(in_window) - 2, confidence) * se_t:
        return Verdict(False, f"validation loss rose {rise:.1%} over {span} but training loss rose too "
                              f"({change:+.1%}): not overfitting; check the learning rate and the data")
    trend = f"fell {-change:.1%}" if change < 0 else "levelled off"
    return Verdict(True, f"validation loss rose {rise:.1%} over {span} while training loss {trend}; "
                         f"it was lowest ({low:.4g}) at step {low_step}: consider fewer epochs or the "
                         f"checkpoint nearest step {low_step}", from_step=low_step)


# -- terminal -----------------------------------------------------------------------------------


def _int_ticks(lo: int, hi: int, count: int) -> list[int]:
    """At most ``count`` round integer positions from lo to hi."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, count - 1)
    mag = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    ticks = list(range(int(start), hi + 1, int(step)))
    return ticks or [lo, hi]


def terminal_plot(train: Series, valid: Series, *, width: int = 80, height: int = 18, title: str = "loss",
                  mark_step: int | None = None, color: bool = True) -> str:
    """Both loss curves drawn with plotext, legend below the axes; ANSI colours unless ``color`` is off,
    when the validation curve is dotted instead so the two still differ."""
    import plotext

    counts = {s.key: len(s) for s in (train, valid)}
    # Braille cells hold two dots across: more points than that cannot show, only cost time.
    train, valid = decimate(train, width * 2), decimate(valid, width * 2)
    fig = plotext.figure
    fig.clear()
    fig.theme("colorless")
    drawn = [s for s in (train, valid) if s]
    if mark_step is not None:
        # Dots on every row, drawn before the curves so they stay on top; plotext's own vertical
        # line paints a white background that shows on dark terminals.
        lo_v = min(min(s.values) for s in drawn)
        hi_v = max(max(s.values) for s in drawn)
        rows = max(2, height * 2)
        marks = [lo_v + (hi_v - lo_v) * i / (rows - 1) for i in range(rows)]
        fig.draw(fig.signal([mark_step] * rows, marks, marker=plotext.marker("┆", VALID_ANSI)))
    valid_marker = "braille" if color else "·"
    for s, ansi, marker in ((train, TRAIN_ANSI, "braille"), (valid, VALID_ANSI, valid_marker)):
        if s:
            signal = fig.signal(list(s.steps), list(s.values), marker=plotext.marker(marker, ansi))
            fig.draw(signal.lines() if marker == "braille" else signal)
    fig.legend(active=False)  # drawn inside the canvas it hides the start of the curves
    lo = min(s.steps[0] for s in drawn)
    hi = max(s.steps[-1] for s in drawn)
    ticks = _int_ticks(lo, hi, max(2, width // 12))
    fig.ruler("x").ticks(ticks, [str(t) for t in ticks])
    fig.title(title)
    fig.label("step", axis="x")
    fig.plot_size(width, height)
    text = fig.build().string(colorless=not color)
    fig.clear()

    def paint(sample: str, ansi: int) -> str:
        return f"\x1b[38;5;{ansi}m{sample}\x1b[0m" if color else sample

    keys = [(train, paint("━━", TRAIN_ANSI)), (valid, paint("━━" if color else "··", VALID_ANSI))]
    legend = "   ".join(f"{sample} {s.label} ({counts[s.key]} points)" for s, sample in keys if s)
    if mark_step is not None:
        legend += f"   {paint('┆', VALID_ANSI)} lowest validation loss (step {mark_step})"
    return text.rstrip("\n") + "\n" + legend


# -- PNG ----------------------------------------------------------------------------------------


def write_png(path: Path, train: Series, valid: Series, *, title: str = "loss", width: int = 1200,
              height: int = 675, dpi: int = 150, mark_step: int | None = None) -> Path:
    """Draw both loss curves into a PNG of exactly ``width`` x ``height`` pixels (needs matplotlib)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise TuneopsError(f"writing {path} needs matplotlib, which is not installed: {PNG_INSTALL} "
                           "(or use --html, which needs nothing extra)") from None
    # A bare Figure renders with Agg and keeps no global pyplot state between calls.
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    ax = fig.add_subplot()
    markers = len(valid) <= 60
    train, valid = decimate(train, width), decimate(valid, width)
    if train:
        ax.plot(train.steps, train.values, color=TRAIN_COLOR, linewidth=1.2, label=train.label)
    if valid:
        ax.plot(valid.steps, valid.values, color=VALID_COLOR, linewidth=1.6,
                marker="o" if markers else None, markersize=3, label=valid.label)
    if mark_step is not None:
        ax.axvline(mark_step, color=VALID_COLOR, linestyle=":", linewidth=1,
                   label=f"lowest validation loss (step {mark_step})")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    fig.tight_layout()  # moves the axes inside the figure; the pixel size stays as asked
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=dpi)
    return path


# -- HTML ---------------------------------------------------------------------------------------


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering lo..hi."""
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / max(1, count - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10)), key=lambda c: abs(c - raw))
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 1e-9:
        if t >= lo - step * 1e-9:
            ticks.append(round(t, 12))
        t += step
    return ticks


def svg_plot(train: Series, valid: Series, *, width: int = 800, height: int = 420, title: str = "loss",
             mark_step: int | None = None) -> str:
    """Both loss curves as one self-contained SVG element, with axes, axis labels and a legend."""
    drawn = [s for s in (train, valid) if s]
    left, right, top, bottom = 64, 20, 36, 48
    x0 = min(s.steps[0] for s in drawn)
    x1 = max(s.steps[-1] for s in drawn)
    ys = [v for s in drawn for v in s.values]
    y0, y1 = min(ys), max(ys)
    pad = (y1 - y0) * 0.05 or abs(y1) * 0.05 or 1.0
    y0, y1 = y0 - pad, y1 + pad
    pw, ph = width - left - right, height - top - bottom

    def px(step: float) -> float:
        return left + (step - x0) / ((x1 - x0) or 1) * pw

    def py(value: float) -> float:
        return top + (y1 - value) / (y1 - y0) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12" role="img" '
           f'aria-label="{html.escape(title)}">',
           f"<title>{html.escape(title)}</title>",
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>',
           f'<text x="{width / 2:.1f}" y="20" text-anchor="middle" font-size="14">{html.escape(title)}</text>']
    for t in _nice_ticks(y0, y1):
        y = py(t)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{t:g}</text>')
    for t in _int_ticks(x0, x1, 8):
        x = px(t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + ph}" y2="{top + ph + 5}" stroke="#888"/>'
                   f'<text x="{x:.1f}" y="{top + ph + 18}" text-anchor="middle">{t}</text>')
    out.append(f'<text class="axis-label" x="{left + pw / 2:.1f}" y="{height - 8}" '
               f'text-anchor="middle">step</text>')
    out.append(f'<text class="axis-label" x="14" y="{top + ph / 2:.1f}" text-anchor="middle" '
               f'transform="rotate(-90 14 {top + ph / 2:.1f})">loss</text>')
    if mark_step is not None:
        x = px(mark_step)
        out.append(f'<line class="lowest-validation" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + ph}" '
                   f'stroke="{VALID_COLOR}" stroke-dasharray="3 3"/>')
    for s, color in ((train, TRAIN_COLOR), (valid, VALID_COLOR)):
        if s:
            shown = decimate(s, pw)  # a few points per pixel column keep the page small
            pts = " ".join(f"{px(a):.1f},{py(b):.2f}" for a, b in zip(shown.steps, shown.values, strict=True))
            out.append(f'<polyline class="series" id="{s.key}" data-label="{html.escape(s.label)}" '
                       f'data-points="{len(s)}" fill="none" stroke="{color}" stroke-width="1.5" points="{pts}"/>')
    entries = [(s.label, c, "") for s, c in ((train, TRAIN_COLOR), (valid, VALID_COLOR)) if s]
    if mark_step is not None:
        entries.append((f"lowest validation loss (step {mark_step})", VALID_COLOR, ' stroke-dasharray="3 3"'))
    lx, ly = left + pw - 250, top + 10
    out.append(f'<g class="legend"><rect x="{lx - 8}" y="{ly - 6}" width="248" '
               f'height="{12 + 18 * len(entries)}" fill="white" fill-opacity="0.85" stroke="#ccc"/>')
    for i, (label, color, dash) in enumerate(entries):
        y = ly + 8 + 18 * i
        out.append(f'<line x1="{lx}" x2="{lx + 22}" y1="{y}" y2="{y}" stroke="{color}" stroke-width="2"{dash}/>'
                   f'<text x="{lx + 30}" y="{y + 4}">{html.escape(label)}</text>')
    out.append("</g></svg>")
    return "\n".join(out)


def write_html(path: Path, train: Series, valid: Series, *, title: str = "loss",
               verdict: Verdict | None = None) -> Path:
    """Write a standalone HTML page (inline SVG, no external assets) with both loss curves."""
    mark = verdict.from_step if verdict and verdict.flag else None
    note = ""
    if verdict is not None:
        cls, head = ("warning", "Possible overfitting: ") if verdict.flag else ("note", "")
        note = f'<p class="{cls}">{html.escape(head + verdict.reason)}</p>'
    rows = "".join(f"<tr><td>{s.label}</td><td>{len(s)}</td><td>{s.values[-1]:.4g} (step {s.steps[-1]})"
                   f"</td><td>{min(s.values):.4g}</td></tr>" for s in (train, valid) if s)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}
.warning{{color:#a15c00;font-weight:600}} .note{{color:#555}}
table{{border-collapse:collapse}} td,th{{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
{svg_plot(train, valid, title=title, mark_step=mark)}
{note}
<table><tr><th>series</th><th>points</th><th>last</th><th>lowest</th></tr>{rows}</table>
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
