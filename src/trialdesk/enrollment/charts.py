"""Server-side SVG charts for enrollment (no Django, no JavaScript, no external library).

The cumulative chart draws actual enrollment (a step line), plan baselines (dashed), the forecast median
and its prediction band; the funnel draws the screening-to-enrollment stages as bars. Each chart is an
accessible inline SVG: role="img" with a <title> and <desc>, axis labels and a legend. The same numbers
are also given as a table (`series_table`) that the page shows below the chart for screen readers.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

Point = tuple[dt.date, float]

# Line styles per series kind: colour (WCAG AA against white), width, dash pattern. Kinds differ by dash
# pattern too, so the chart reads without colour.
STYLES: dict[str, dict[str, str]] = {
    "actual": {"stroke": "#1d4ed8", "width": "2.5", "dash": ""},
    "plan": {"stroke": "#15803d", "width": "2", "dash": "8 4"},
    "baseline": {"stroke": "#6b7280", "width": "1.5", "dash": "3 3"},
    "forecast": {"stroke": "#b45309", "width": "2", "dash": "12 3 2 3"},
    "scenario": {"stroke": "#be185d", "width": "2.5", "dash": "6 2"},
}
BAND_FILL = "#f59e0b"
BAND_OPACITY = "0.22"
# Reference lines: a date (vertical) and a count such as the target (horizontal).
MARKER_STYLES = {"date": ("#7c3aed", "1 3"), "value": ("#111827", "6 3 1 3")}
FONT = "font-family=\"system-ui, sans-serif\" font-size=\"12\""
CHAR_WIDTH = 6.8  # rough width of a 12px character, for layout


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    points: Sequence[Point]
    kind: str = "actual"          # actual | plan | baseline | forecast | scenario
    step: bool = False            # drawn as a step line (counts change on a day, not gradually)

    def value_on(self, day: dt.date) -> float | None:
        """The series' value on `day` (step or linear interpolation); None outside its date range."""
        pts = self.points
        if not pts or day < pts[0][0] or day > pts[-1][0]:
            return None
        previous = pts[0]
        for point in pts:
            if point[0] == day:
                return point[1]
            if point[0] > day:
                if self.step:
                    return previous[1]
                span = (point[0] - previous[0]).days
                return previous[1] + (point[1] - previous[1]) * (day - previous[0]).days / span
            previous = point
        return previous[1]


@dataclass(frozen=True)
class Band:
    key: str
    label: str
    lower: Sequence[Point]
    upper: Sequence[Point]


@dataclass(frozen=True)
class Marker:
    """A labelled reference line: vertical at `day` (e.g. planned last subject in) or horizontal at `value`."""

    label: str
    day: dt.date | None = None
    value: float | None = None


@dataclass
class Layout:
    width: int = 760
    height: int = 380
    left: int = 64
    right: int = 24
    top: int = 16
    bottom: int = 88       # x tick labels, x axis label and the legend
    legend_rows: int = field(default=1)

    @property
    def plot_left(self) -> float:
        return self.left

    @property
    def plot_right(self) -> float:
        return self.width - self.right

    @property
    def plot_top(self) -> float:
        return self.top

    @property
    def plot_bottom(self) -> float:
        return self.height - self.bottom


# --- scales and ticks ----------------------------------------------------------------------------------

class LinearScale:
    """Maps a numeric domain onto a pixel range (either direction)."""

    def __init__(self, lo: float, hi: float, r0: float, r1: float):
        if hi <= lo:
            hi = lo + 1
        self.lo, self.hi, self.r0, self.r1 = lo, hi, r0, r1

    def __call__(self, value: float) -> float:
        return self.r0 + (value - self.lo) / (self.hi - self.lo) * (self.r1 - self.r0)


class DateScale(LinearScale):
    def __init__(self, start: dt.date, end: dt.date, r0: float, r1: float):
        super().__init__(start.toordinal(), end.toordinal(), r0, r1)

    def __call__(self, value: dt.date) -> float:  # type: ignore[override]
        return super().__call__(value.toordinal())


