"""The start-up timeline (Gantt) as a server-side SVG (no Django, no JavaScript).

One row per site: a solid bar from the site's first dated milestone to its last recorded one, a dashed bar on
to the projected activation, and a mark per milestone at its actual date (done) or planned date (open),
shaped and coloured by state so the chart reads without colour too. A vertical line marks today. The chart
is an accessible inline SVG (role="img", <title>, <desc>); the tracker page shows the same dates as a table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from trialdesk.enrollment.charts import CHAR_WIDTH, FONT, DateScale, date_ticks

# state -> (colour, shape, legend label); colours meet WCAG AA against white.
MARKS = {
    "done": ("#1d4ed8", "circle", "Done (actual date)"),
    "on_track": ("#4b5563", "ring", "Planned"),
    "at_risk": ("#b45309", "triangle", "At risk (planned date)"),
    "overdue": ("#b91c1c", "diamond", "Overdue (planned date)"),
    "projected": ("#6d28d9", "flag", "Projected activation"),
}
BAR_DONE = "#93c5fd"
BAR_AHEAD = "#c4b5fd"
TODAY_COLOUR = "#111827"
ROW_HEIGHT = 28
MAX_LABEL_CHARS = 34


@dataclass(frozen=True)
class GanttMark:
    key: str
    label: str
    day: dt.date
    state: str        # done | on_track | at_risk | overdue | projected


@dataclass(frozen=True)
class GanttRow:
    key: str
    label: str
    marks: Sequence[GanttMark]
    detail: str = ""  # e.g. the site's status, shown in the row's tooltip


def _fmt(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _shape(kind: str, x: float, y: float, colour: str) -> str:
    r = 5.5
    if kind == "circle":
        return f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="{_fmt(r)}" fill="{colour}"/>'
    if kind == "ring":
        return (f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="{_fmt(r - 1)}" fill="#ffffff" stroke="{colour}" '
                'stroke-width="2"/>')
    if kind == "triangle":
        return (f'<path d="M{_fmt(x)} {_fmt(y - r - 1)} L{_fmt(x + r + 1)} {_fmt(y + r)} '
                f'L{_fmt(x - r - 1)} {_fmt(y + r)} Z" fill="{colour}"/>')
    if kind == "diamond":
        return (f'<path d="M{_fmt(x)} {_fmt(y - r - 1)} L{_fmt(x + r + 1)} {_fmt(y)} L{_fmt(x)} {_fmt(y + r + 1)} '
                f'L{_fmt(x - r - 1)} {_fmt(y)} Z" fill="{colour}"/>')
    # flag: a pole with a pennant
    return (f'<path d="M{_fmt(x)} {_fmt(y + r + 2)} L{_fmt(x)} {_fmt(y - r - 3)} L{_fmt(x + 9)} {_fmt(y - r + 1)} '
            f'L{_fmt(x)} {_fmt(y - 1)}" fill="{colour}" stroke="{colour}" stroke-width="1.5"/>')


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "…"


def extent(rows: Sequence[GanttRow], today: dt.date) -> tuple[dt.date, dt.date] | None:
    days = [m.day for r in rows for m in r.marks]
    if not days:
        return None
    start, end = min(days + [today]), max(days + [today])
    if (end - start).days < 30:
        end = start + dt.timedelta(days=30)
    return start - dt.timedelta(days=7), end + dt.timedelta(days=7)


def gantt_svg(*, chart_id: str, title: str, desc: str, rows: Sequence[GanttRow], today: dt.date,
              width: int = 960) -> str:
    ident = escape(chart_id, quote=True)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart chart--gantt" data-chart="{ident}" '
            f'aria-labelledby="{ident}-title {ident}-desc"')
    labels = f'<title id="{ident}-title">{escape(title)}</title><desc id="{ident}-desc">{escape(desc)}</desc>'
    span = extent(rows, today)
    if span is None:
        return (f'{head} viewBox="0 0 {width} 80">{labels}<text x="{width / 2}" y="44" text-anchor="middle" '
                f'{FONT} fill="#4b5563">No start-up dates to chart yet.</text></svg>')
    start, end = span
    label_width = min(MAX_LABEL_CHARS, max(len(_short(r.label)) for r in rows)) * CHAR_WIDTH + 16
    left, right, top = label_width, width - 24, 30
    plot_bottom = top + ROW_HEIGHT * len(rows)
    height = plot_bottom + 90
    xs = DateScale(start, end, left, right)
    parts = [f'{head} viewBox="0 0 {width} {height}" preserveAspectRatio="xMidYMid meet">{labels}']

    # Month / quarter ticks along the top and grid lines down the rows.
    parts.append('<g class="axis axis--x">')
    for day, label in date_ticks(start, end, max_ticks=max(2, int((right - left) // 90))):
        x = _fmt(xs(day))
        parts.append(f'<line x1="{x}" y1="{top - 4}" x2="{x}" y2="{_fmt(plot_bottom)}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{x}" y="{top - 10}" text-anchor="middle" {FONT} fill="#374151">'
                     f'{escape(label)}</text>')
    parts.append("</g>")

    for index, row in enumerate(rows):
        y = top + ROW_HEIGHT * index + ROW_HEIGHT / 2
        key = escape(row.key, quote=True)
        tooltip = escape(row.label + (f" — {row.detail}" if row.detail else ""))
        parts.append(f'<g class="gantt-row" data-row="{key}"><title>{tooltip}</title>')
        if index % 2 == 0:
            parts.append(f'<rect x="0" y="{_fmt(y - ROW_HEIGHT / 2)}" width="{width}" height="{ROW_HEIGHT}" '
                         'fill="#f9fafb"/>')
        parts.append(f'<text x="{_fmt(left - 8)}" y="{_fmt(y)}" dy="4" text-anchor="end" {FONT} fill="#111827">'
                     f'{escape(_short(row.label))}</text>')
        days = sorted(m.day for m in row.marks)
        done = sorted(m.day for m in row.marks if m.state == "done")
        first, last = days[0], days[-1]
        if done:
            parts.append(f'<rect class="bar bar--done" x="{_fmt(xs(first))}" y="{_fmt(y - 4)}" '
                         f'width="{_fmt(max(2.0, xs(done[-1]) - xs(first)))}" height="8" fill="{BAR_DONE}" rx="2"/>')
        ahead_from = done[-1] if done else first
        if last > ahead_from:
            parts.append(f'<rect class="bar bar--ahead" x="{_fmt(xs(ahead_from))}" y="{_fmt(y - 3)}" '
                         f'width="{_fmt(xs(last) - xs(ahead_from))}" height="6" fill="none" stroke="{BAR_AHEAD}" '
                         'stroke-width="1.5" stroke-dasharray="4 3" rx="2"/>')
        for mark in sorted(row.marks, key=lambda m: (m.state == "projected", m.day)):
            colour, shape, state_label = MARKS.get(mark.state, MARKS["on_track"])
            parts.append(f'<g class="mark mark--{escape(mark.state, quote=True)}" '
                         f'data-milestone="{escape(mark.key, quote=True)}">'
                         f'{_shape(shape, xs(mark.day), y, colour)}<title>{escape(mark.label)}: '
                         f'{mark.day.isoformat()} ({escape(state_label)})</title></g>')
        parts.append("</g>")

    x_today = _fmt(xs(today))
    parts.append(f'<g class="today"><line x1="{x_today}" y1="{top - 4}" x2="{x_today}" y2="{_fmt(plot_bottom)}" '
                 f'stroke="{TODAY_COLOUR}" stroke-width="1.5" stroke-dasharray="2 3"/>'
                 f'<text x="{x_today}" y="{_fmt(plot_bottom + 14)}" text-anchor="middle" {FONT} '
                 f'fill="{TODAY_COLOUR}">Today</text></g>')

    # Legend.
    x, y = float(left), plot_bottom + 42
    parts.append('<g class="legend">')
    for state, (colour, shape, label) in MARKS.items():
        item = 22 + len(label) * CHAR_WIDTH + 16
        if x + item > right and x > left:
            x, y = float(left), y + 18
        parts.append(f'<g class="legend-item" data-state="{state}">{_shape(shape, x + 6, y, colour)}'
                     f'<text x="{_fmt(x + 18)}" y="{_fmt(y + 4)}" {FONT} fill="#111827">{escape(label)}</text></g>')
        x += item
    parts.append("</g></svg>")
    return "".join(parts)
