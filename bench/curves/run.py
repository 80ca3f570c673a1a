"""bench/curves: time to judge and draw the loss curves of long runs (terminal, HTML/SVG, PNG).

Synthetic overfitting curves with validation loss at every step, as OpenAI and the sandbox report it.
Usage: python bench/curves/run.py [--steps 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Point:
    step: int
    train_loss: float
    valid_loss: float


def points(n: int) -> list[Point]:
    rng = random.Random(n)
    scale = n / 120
    return [Point(s, 0.3 + 2 * math.exp(-s / (20 * scale)) + rng.uniform(-0.05, 0.05),
                  0.6 + 2 * math.exp(-s / (20 * scale)) + max(0, s / scale - 50) * 0.006 + rng.uniform(-0.03, 0.03))
            for s in range(1, n + 1)]


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, nargs="+", default=[1000, 10_000, 100_000])
    args = parser.parse_args()

    from tuneops.runs import curves

    out = Path(tempfile.mkdtemp(prefix="tuneops-bench-curves-"))
    # First calls pay for imports (plotext, matplotlib); measure them once, apart.
    warm = points(50)
    tr, va = curves.series(warm, "train_loss"), curves.series(warm, "valid_loss")
    print(f"first terminal plot (imports plotext): {timed(lambda: curves.terminal_plot(tr, va)):8.1f} ms")
    print(f"first PNG (imports matplotlib):        {timed(lambda: curves.write_png(out / 'w.png', tr, va)):8.1f} ms")
    print(f"{'steps':>8} {'detect ms':>10} {'terminal ms':>12} {'html ms':>9} {'html KiB':>9} {'png ms':>8} flagged")
    for n in args.steps:
        pts = points(n)
        tr, va = curves.series(pts, "train_loss"), curves.series(pts, "valid_loss")
        verdict = curves.detect_overfitting(pts)
        detect = timed(lambda: curves.detect_overfitting(pts))  # noqa: B023
        term = timed(lambda: curves.terminal_plot(tr, va, width=120, height=24))  # noqa: B023
        html = timed(lambda: curves.write_html(out / f"{n}.html", tr, va, verdict=verdict))  # noqa: B023
        png = timed(lambda: curves.write_png(out / f"{n}.png", tr, va))  # noqa: B023
        size = (out / f"{n}.html").stat().st_size / 1024
        print(f"{n:>8} {detect:>10.1f} {term:>12.1f} {html:>9.1f} {size:>9.0f} {png:>8.1f} {verdict.flag}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