def nice_step(span: float, count: int) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about `count` intervals over `span`."""
    raw = span / max(count, 1)
    if raw <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if multiple * magnitude >= raw - 1e-12:
            return multiple * magnitude
    return 10 * magnitude


def nice_ticks(lo: float, hi: float, count: int = 5, *, integer: bool = True) -> list[float]:
    """Round tick values covering [lo, hi]: the first at or below lo, the last at or above hi."""
    if hi <= lo:
        hi = lo + 1
    step = nice_step(hi - lo, count)
    if integer:
        step = max(1.0, float(math.ceil(step)))
    first = math.floor(lo / step) * step
    last = math.ceil(hi / step) * step
    n = round((last - first) / step)
    return [round(first + i * step, 10) for i in range(n + 1)]


_MONTH_STEPS = (1, 2, 3, 6, 12, 24, 60, 120)


def date_ticks(start: dt.date, end: dt.date, max_ticks: int = 8) -> list[tuple[dt.date, str]]:
    """First-of-month ticks between start and end, every 1, 2, 3, 6, 12… months so at most max_ticks fit.

    Labels are "Mar 2026" for sub-yearly steps and "2026" for yearly ones.
    """
    if end < start:
        start, end = end, start
    first = (start.year, start.month) if start.day == 1 else _next_month(start.year, start.month)
    months = (end.year - first[0]) * 12 + end.month - first[1] + 1
    for step in _MONTH_STEPS:
        if math.ceil(max(months, 1) / step) <= max_ticks:
            break
    ticks = []
    year, month = first
    index = year * 12 + month - 1
    # Align to the step (quarters start in Jan/Apr/Jul/Oct, years in January).
    index += (-index) % step
    while True:
        year, month = divmod(index, 12)
        day = dt.date(year, month + 1, 1)
        if day > end:
            break
        label = str(year) if step >= 12 else day.strftime("%b %Y")
        ticks.append((day, label))
        index += step
    return ticks


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


# --- paths ---------------------------------------------------------------------------------------------

def _fmt(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def line_path(points: Sequence[Point], xs: DateScale, ys: LinearScale) -> str:
    """SVG path data through the points with straight segments."""
    if not points:
        return ""
    parts = [f"M{_fmt(xs(points[0][0]))} {_fmt(ys(points[0][1]))}"]
    parts += [f"L{_fmt(xs(d))} {_fmt(ys(v))}" for d, v in points[1:]]
    return " ".join(parts)


def step_path(points: Sequence[Point], xs: DateScale, ys: LinearScale) -> str:
    """SVG path data for a step line: the value holds until the next point's day, then jumps."""
    if not points:
        return ""
    parts = [f"M{_fmt(xs(points[0][0]))} {_fmt(ys(points[0][1]))}"]
    for day, value in points[1:]:
        parts.append(f"H{_fmt(xs(day))} V{_fmt(ys(value))}")
    return " ".join(parts)


def band_path(lower: Sequence[Point], upper: Sequence[Point], xs: DateScale, ys: LinearScale) -> str:
    """A closed area between two curves: along the upper curve, back along the lower one."""
    if not lower or not upper:
        return ""
    forward = [f"{_fmt(xs(d))} {_fmt(ys(v))}" for d, v in upper]
    backward = [f"{_fmt(xs(d))} {_fmt(ys(v))}" for d, v in reversed(lower)]
    return "M" + " L".join(forward + backward) + " Z"


# --- the cumulative enrollment chart -------------------------------------------------------------------

def chart_extent(series: Sequence[Series], bands: Sequence[Band], markers: Sequence[Marker]
                 ) -> tuple[dt.date, dt.date, float] | None:
    """(first day, last day, largest value) over everything drawn; None when there is nothing to draw."""
    days = [d for s in series for d, _ in s.points] + [d for b in bands for d, _ in (*b.lower, *b.upper)]
    days += [m.day for m in markers if m.day is not None]
    values = [v for s in series for _, v in s.points] + [v for b in bands for _, v in b.upper]
    values += [m.value for m in markers if m.value is not None]
    if not days:
        return None
    return min(days), max(days), max(values, default=0.0)


