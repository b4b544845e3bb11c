"""Charts as inline SVG: the report draws its own, so the HTML opens offline and the PDF
printed from it shows the same pictures.

Why not the dashboard's Plotly figures: Plotly is forbidden below the dashboard
(import contract), a self-contained Plotly page carries ~4.6 MB of JavaScript,
and a page drawn by JavaScript must be waited for before printing. SVG is text,
printed by Chromium as vectors, and needs no script.

Two charts, pure functions of plain values (no database, no polars):

* :func:`time_chart` — lines (or stacked areas) over equally spaced times, an
  optional dashed target line; a missing value (None) breaks a line (a mean or
  share over an empty bucket is not zero), and counts as 0 in a stack;
* :func:`bar_chart` — horizontal bars, largest first as given, a note (e.g.
  the share) after each bar; the first bar may be highlighted.

Every text from the data is XML-escaped. Scales start at 0 and end at a round
number (:func:`nice_max`); an empty chart says "no data".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

ACCENT = "#1f77b4"
BAD = "#d62728"
MUTED = "#6b7280"
GRID = "#e5e7eb"
AGING_COLORS = ("#9ecae1", "#4292c6", "#f16913", "#a50f15")


@dataclass(frozen=True, slots=True)
class Line:
    """One series of a :func:`time_chart`."""

    label: str
    values: Sequence[float | None]
    color: str = ACCENT


def nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k that is ≥ ``value`` (1 for 0 or less)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exp = math.floor(math.log10(value))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        top = m * 10.0**exp
        if top >= value * (1 - 1e-12):
            return top
    return 10.0 ** (exp + 1)  # pragma: no cover - the loop ends at 10


def axis(peak: float, ticks: int = 4) -> tuple[float, float]:
    """A value axis from 0 for data up to ``peak``: (top, step), where the step is a
    round number (:func:`nice_max` of ``peak / ticks``) and the top the first
    multiple of it at or above ``peak`` — at most ``ticks`` steps, ``(1, 0.25)``
    for no data."""
    if peak <= 0 or not math.isfinite(peak):
        return 1.0, 0.25
    step = nice_max(peak / ticks)
    return step * max(1, math.ceil(peak / step * (1 - 1e-12))), step


def tick_text(value: float, unit: str) -> str:
    """An axis label: ``50 %`` (shares), ``120k`` (money, counts ≥ 10,000), ``12 h``."""
    if unit == "share":
        return f"{value * 100:g} %"
    suffix = " h" if unit == "hours" else ""
    a = abs(value)
    if a >= 1e6:
        return f"{value / 1e6:g}M{suffix}"
    if a >= 1e4:
        return f"{value / 1e3:g}k{suffix}"
    return f"{value:,.10g}{suffix}"


def _f(x: float) -> str:
    return f"{x:.1f}"


def _text(x: float, y: float, text: str, *, anchor: str = "start", cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}"{c}>{escape(text)}</text>'


def _open(width: int, height: int, title: str) -> list[str]:
    t = escape(title)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="chart" role="img" aria-label="{t}">',
        f"<title>{t}</title>",
        _text(0, 12, title, cls="ct"),
    ]


def time_label(t: datetime, step: timedelta) -> str:
    """``05-04`` at a grain of a day or more, ``05-04 12:00`` below (UTC)."""
    return t.strftime("%m-%d" if step >= timedelta(days=1) else "%m-%d %H:%M")


def time_chart(
    times: Sequence[datetime],
    lines: Sequence[Line],
    *,
    title: str,
    unit: str,
    stacked: bool = False,
    target: float | None = None,
    target_label: str = "",
    y_max: float | None = None,
    width: int = 360,
    height: int = 200,
) -> str:
    """An SVG of ``lines`` over ``times`` (oldest first, equally spaced); see the
    module docstring. ``unit`` is a catalog unit (axis labels); ``y_max`` fixes
    the top of the scale (e.g. 1 for shares)."""
    left, right, top, bottom = 46.0, 10.0, 22.0, 34.0
    pw, ph = width - left - right, height - top - bottom
    n = len(times)
    out = _open(width, height, title)
    if stacked:
        sums = [sum(float(ln.values[i] or 0.0) for ln in lines) for i in range(n)]
        peak = max(sums, default=0.0)
    else:
        peak = max(
            (float(v) for ln in lines for v in ln.values if v is not None and math.isfinite(v)),
            default=0.0,
        )
    if target is not None:
        peak = max(peak, target)
    top_value, tick = axis(y_max if y_max is not None else peak)

    def x(i: int) -> float:
        return left + (pw / 2 if n == 1 else pw * i / (n - 1))

    def y(v: float) -> float:
        return top + ph - ph * min(max(v / top_value, 0.0), 1.0)

    for k in range(round(top_value / tick) + 1):
        v = tick * k
        out.append(
            f'<line x1="{_f(left)}" x2="{_f(left + pw)}" y1="{_f(y(v))}" y2="{_f(y(v))}" '
            f'stroke="{GRID}" stroke-width="0.6"/>'
        )
        out.append(_text(left - 4, y(v) + 3, tick_text(v, unit), anchor="end", cls="tk"))
    step = times[1] - times[0] if n > 1 else timedelta(days=1)
    for i in sorted({round(j * (n - 1) / 3) for j in range(4)} if n else set()):
        anchor = "middle" if n == 1 else "start" if i == 0 else "end" if i == n - 1 else "middle"
        out.append(_text(x(i), top + ph + 11, time_label(times[i], step), anchor=anchor, cls="tk"))
    has_value = any(v is not None for ln in lines for v in ln.values)
    if not n or not has_value:
        out.append(_text(left + pw / 2, top + ph / 2, "no data", anchor="middle", cls="nd"))
    elif stacked:
        base = [0.0] * n
        for ln in lines:
            upper = [base[i] + float(ln.values[i] or 0.0) for i in range(n)]
            if n == 1:
                out.append(
                    f'<rect x="{_f(x(0) - 6)}" y="{_f(y(upper[0]))}" width="12" '
                    f'height="{_f(y(base[0]) - y(upper[0]))}" fill="{ln.color}"/>'
                )
            else:
                pts = [f"{_f(x(i))} {_f(y(upper[i]))}" for i in range(n)]
                pts += [f"{_f(x(i))} {_f(y(base[i]))}" for i in range(n - 1, -1, -1)]
                out.append(f'<path d="M{" L".join(pts)} Z" fill="{ln.color}" stroke="none"/>')
            base = upper
    else:
        for ln in lines:
            out += _segments([x(i) for i in range(n)], [ln.values[i] for i in range(n)], y, ln)
    if target is not None:
        ty = y(target)
        out.append(
            f'<line x1="{_f(left)}" x2="{_f(left + pw)}" y1="{_f(ty)}" y2="{_f(ty)}" '
            f'stroke="{BAD}" stroke-width="1" stroke-dasharray="4 3"/>'
        )
        if target_label:
            out.append(_text(left + pw, ty - 3, target_label, anchor="end", cls="tg"))
    out += _legend(lines, left, height - 6)
    out.append("</svg>")
    return "".join(out)


def _segments(
    xs: Sequence[float], values: Sequence[float | None], y: Callable[[float], float], ln: Line
) -> list[str]:
    out: list[str] = []
    run: list[tuple[float, float]] = []
    for xi, v in [*zip(xs, values, strict=True), (0.0, None)]:
        if v is not None and math.isfinite(v):
            run.append((xi, y(float(v))))
            continue
        if len(run) == 1:
            out.append(
                f'<circle cx="{_f(run[0][0])}" cy="{_f(run[0][1])}" r="2" fill="{ln.color}"/>'
            )
        elif run:
            d = "M" + " L".join(f"{_f(a)} {_f(b)}" for a, b in run)
            out.append(f'<path d="{d}" fill="none" stroke="{ln.color}" stroke-width="1.8"/>')
        run = []
    return out


def _legend(lines: Sequence[Line], x0: float, y0: float) -> list[str]:
    out: list[str] = []
    x = x0
    for ln in lines:
        out.append(f'<rect x="{_f(x)}" y="{_f(y0 - 7)}" width="8" height="8" fill="{ln.color}"/>')
        out.append(_text(x + 11, y0, ln.label, cls="lg"))
        x += 20 + 5.2 * len(ln.label)
    return out


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    notes: Sequence[str],
    *,
    title: str,
    unit: str,
    width: int = 360,
    bar: int = 15,
    label_width: int = 120,
    highlight_first: bool = True,
) -> str:
    """Horizontal bars of ``values`` (missing = no bar) labelled ``labels``, with
    ``notes`` after each bar; the scale's end is written under the bars."""
    top, bottom, right = 22.0, 16.0, 70.0
    n = len(labels)
    height = int(top + max(n, 1) * (bar + 4) + bottom)
    pw = width - label_width - right
    out = _open(width, height, title)
    peak = max((float(v) for v in values if v is not None), default=0.0)
    scale, _ = axis(peak)
    if n == 0 or peak <= 0:
        out.append(_text(width / 2, top + 14, "no data", anchor="middle", cls="nd"))
    for i, (lab, v, note) in enumerate(zip(labels, values, notes, strict=True)):
        yy = top + i * (bar + 4)
        out.append(_text(label_width - 6, yy + bar - 4, _short(lab, 24), anchor="end", cls="bl"))
        w = 0.0 if v is None else pw * max(float(v), 0.0) / scale
        color = BAD if highlight_first and i == 0 else ACCENT
        if w > 0:
            out.append(
                f'<path d="M{_f(label_width)} {_f(yy)} h{_f(w)} v{bar} h{_f(-w)} Z" '
                f'fill="{color}"/>'
            )
        out.append(_text(label_width + w + 4, yy + bar - 4, note, cls="bn"))
    axis_y = top + max(n, 1) * (bar + 4) + 10
    out.append(_text(label_width, axis_y, "0", cls="tk"))
    out.append(_text(label_width + pw, axis_y, tick_text(scale, unit), anchor="end", cls="tk"))
    out.append("</svg>")
    return "".join(out)
