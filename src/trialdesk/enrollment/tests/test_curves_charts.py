"""The pure parts: planned curve arithmetic and the SVG chart builders (no database)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from trialdesk.enrollment import charts, curves
from trialdesk.enrollment.curves import DAYS_PER_MONTH, PlannedRate

D = dt.date


# --- planned curve -------------------------------------------------------------------------------------

def test_one_entry_enrolls_its_rate_per_month_from_activation_until_its_cap():
    entry = PlannedRate(D(2026, 1, 1), 2.0, cap=5)
    assert entry.planned_by(D(2025, 12, 31)) == 0
    assert entry.planned_by(D(2026, 1, 1)) == 0
    assert entry.planned_by(D(2026, 1, 1) + dt.timedelta(days=round(DAYS_PER_MONTH * 2))) == pytest.approx(4, 0.01)
    assert entry.planned_by(D(2027, 1, 1)) == 5  # capped
    # The cap is reached after 2.5 months.
    assert entry.cap_reached_on() == D(2026, 1, 1) + dt.timedelta(days=77)


def test_plan_total_is_the_sum_of_entries_capped_by_the_target():
    entries = [PlannedRate(D(2026, 1, 1), 3.0), PlannedRate(D(2026, 7, 1), 1.5)]
    on = D(2026, 12, 31)
    expected = 3.0 * (on - D(2026, 1, 1)).days / DAYS_PER_MONTH + 1.5 * (on - D(2026, 7, 1)).days / DAYS_PER_MONTH
    assert curves.planned_cumulative(entries, on) == pytest.approx(expected)
    assert curves.planned_cumulative(entries, on, target=20) == 20


def test_plan_reaches_a_count_on_the_exact_day_and_the_curve_has_that_breakpoint():
    entries = [PlannedRate(D(2026, 1, 1), 2.0, cap=6), PlannedRate(D(2026, 2, 1), 1.0)]
    reached = curves.plan_reaches(entries, 10)
    assert curves.planned_cumulative(entries, reached) >= 10
    assert curves.planned_cumulative(entries, reached - dt.timedelta(days=1)) < 10
    points = curves.planned_curve(entries, D(2025, 12, 1), D(2028, 1, 1), target=10)
    days = [d for d, _ in points]
    assert days[0] == D(2025, 12, 1) and days[-1] == D(2028, 1, 1)
    assert {D(2026, 1, 1), D(2026, 2, 1), entries[0].cap_reached_on(), reached} <= set(days)
    assert points[-1][1] == 10 and all(v <= 10 for _, v in points)
    assert [v for _, v in points] == sorted(v for _, v in points)  # cumulative: never decreases


def test_plan_without_rate_never_reaches_its_target():
    assert curves.plan_reaches([PlannedRate(D(2026, 1, 1), 0.0)], 5) is None
    assert curves.plan_reaches([], 5) is None


def test_actual_steps_months_and_rates():
    steps = curves.cumulative_steps({D(2026, 3, 5): 2, D(2026, 1, 10): 1, D(2026, 3, 20): 1})
    assert steps == [(D(2026, 1, 10), 1), (D(2026, 3, 5), 3), (D(2026, 3, 20), 4)]
    assert curves.cumulative_on(steps, D(2026, 3, 4)) == 1
    assert curves.cumulative_on(steps, D(2026, 12, 1)) == 4
    assert curves.month_ends(D(2025, 11, 15), D(2026, 2, 1)) == [D(2025, 11, 30), D(2025, 12, 31), D(2026, 1, 31),
                                                                 D(2026, 2, 28)]
    assert curves.rate_per_month(6, D(2026, 1, 1), D(2026, 1, 1) + dt.timedelta(days=round(3 * DAYS_PER_MONTH))) \
        == pytest.approx(2.0, 0.01)
    assert curves.rate_per_month(3, None, D(2026, 1, 1)) is None
    assert curves.rate_per_month(3, D(2026, 1, 1), D(2026, 1, 1)) is None


# --- scales and ticks ----------------------------------------------------------------------------------

def test_nice_ticks_are_round_and_cover_the_range():
    assert charts.nice_ticks(0, 37) == [0, 10, 20, 30, 40]
    assert charts.nice_ticks(0, 400) == [0, 100, 200, 300, 400]
    assert charts.nice_ticks(0, 3) == [0, 1, 2, 3]
    assert charts.nice_ticks(0, 0) == [0, 1]
    assert charts.nice_step(1000, 4) == 250


def test_date_ticks_pick_months_quarters_or_years():
    monthly = charts.date_ticks(D(2026, 1, 15), D(2026, 6, 30), max_ticks=8)
    assert monthly == [(D(2026, m, 1), D(2026, m, 1).strftime("%b %Y")) for m in range(2, 7)]
    quarterly = charts.date_ticks(D(2026, 1, 1), D(2027, 12, 31), max_ticks=8)
    assert [d for d, _ in quarterly] == [D(y, m, 1) for y in (2026, 2027) for m in (1, 4, 7, 10)]
    yearly = charts.date_ticks(D(2025, 3, 1), D(2034, 6, 1), max_ticks=10)
    assert [label for _, label in yearly] == [str(y) for y in range(2026, 2035)]


def test_scales_map_domain_to_pixels():
    xs = charts.DateScale(D(2026, 1, 1), D(2026, 1, 11), 100, 200)
    ys = charts.LinearScale(0, 50, 300, 0)
    assert xs(D(2026, 1, 6)) == 150
    assert ys(25) == 150


def test_paths_have_the_expected_coordinates():
    xs = charts.DateScale(D(2026, 1, 1), D(2026, 1, 11), 0, 100)
    ys = charts.LinearScale(0, 10, 100, 0)
    pts = [(D(2026, 1, 1), 0), (D(2026, 1, 6), 5), (D(2026, 1, 11), 10)]
    assert charts.line_path(pts, xs, ys) == "M0 100 L50 50 L100 0"
    assert charts.step_path(pts, xs, ys) == "M0 100 H50 V50 H100 V0"
    band = charts.band_path(pts, [(d, v + 2) for d, v in pts], xs, ys)
    assert band.startswith("M0 80") and band.endswith(" Z") and "L0 100" in band


# --- charts --------------------------------------------------------------------------------------------

def _series():
    actual = charts.Series("actual", "Actual enrolled", [(D(2026, 1, 1), 0), (D(2026, 2, 1), 3), (D(2026, 3, 1), 5)],
                           kind="actual", step=True)
    plan = charts.Series("plan-2", "Plan baseline 2 (current)", [(D(2026, 1, 1), 0), (D(2026, 12, 31), 24)],
                         kind="plan")
    old = charts.Series("plan-1", "Plan baseline 1 <original>", [(D(2026, 1, 1), 0), (D(2026, 12, 31), 36)],
                        kind="baseline")
    forecast = charts.Series("forecast", "Forecast median", [(D(2026, 3, 1), 5), (D(2026, 12, 31), 20)],
                             kind="forecast")
    band = charts.Band("forecast-band", "Forecast 90% interval", [(D(2026, 3, 1), 5), (D(2026, 12, 31), 14)],
                       [(D(2026, 3, 1), 5), (D(2026, 12, 31), 27)])
    return [actual, plan, old, forecast], [band]


def test_cumulative_chart_is_accessible_svg_with_every_series_and_a_legend():
    series, bands = _series()
    svg = charts.cumulative_chart_svg(chart_id="c1", title="Cumulative enrollment", desc="Actual vs plan",
                                      series=series, bands=bands,
                                      markers=[charts.Marker("Target: 30", value=30),
                                               charts.Marker("Planned last subject in", day=D(2026, 10, 1))])
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'role="img"' in svg and 'aria-labelledby="c1-title c1-desc"' in svg
    assert '<title id="c1-title">Cumulative enrollment</title>' in svg and '<desc id="c1-desc">' in svg
    for key in ("actual", "plan-2", "plan-1", "forecast", "forecast-band"):
        assert f'data-series="{key}"' in svg
    assert 'class="series series--baseline"' in svg and 'stroke-dasharray="3 3"' in svg  # earlier baseline dashed
    assert "Plan baseline 1 &lt;original&gt;" in svg and "<original>" not in svg  # escaped
    assert "Subjects enrolled (cumulative)" in svg and ">Date<" in svg  # axis labels
    assert svg.count('class="legend-item"') == 7  # band, 4 series, 2 markers
    # The y axis reaches the target line; the step line draws horizontal-then-vertical segments.
    assert ">30<" in svg
    step = re.search(r'data-series="actual" d="([^"]+)"', svg).group(1)
    assert step.startswith("M") and " H" in step and " V" in step


def test_chart_grows_for_a_long_legend_and_has_an_empty_state():
    many = [charts.Series(f"s{i}", f"Plan baseline {i} with a long label", [(D(2026, 1, 1), 0), (D(2026, 6, 1), i)],
                          kind="baseline") for i in range(8)]
    svg = charts.cumulative_chart_svg(chart_id="c2", title="t", desc="d", series=many, height=380)
    height = int(re.search(r'viewBox="0 0 760 (\d+)"', svg).group(1))
    assert height > 380
    empty = charts.cumulative_chart_svg(chart_id="c3", title="t", desc="d", series=[])
    assert "No enrollment data to chart yet." in empty and 'role="img"' in empty


def test_series_table_gives_each_series_value_by_day():
    series, bands = _series()
    headers, rows = charts.series_table([D(2026, 1, 15), D(2026, 2, 15), D(2026, 12, 31)], series, bands)
    assert headers == ["Actual enrolled", "Plan baseline 2 (current)", "Plan baseline 1 <original>", "Forecast median",
                       "Forecast 90% interval (low)", "Forecast 90% interval (high)"]
    assert rows[0][0] == 0 and rows[1][0] == 3            # step: holds until the next point
    assert rows[0][3] is None                             # no forecast before the cut
    assert rows[2][1] == 24 and rows[2][4] == 14 and rows[2][5] == 27
    assert rows[1][1] == pytest.approx(24 * 45 / 364)      # linear interpolation


def test_funnel_chart_has_a_bar_and_count_per_stage():
    stages = [charts.FunnelStage("prescreened", "Pre-screened", 40), charts.FunnelStage("enrolled", "Enrolled", 10),
              charts.FunnelStage("screen_failed", "Screen failed", 5, outcome=True)]
    svg = charts.funnel_chart_svg(chart_id="f", title="Funnel", desc="Stages", stages=stages)
    assert 'aria-labelledby="f-title f-desc"' in svg
    for key in ("prescreened", "enrolled", "screen_failed"):
        assert f'data-stage="{key}"' in svg
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]
    assert widths[0] == pytest.approx(4 * widths[1])
    assert "#b91c1c" in svg and ">40<" in svg