def _legend(items: list[tuple[str, str]], x0: float, y0: float, width: float) -> tuple[list[str], int]:
    """Legend entries (kind, label) laid out in rows; returns the SVG parts and the number of rows."""
    parts: list[str] = []
    x, y, rows = x0, y0, 1
    for kind, label in items:
        item_width = 34 + len(label) * CHAR_WIDTH + 18
        if x + item_width > x0 + width and x > x0:
            x, y, rows = x0, y + 20, rows + 1
        if kind == "band":
            swatch = (f'<rect x="{_fmt(x)}" y="{_fmt(y - 6)}" width="26" height="12" fill="{BAND_FILL}" '
                      f'fill-opacity="{BAND_OPACITY}" stroke="{BAND_FILL}"/>')
        elif kind.startswith("marker-"):
            stroke, dash = MARKER_STYLES[kind.removeprefix("marker-")]
            swatch = (f'<line x1="{_fmt(x)}" y1="{_fmt(y)}" x2="{_fmt(x + 26)}" y2="{_fmt(y)}" '
                      f'stroke="{stroke}" stroke-width="1.5" stroke-dasharray="{dash}"/>')
        else:
            style = STYLES[kind]
            dash = f' stroke-dasharray="{style["dash"]}"' if style["dash"] else ""
            swatch = (f'<line x1="{_fmt(x)}" y1="{_fmt(y)}" x2="{_fmt(x + 26)}" y2="{_fmt(y)}" '
                      f'stroke="{style["stroke"]}" stroke-width="{style["width"]}"{dash}/>')
        parts.append(f'<g class="legend-item">{swatch}<text x="{_fmt(x + 32)}" y="{_fmt(y + 4)}" {FONT} '
                     f'fill="#111827">{escape(label)}</text></g>')
        x += item_width
    return parts, rows


def _legend_rows(labels: Sequence[str], width: float) -> int:
    rows, x = 1, 0.0
    for label in labels:
        item = 34 + len(label) * CHAR_WIDTH + 18
        if x + item > width and x > 0:
            rows, x = rows + 1, 0.0
        x += item
    return rows


