"""The pure start-up modules alone (no database): scoring, planning, cycle times, the Gantt SVG."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from trialdesk.startup import charts, cycle, plan, scoring
from trialdesk.startup.defaults import DEFAULT_TEMPLATE
from trialdesk.startup.plan import Milestone

D = dt.date

# --- scoring -----------------------------------------------------------------------------------------------


def rule(qid, kind, **kw):
    return scoring.QuestionRule(id=qid, kind=kind, **kw)


@pytest.mark.parametrize("value, expected", [("yes", 1.0), ("no", 0.0), (None, None), ("", None)])
def test_yes_no_scores_the_preferred_answer(value, expected):
    assert scoring.answer_score(rule(1, "yes_no", preferred_answer="yes"), value) == expected


def test_yes_no_without_preferred_answer_is_not_scored():
    assert not rule(1, "yes_no").scored
    assert scoring.answer_score(rule(1, "yes_no"), "yes") is None


@pytest.mark.parametrize("value, expected", [(0, 0.0), (10, 0.5), (20, 1.0), (35, 1.0), (-4, 0.0)])
def test_number_is_linear_and_clamped(value, expected):
    assert scoring.answer_score(rule(1, "number", score_min=0, score_max=20), value) == expected


@pytest.mark.parametrize("value, expected", [(90, 0.0), (60, 0.5), (30, 1.0), (10, 1.0), (120, 0.0)])
def test_number_lower_is_better_when_min_exceeds_max(value, expected):
    # e.g. days to IRB approval: 90 or more scores 0, 30 or fewer scores 1
    assert scoring.answer_score(rule(1, "number", score_min=90, score_max=30), value) == expected


def test_number_with_equal_bounds_is_a_threshold():
    r = rule(1, "number", score_min=5, score_max=5)
    assert scoring.answer_score(r, 5) == 1.0 and scoring.answer_score(r, 4.9) == 0.0


def test_choice_scores_the_option_and_text_is_never_scored():
    r = rule(1, "choice", choices=[{"label": "On site", "score": 1}, {"label": "Nearby", "score": 0.4}])
    assert scoring.answer_score(r, "Nearby") == 0.4
    assert scoring.answer_score(rule(2, "text", weight=5), "anything") is None


def test_weight_zero_is_not_scored():
    assert not rule(1, "yes_no", preferred_answer="yes", weight=0).scored


def test_weighted_score_counts_unanswered_as_zero_only_once_submitted():
    rules = [rule(1, "yes_no", preferred_answer="yes", weight=3), rule(2, "number", score_min=0, score_max=10,
                                                                        weight=1), rule(3, "text")]
    answers = {1: "yes", 3: "free text"}
    assert scoring.weighted_score(rules, answers, submitted=False) == 100.0  # only question 1 counts so far
    assert scoring.weighted_score(rules, answers, submitted=True) == 75.0    # 3*1 + 1*0 over 4
    assert scoring.weighted_score(rules, {1: "no", 2: 5}, submitted=True) == 12.5
    assert scoring.weighted_score([rule(3, "text")], {3: "x"}, submitted=True) is None


@pytest.mark.parametrize("kind, value, stored, error", [
    ("yes_no", True, "yes", None), ("yes_no", "No", "no", None), ("yes_no", "maybe", None, "Answer yes or no."),
    ("number", "12,5", 12.5, None), ("number", "40", 40, None), ("number", "lots", None, "Enter a number."),
    ("number", float("inf"), None, "Enter a finite number."), ("number", True, None, "Enter a number."),
    ("choice", "A", "A", None), ("text", "  hi ", "hi", None), ("text", "   ", None, None),
])
def test_normalize_answer(kind, value, stored, error):
    r = rule(1, kind, choices=[{"label": "A", "score": 1}, {"label": "B", "score": 0}])
    assert scoring.normalize_answer(r, value) == (stored, error)


def test_normalize_answer_refuses_an_unknown_choice():
    r = rule(1, "choice", choices=[{"label": "A", "score": 1}, {"label": "B", "score": 0}])
    assert scoring.normalize_answer(r, "C")[1] == "Choose one of the options: A; B."


def test_parse_and_format_choices_round_trip():
    choices, error = scoring.parse_choices("Yes, on site | 1\nWithin 1 hour | 0.5\n\nNo")
    assert error is None
    assert choices == [{"label": "Yes, on site", "score": 1.0}, {"label": "Within 1 hour", "score": 0.5},
                       {"label": "No", "score": 0.0}]
    assert scoring.parse_choices(scoring.format_choices(choices))[0] == choices


@pytest.mark.parametrize("text, message", [
    ("A | 2", "The score of option 'A' must be between 0 and 1."),
    ("A | x", "Line 1: the score after '|' must be a number between 0 and 1."),
    ("A\nA", "The option 'A' appears twice."),
    (" | 1", "Line 1: the option needs a label."),
])
def test_parse_choices_errors(text, message):
    assert scoring.parse_choices(text) == ([], message)


def test_missing_required():
    rules = [rule(1, "text", required=True), rule(2, "text", required=True), rule(3, "text")]
    assert scoring.missing_required(rules, {1: "x", 2: " "}) == [2]


def test_past_performance_pools_enrollment_over_active_months():
    today = D(2026, 1, 1)
    rows = [
        scoring.PastSite(enrolled=12, selected=D(2024, 1, 1), activated=D(2024, 3, 1), closed=D(2025, 3, 1)),
        scoring.PastSite(enrolled=6, selected=D(2025, 1, 1), activated=D(2025, 5, 1), closed=None),
        scoring.PastSite(enrolled=0, selected=D(2025, 10, 1), activated=None, closed=None),
    ]
    past = scoring.past_performance(rows, today)
    months = ((D(2025, 3, 1) - D(2024, 3, 1)).days + (today - D(2025, 5, 1)).days) / scoring.DAYS_PER_MONTH
    assert past.enrollment_rate == round(18 / months, 2)
    assert past.activation_days == (60 + 120) / 2  # median of 60 and 120 days
    assert (past.studies, past.activated_sites, past.deviation_rate) == (3, 2, None)
    assert scoring.past_performance([], today) == scoring.PastPerformance(0, None, None, 0)


def test_rank_orders_by_score_with_shared_ranks_and_unscored_last():
    items = [("a", 50.0), ("b", None), ("c", 80.0), ("d", 50.0)]
    ranked = scoring.rank(items, lambda i: i[1])
    assert [(r, i[0]) for r, i in ranked] == [(1, "c"), (2, "a"), (2, "d"), (None, "b")]


# --- planning ----------------------------------------------------------------------------------------------

def test_topological_order_and_cycles():
    graph = {"c": ["b"], "b": ["a"], "a": [], "d": ["a", "zzz"]}
    order = plan.topological_order(graph)
    assert order.index("a") < order.index("b") < order.index("c") and order.index("a") < order.index("d")
    with pytest.raises(plan.CycleError) as exc:
        plan.topological_order({"a": ["c"], "b": ["a"], "c": ["b"]})
    assert exc.value.cycle[0] == exc.value.cycle[-1] and set(exc.value.cycle) == {"a", "b", "c"}
    assert plan.find_cycle({"a": ["a"]}) == ["a", "a"]
    assert plan.ancestors({"a": [], "b": ["a"], "c": ["b"], "d": []}, "c") == {"a", "b"}


def test_the_default_template_is_acyclic_and_refers_to_its_own_keys():
    graph = {m.key: m.depends_on for m in DEFAULT_TEMPLATE}
    assert all(d in graph for deps in graph.values() for d in deps)
    assert plan.find_cycle(graph) is None
    assert [m.key for m in DEFAULT_TEMPLATE][-1] == "activated"
    assert plan.ancestors(graph, "activated") == set(graph) - {"activated"}


def chain(**overrides):
    """selected -> contract (30 d) -> siv (14 d, also needs irb) ; irb (45 d after selected)."""
    base = {
        "selected": Milestone("selected", target_days=None),
        "contract": Milestone("contract", depends_on=("selected",), target_days=30),
        "irb": Milestone("irb", depends_on=("selected",), target_days=45),
        "siv": Milestone("siv", depends_on=("contract", "irb"), target_days=14),
    }
    for key, changes in overrides.items():
        base[key] = Milestone(**{**base[key].__dict__, **changes})
    return list(base.values())


def test_planned_dates_derive_from_dependencies_and_targets():
    today = D(2026, 1, 1)
    plans = plan.plan_site(chain(selected={"actual": D(2026, 1, 1)}), anchor=D(2026, 1, 1), today=today)
    assert plans["contract"].planned == D(2026, 1, 31) and plans["contract"].planned_derived
    assert plans["irb"].planned == D(2026, 2, 15)
    assert plans["siv"].planned == D(2026, 3, 1)  # the later dependency (irb) + 14
    assert plans["selected"].state == "done" and plans["selected"].planned is None


def test_a_stored_planned_date_wins_and_an_unknown_dependency_date_leaves_no_plan():
    today = D(2026, 1, 1)
    plans = plan.plan_site(chain(contract={"planned": D(2026, 6, 1)}), anchor=None, today=today)
    assert plans["contract"].planned == D(2026, 6, 1) and not plans["contract"].planned_derived
    assert plans["irb"].planned is None and plans["irb"].state == "unplanned"
    assert plans["siv"].planned is None


def test_roots_count_from_the_anchor_and_not_applicable_dependencies_are_skipped():
    milestones = [Milestone("a", target_days=10), Milestone("b", depends_on=("a",), target_days=5),
                  Milestone("na", not_applicable=True), Milestone("c", depends_on=("na", "b"), target_days=1)]
    plans = plan.plan_site(milestones, anchor=D(2026, 1, 1), today=D(2025, 12, 1))
    assert plans["a"].planned == D(2026, 1, 11)
    assert plans["c"].planned == D(2026, 1, 17)
    assert plans["na"].state == "not_applicable" and plans["na"].projected is None


def test_overdue_and_a_late_dependency_pushes_the_projection():
    selected = D(2026, 1, 1)
    today = D(2026, 3, 1)  # contract planned for Jan 31, still open: 29 days overdue
    plans = plan.plan_site(chain(selected={"actual": selected}, irb={"actual": D(2026, 2, 10)}), anchor=selected,
                           today=today)
    assert plans["contract"].state == "overdue" and plans["contract"].days_late(today) == 29
    assert plans["contract"].projected == today  # late: happens today at the earliest
    siv = plans["siv"]
    assert siv.planned == D(2026, 2, 24)  # from the later of contract's plan (Jan 31) and irb's actual (Feb 10)
    assert siv.projected == D(2026, 3, 15)  # pushed: today + 14
    assert siv.state == "overdue"  # its own plan has passed too


def test_at_risk_when_projected_after_plan_or_due_soon_with_an_open_dependency():
    selected = D(2026, 1, 1)
    # contract is late (planned Jan 31, today Feb 10) -> siv (stored plan Mar 20) projected Feb 24 is fine ...
    plans = plan.plan_site(chain(selected={"actual": selected}, irb={"actual": D(2026, 1, 20)},
                                 siv={"planned": D(2026, 3, 20)}), anchor=selected, today=D(2026, 2, 10))
    assert plans["siv"].projected == D(2026, 3, 20) and plans["siv"].state == "on_track"
    # ... but with the plan on Feb 20 the projection (Feb 24) is later: at risk.
    plans = plan.plan_site(chain(selected={"actual": selected}, irb={"actual": D(2026, 1, 20)},
                                 siv={"planned": D(2026, 2, 20)}), anchor=selected, today=D(2026, 2, 10))
    assert plans["siv"].state == "at_risk" and plans["siv"].projected == D(2026, 2, 24)
    # due within 14 days while a dependency is still open (not itself late yet): at risk
    plans = plan.plan_site(chain(selected={"actual": selected}, irb={"actual": D(2026, 1, 20)},
                                 contract={"planned": D(2026, 3, 1)}, siv={"planned": D(2026, 3, 15)}),
                           anchor=selected, today=D(2026, 3, 1))
    assert plans["siv"].open_dependencies == ("contract",)
    assert plans["siv"].state == "at_risk"


def test_order_error_needs_dependencies_done_and_not_earlier():
    ms = {m.key: m for m in chain(selected={"actual": D(2026, 1, 5)})}
    labels = {"selected": "Selected", "contract": "Contract", "irb": "IRB", "siv": "SIV"}
    assert plan.order_error(ms, "contract", D(2026, 1, 10), labels) is None
    assert plan.order_error(ms, "contract", D(2026, 1, 4), labels) == (
        "Contract cannot be dated before Selected (2026-01-05), which it depends on.")
    assert plan.order_error(ms, "siv", D(2026, 2, 1), labels) == (
        "SIV cannot be recorded before the milestones it depends on are done (or marked not applicable): "
        "Contract, IRB.")
    assert plan.order_error(ms, "siv", None, labels) is None


def test_dependents_error_protects_recorded_later_milestones():
    ms = {m.key: m for m in chain(selected={"actual": D(2026, 1, 5)}, contract={"actual": D(2026, 2, 1)})}
    assert "must stay done" in plan.dependents_error(ms, "selected", new_actual=None, new_not_applicable=False)
    assert "cannot be dated after" in plan.dependents_error(ms, "selected", new_actual=D(2026, 2, 2),
                                                            new_not_applicable=False)
    assert plan.dependents_error(ms, "selected", new_actual=D(2026, 1, 20), new_not_applicable=False) is None
    assert plan.dependents_error(ms, "irb", new_actual=None, new_not_applicable=False) is None


# --- cycle times -------------------------------------------------------------------------------------------

def test_quantiles_and_summary():
    s = cycle.summarize([10, 20, 30, 40, None])
    assert (s.n, s.median, s.q1, s.q3, s.minimum, s.maximum) == (4, 25.0, 17.5, 32.5, 10.0, 40.0)
    assert cycle.summarize([7]).as_dict() == {"n": 1, "median": 7.0, "q1": 7.0, "q3": 7.0, "min": 7.0, "max": 7.0}
    assert cycle.summarize([None]) is None


def test_site_cycle_times_prefer_budget_agreed_for_the_contract():
    actuals = {"selected": D(2026, 1, 1), "activated": D(2026, 5, 1), "irb_submitted": D(2026, 1, 20),
               "irb_approval": D(2026, 3, 1), "contract_executed": D(2026, 3, 11)}
    times = cycle.site_cycle_times(actuals)
    assert times == {"selection_to_activation": 120, "irb": 40, "contract": 69}
    times = cycle.site_cycle_times({**actuals, "budget_agreed": D(2026, 2, 20)})
    assert times["contract"] == 19
    assert cycle.site_cycle_times({"selected": D(2026, 5, 1), "activated": D(2026, 1, 1)})[
        "selection_to_activation"] is None


def test_group_cycle_times_per_country_and_study():
    rows = [("Germany", {"selection_to_activation": 100, "irb": 30, "contract": None}),
            ("Germany", {"selection_to_activation": 140, "irb": None, "contract": 50}),
            ("France", {"selection_to_activation": 90, "irb": 20, "contract": 40}),
            ("", {"selection_to_activation": None, "irb": None, "contract": None})]
    countries, study = cycle.group_cycle_times(rows)
    assert [c.label for c in countries] == ["(no country)", "France", "Germany"]
    germany = countries[2]
    assert germany.sites == 2 and germany.summaries["selection_to_activation"].median == 120.0
    assert germany.summaries["irb"].n == 1
    assert countries[0].summaries["irb"] is None
    assert study.sites == 4 and study.summaries["selection_to_activation"].n == 3


# --- Gantt ---------------------------------------------------------------------------------------------------

def test_gantt_svg_is_well_formed_with_a_row_per_site_and_marks_by_state():
    today = D(2026, 3, 1)
    rows = [charts.GanttRow("1", "101 Charité <Berlin>", [
        charts.GanttMark("selected", "Selected", D(2026, 1, 1), "done"),
        charts.GanttMark("contract", "Contract", D(2026, 2, 1), "overdue"),
        charts.GanttMark("projected_activation", "Projected activation", D(2026, 4, 1), "projected")]),
        charts.GanttRow("2", "102 Mayo Clinic", [charts.GanttMark("irb", "IRB", D(2026, 5, 1), "at_risk")])]
    svg = charts.gantt_svg(chart_id="g", title="Start-up", desc="Timeline", rows=rows, today=today)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img" and root.find(f"{ns}title").text == "Start-up"
    groups = [g for g in root.iter(f"{ns}g") if g.get("class") == "gantt-row"]
    assert [g.get("data-row") for g in groups] == ["1", "2"]
    assert "101 Charité <Berlin>" in groups[0].find(f"{ns}title").text  # escaped in the source, intact here
    states = [g.get("class") for g in root.iter(f"{ns}g") if (g.get("class") or "").startswith("mark ")]
    assert states == ["mark mark--done", "mark mark--overdue", "mark mark--projected", "mark mark--at_risk"]
    assert root.find(f".//{ns}g[@class='today']") is not None


def test_gantt_svg_empty_state():
    svg = charts.gantt_svg(chart_id="g", title="T", desc="D", rows=[], today=D(2026, 1, 1))
    assert "No start-up dates to chart yet." in svg
    ET.fromstring(svg)