def cumulative_chart_svg(*, chart_id: str, title: str, desc: str, series: Sequence[Series],
                         bands: Sequence[Band] = (), markers: Sequence[Marker] = (), width: int = 760,
                         height: int = 380, y_label: str = "Subjects enrolled (cumulative)",
                         x_label: str = "Date") -> str:
    """The actual / plan / forecast chart as an SVG string (an empty-state SVG when there is no data).

    `height` is for a one-row legend; the SVG grows by a row's height for each further legend row.
    """
    ident = escape(chart_id, quote=True)
    extent = chart_extent(series, bands, markers)
    if extent is None:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} 120" role="img" '
                f'class="chart chart--cumulative" data-chart="{ident}" aria-labelledby="{ident}-title '
                f'{ident}-desc"><title id="{ident}-title">{escape(title)}</title><desc id="{ident}-desc">'
                f'{escape(desc)}</desc><text x="{width / 2}" y="60" text-anchor="middle" {FONT} '
                'fill="#4b5563">No enrollment data to chart yet.</text></svg>')
    start, end, top_value = extent
    if end <= start:
        end = start + dt.timedelta(days=30)
    drawn_series = [s for s in series if s.points]
    drawn_markers = [m for m in markers if (m.day is not None and start <= m.day <= end)
                     or (m.day is None and m.value is not None)]
    legend_items = ([("band", b.label) for b in bands] + [(s.kind, s.label) for s in drawn_series]
                    + [("marker-date" if m.day is not None else "marker-value", m.label) for m in drawn_markers])
    probe = Layout(width=width, height=height)
    rows = _legend_rows([label for _, label in legend_items], probe.plot_right - probe.plot_left)
    layout = Layout(width=width, height=height + 20 * (rows - 1), bottom=probe.bottom + 20 * (rows - 1))

    y_ticks = nice_ticks(0, max(top_value, 1.0), 5)
    xs = DateScale(start, end, layout.plot_left, layout.plot_right)
    ys = LinearScale(0, y_ticks[-1], layout.plot_bottom, layout.plot_top)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {layout.width} {layout.height}" role="img" '
             f'class="chart chart--cumulative" data-chart="{ident}" '
             f'aria-labelledby="{ident}-title {ident}-desc" preserveAspectRatio="xMidYMid meet">'
             f'<title id="{ident}-title">{escape(title)}</title><desc id="{ident}-desc">{escape(desc)}</desc>']

    # Grid and y axis.
    parts.append('<g class="axis axis--y">')
    for tick in y_ticks:
        y = _fmt(ys(tick))
        parts.append(f'<line x1="{_fmt(layout.plot_left)}" y1="{y}" x2="{_fmt(layout.plot_right)}" y2="{y}" '
                     'stroke="#e5e7eb" stroke-width="1"/>')
        parts.append(f'<text x="{_fmt(layout.plot_left - 8)}" y="{y}" dy="4" text-anchor="end" {FONT} '
                     f'fill="#374151">{_fmt(tick)}</text>')
    mid_y = (layout.plot_top + layout.plot_bottom) / 2
    parts.append(f'<text class="axis-label" transform="translate(16 {_fmt(mid_y)}) rotate(-90)" '
                 f'text-anchor="middle" {FONT} fill="#111827">{escape(y_label)}</text></g>')

    # X axis with month/quarter/year ticks.
    parts.append('<g class="axis axis--x">')
    bottom = _fmt(layout.plot_bottom)
    parts.append(f'<line x1="{_fmt(layout.plot_left)}" y1="{bottom}" x2="{_fmt(layout.plot_right)}" '
                 f'y2="{bottom}" stroke="#6b7280" stroke-width="1"/>')
    max_ticks = max(2, int((layout.plot_right - layout.plot_left) // 80))
    for day, label in date_ticks(start, end, max_ticks=max_ticks):
        x = _fmt(xs(day))
        parts.append(f'<line x1="{x}" y1="{bottom}" x2="{x}" y2="{_fmt(layout.plot_bottom + 5)}" '
                     'stroke="#6b7280"/>')
        parts.append(f'<text x="{x}" y="{_fmt(layout.plot_bottom + 19)}" text-anchor="middle" {FONT} '
                     f'fill="#374151">{escape(label)}</text>')
    parts.append(f'<text class="axis-label" x="{_fmt((layout.plot_left + layout.plot_right) / 2)}" '
                 f'y="{_fmt(layout.plot_bottom + 38)}" text-anchor="middle" {FONT} fill="#111827">'
                 f'{escape(x_label)}</text></g>')

    for band in bands:
        path = band_path(band.lower, band.upper, xs, ys)
        parts.append(f'<path class="band" data-series="{escape(band.key, quote=True)}" d="{path}" '
                     f'fill="{BAND_FILL}" fill-opacity="{BAND_OPACITY}" stroke="none"><title>'
                     f'{escape(band.label)}</title></path>')
    # Earlier baselines under the current plan, the forecast over them, the actual line on top.
    order = {"baseline": 0, "plan": 1, "forecast": 2, "scenario": 3, "actual": 4}
    for s in sorted(drawn_series, key=lambda s: order.get(s.kind, 9)):
        style = STYLES[s.kind]
        dash = f' stroke-dasharray="{style["dash"]}"' if style["dash"] else ""
        path = step_path(s.points, xs, ys) if s.step else line_path(s.points, xs, ys)
        parts.append(f'<path class="series series--{s.kind}" data-series="{escape(s.key, quote=True)}" '
                     f'd="{path}" fill="none" stroke="{style["stroke"]}" stroke-width="{style["width"]}"'
                     f'{dash} stroke-linejoin="round"><title>{escape(s.label)}</title></path>')
    for marker in drawn_markers:
        label = escape(marker.label)
        if marker.day is not None:
            x = _fmt(xs(marker.day))
            x1, y1, x2, y2 = x, _fmt(layout.plot_top), x, bottom
            stroke, dash = MARKER_STYLES["date"]
        else:
            y = _fmt(ys(marker.value))
            x1, y1, x2, y2 = _fmt(layout.plot_left), y, _fmt(layout.plot_right), y
            stroke, dash = MARKER_STYLES["value"]
        parts.append(f'<g class="marker"><line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{stroke}" '
                     f'stroke-width="1.5" stroke-dasharray="{dash}"/><title>{label}</title></g>')

    legend, _rows = _legend(legend_items, layout.plot_left, layout.plot_bottom + 62,
                            layout.plot_right - layout.plot_left)
    parts.append('<g class="legend">' + "".join(legend) + "</g>")
    parts.append("</svg>")
    return "".join(parts)


# --- the data table behind a chart ---------------------------------------------------------------------

def series_table(days: Sequence[dt.date], series: Sequence[Series], bands: Sequence[Band] = ()
                 ) -> tuple[list[str], list[list[float | None]]]:
    """Column headers and one row per day: each series' value (and each band's low/high) on that day."""
    headers = [s.label for s in series]
    for band in bands:
        headers += [f"{band.label} (low)", f"{band.label} (high)"]
    rows = []
    for day in days:
        row = [s.value_on(day) for s in series]
        for band in bands:
            row += [Series("lo", "", band.lower).value_on(day), Series("hi", "", band.upper).value_on(day)]
        rows.append(row)
    return headers, rows


# --- the funnel ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FunnelStage:
    key: str
    label: str
    count: int
    outcome: bool = False   # screen failed / withdrawn: shown apart, in another colour


def funnel_chart_svg(*, chart_id: str, title: str, desc: str, stages: Sequence[FunnelStage],
                     width: int = 760) -> str:
    """Horizontal bars, one per stage, scaled to the largest count, each labelled with its count."""
    ident = escape(chart_id, quote=True)
    label_width = max([len(s.label) for s in stages] + [8]) * CHAR_WIDTH + 16
    row_height, gap = 30, 18
    outcomes = [s for s in stages if s.outcome]
    height = 12 + row_height * len(stages) + (gap if outcomes else 0)
    biggest = max([s.count for s in stages] + [1])
    bar_left = label_width
    bar_room = width - bar_left - 70
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'class="chart chart--funnel" data-chart="{ident}" aria-labelledby="{ident}-title {ident}-desc">'
             f'<title id="{ident}-title">{escape(title)}</title><desc id="{ident}-desc">{escape(desc)}</desc>']
    y = 6.0
    seen_outcome = False
    for stage in stages:
        if stage.outcome and not seen_outcome:
            y += gap
            seen_outcome = True
        bar = 0.0 if stage.count <= 0 else max(2.0, stage.count / biggest * bar_room)
        colour = "#b91c1c" if stage.outcome else "#1d4ed8"
        key = escape(stage.key, quote=True)
        parts.append(
            f'<g class="funnel-stage" data-stage="{key}">'
            f'<text x="{_fmt(bar_left - 8)}" y="{_fmt(y + row_height / 2)}" dy="4" text-anchor="end" {FONT} '
            f'fill="#111827">{escape(stage.label)}</text>'
            f'<rect x="{_fmt(bar_left)}" y="{_fmt(y + 4)}" width="{_fmt(bar)}" height="{row_height - 8}" '
            f'fill="{colour}" rx="2"><title>{escape(stage.label)}: {stage.count}</title></rect>'
            f'<text x="{_fmt(bar_left + bar + 6)}" y="{_fmt(y + row_height / 2)}" dy="4" {FONT} '
            f'fill="#111827">{stage.count}</text></g>')
        y += row_height
    parts.append("</svg>")
    return "".join(parts)
