"""The command's JSON format: parsing, validation errors that name the field, and the output."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from trialdesk.forecasting.bottlenecks import bottleneck_warnings
from trialdesk.forecasting.io import (
    ForecastInputError,
    dumps,
    forecast_to_dict,
    load_json,
    parse_scenario,
    parse_study,
    what_if_to_dict,
)
from trialdesk.forecasting.model import forecast
from trialdesk.forecasting.whatif import what_if

DOC = {
    "study": "ACME-301",
    "as_of": "2025-06-30",
    "target": 60,
    "planned_last_subject_in": "2026-03-31",
    "prior": {"rate_per_month": 1.2, "cv": 0.5},
    "sites": [
        {"id": "101", "country": "DE", "activated": "2024-11-02", "planned_activation": "2024-10-15",
         "enrolled": ["2024-11-20", "2024-12-03", "2025-01-15", "2025-06-30"]},
        {"id": 102, "activated": "2025-01-15", "enrolled_by_month": {"2025-01": 2, "2025-02": 0, "2025-06": 1},
         "screened": 10, "screen_failed": 4},
        {"id": "103", "activated": "2024-12-01", "closed": "2025-05-10", "enrolled_by_month": {"2025-05": 3}},
        {"id": "205", "planned_activation": "2025-08-01", "planned_rate_per_month": 1.5},
    ],
}


def _err(doc) -> str:
    with pytest.raises(ForecastInputError) as exc:
        parse_study(doc)
    return str(exc.value)


def _with(path: list, value):
    doc = copy.deepcopy(DOC)
    node = doc
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


def test_parses_the_documented_format():
    study = parse_study(DOC)
    assert study.name == "ACME-301" and study.as_of == dt.date(2025, 6, 30) and study.target == 60
    assert study.prior.rate_per_month == 1.2 and study.prior.cv == 0.5 and study.prior.mean_cv == 0.5
    s101, s102, s103, s205 = study.sites
    assert s101.enrolled[-1] == dt.date(2025, 6, 30) and s101.country == "DE" and s101.enrolled_exact
    # Month counts stand at the month's last recruiting day: month end, as_of, or the closing day.
    assert s102.id == "102" and not s102.enrolled_exact
    assert s102.enrolled == (dt.date(2025, 1, 31), dt.date(2025, 1, 31), dt.date(2025, 6, 30))
    assert s102.screened == 10 and s102.screen_failed == 4
    assert s103.enrolled == (dt.date(2025, 5, 10),) * 3 and s103.closed == dt.date(2025, 5, 10)
    assert not s205.is_active and s205.planned_rate_per_month == 1.5


@pytest.mark.parametrize(("path", "value", "message"), [
    (["sites", 0, "activated"], "2024-13-01", 'sites[0].activated: "2024-13-01" is not a date (YYYY-MM-DD)'),
    (["sites", 0, "activated"], "02/11/2024", 'sites[0].activated: "02/11/2024" is not a date (YYYY-MM-DD)'),
    (["sites", 0, "activated"], "2025-07-01",
     "sites[0].activated: 2025-07-01 is after as_of 2025-06-30; a site not yet active has planned_activation instead"),
    (["sites", 0, "enrolled", 1], "2024-10-01",
     "sites[0].enrolled[1]: 2024-10-01 is outside the site's recruiting period 2024-11-02 to 2025-06-30"),
    (["sites", 0, "enrolled"], "2024-11-20", "sites[0].enrolled: expected a list of dates, one per enrolled subject"),
    (["sites", 1, "enrolled_by_month", "2025-13"], 1, 'sites[1].enrolled_by_month.2025-13: "2025-13" is not a month '
                                                      "(YYYY-MM)"),
    (["sites", 1, "enrolled_by_month", "2024-12"], 1, "sites[1].enrolled_by_month.2024-12: month 2024-12 is outside "
                                                      "the site's recruiting period 2025-01-15 to 2025-06-30"),
    (["sites", 1, "enrolled_by_month", "2025-03"], -1, "sites[1].enrolled_by_month.2025-03: -1 must be between 0 and "
                                                       "10000000"),
    (["sites", 1, "screen_failed"], 11, "sites[1].screen_failed: 11 must be between 0 and 10"),
    (["sites", 2, "closed"], "2024-11-01", "sites[2].closed: 2024-11-01 is before activated 2024-12-01"),
    (["sites", 3, "planned_rate_per_month"], "fast", 'sites[3].planned_rate_per_month: "fast" is not a number'),
    (["sites", 3, "planned_rate_per_month"], -1, "sites[3].planned_rate_per_month: -1 must be >= 0"),
    (["sites", 3, "planned_activation"], KeyError,
     'sites[3]: needs "activated" (an active site) or "planned_activation" (a site not yet active)'),
    (["sites", 3, "enrolled"], ["2025-01-01"], 'sites[3].enrolled: subjects enrolled at a site without "activated"'),
    (["sites", 3, "id"], "101", 'sites[3].id: "101" is also the id of sites[0]'),
    (["sites", 3, "id"], "", 'sites[3].id: "" is not a site id (a non-empty string or a number)'),
    (["sites", 3, "rate"], 1, "sites[3].rate: unknown field (expected one of: activated, closed, country, enrolled, "
                              "enrolled_by_month, id, planned_activation, planned_rate_per_month, "
                              "rate_override_per_month, screen_failed, screened)"),
    (["sites", 2], "x", 'sites[2]: expected an object, got "x"'),
    (["as_of"], KeyError, "as_of: required"),
    (["target"], 0, "target: 0 must be between 1 and 10000000"),
    (["target"], True, "target: true is not a whole number"),
    (["sites"], {}, "sites: expected a list of sites"),
    (["prior", "cv"], 0, "prior.cv: 0 must be > 0"),
    (["prior", "rate_per_month"], KeyError, "prior.rate_per_month: required"),
    (["activation_delay"], {"mean_days": 0, "sd_days": 5}, "activation_delay.mean_days: must be > 0 when sd_days > 0"),
    (["planned_last_subject_in"], "soon", 'planned_last_subject_in: "soon" is not a date (YYYY-MM-DD)'),
])
def test_validation_errors_name_the_field(path, value, message):
    assert _err(_with(path, value)) == message


def test_error_carries_field_and_message_and_other_shapes():
    with pytest.raises(ForecastInputError) as exc:
        parse_study(_with(["sites", 1, "activated"], "2025-02-30"))
    assert exc.value.field == "sites[1].activated" and exc.value.message == '"2025-02-30" is not a date (YYYY-MM-DD)'
    assert _err([]) == "expected an object, got []"
    assert _err({**DOC, "extra": 1}).startswith("extra: unknown field")
    both = _with(["sites", 0, "enrolled_by_month"], {"2025-01": 1})
    assert _err(both) == 'sites[0].enrolled_by_month: give "enrolled" or "enrolled_by_month", not both'


def test_invalid_json_names_line_and_column():
    with pytest.raises(ForecastInputError, match=r"^invalid JSON at line 3, column 12: Expecting ':' delimiter$"):
        load_json('{\n  "as_of": "2025-06-30",\n  "target" 40\n}')
    with pytest.raises(ForecastInputError, match="not UTF-8"):
        load_json(b'{"a": "\xff"}')


def test_scenario_parsing_and_errors():
    study = parse_study(DOC)
    spec = parse_scenario({"label": "rescue", "add_sites": [{"id": "301", "planned_activation": "2025-09-01",
                                                             "planned_rate_per_month": 2}],
                           "drop_sites": ["103"], "rate_changes": {"101": 0.5},
                           "activation_changes": {"205": "2025-10-01"}, "target": 70}, study)
    assert spec.label == "rescue" and spec.add_sites[0].id == "301" and spec.drop_sites == ("103",)
    assert spec.rate_changes == {"101": 0.5} and spec.activation_changes == {"205": dt.date(2025, 10, 1)}
    assert spec.target == 70
    cases = [
        ({"drop_sites": ["999"]}, 'scenario.drop_sites[0]: no site with id "999"'),
        ({"add_sites": [{"id": "101", "planned_activation": "2025-09-01"}]},
         'scenario.add_sites[0].id: "101" is already a site id'),
        ({"add_sites": [{"id": "9", "activated": "2025-01-01"}]},
         "scenario.add_sites[0].activated: an added site is not active yet: give planned_activation"),
        ({"activation_changes": {"101": "2025-09-01"}}, "scenario.activation_changes.101: site 101 is already active"),
        ({"rate_changes": {"101": -2}}, "scenario.rate_changes.101: -2 must be >= 0"),
        ({"target": 0}, "scenario.target: 0 must be between 1 and 10000000"),
        ({"add": []}, "scenario.add: unknown field (expected one of: activation_changes, add_sites, drop_sites, "
                      "label, rate_changes, target)"),
    ]
    for doc, message in cases:
        with pytest.raises(ForecastInputError) as exc:
            parse_scenario(doc, study)
        assert str(exc.value) == message


def test_output_format():
    study = parse_study(DOC)
    result = forecast(study, seed=1)
    out = json.loads(dumps(forecast_to_dict(result, warnings=bottleneck_warnings(result))))
    assert out["target"] == 60 and out["enrolled"] == 10 and out["remaining"] == 50
    assert set(out["completion_date"]) == {"p05", "p50", "p95"}
    assert out["completion_date"]["p05"] < out["completion_date"]["p50"] < out["completion_date"]["p95"]
    assert 0 <= out["probability_on_time"] <= 1 and out["reason"] is None
    assert out["method"] == result.method and out["parameters"]["regime"] == result.fit.regime
    assert [s["id"] for s in out["sites"]] == ["101", "102", "103", "205"]
    s101, _, s103, s205 = out["sites"]
    assert set(s101) == {"id", "status", "enrolled", "rate_per_month", "rate_mean_per_month", "expected_additional",
                         "country"}
    assert s101["rate_per_month"]["p05"] <= s101["rate_per_month"]["p50"] <= s101["rate_per_month"]["p95"]
    assert s103["status"] == "closed" and s103["expected_additional"] == 0
    assert s205["status"] == "planned" and s205["activation"]["p05"] >= "2025-08-01"
    assert out["curve"][0] == {"date": "2025-06-30", "mean": 10.0, "p05": 10, "p50": 10, "p95": 10}
    assert out["history"][0] == {"date": "2024-11-30", "enrolled": 1}
    assert out["history"][-1] == {"date": "2025-06-30", "enrolled": 10}
    assert isinstance(out["warnings"], list) and out["simulations"] == 4000 and out["seed"] == 1
    assert "curve" not in forecast_to_dict(result, curve=False)


def test_output_when_unreachable_has_nulls_and_a_reason():
    doc = {"as_of": "2025-06-30", "target": 10, "sites": [{"id": "1", "planned_activation": "2025-07-01"}]}
    out = json.loads(dumps(forecast_to_dict(forecast(parse_study(doc)))))
    assert out["completion_date"] == {"p05": None, "p50": None, "p95": None}
    assert out["probability_on_time"] is None and out["reason"].startswith("no rate information")
    assert out["sites"][0]["rate_per_month"] == {"p05": None, "p50": None, "p95": None}
    assert out["curve"][-1]["p50"] is None  # NaN never reaches the JSON


def test_output_when_target_reached():
    doc = _with(["target"], 5)
    out = forecast_to_dict(forecast(parse_study(doc)))
    # Subjects by date: 2024-11-20, 12-03, 2025-01-15, 01-31 (x2, month counts) -> the fifth on 2025-01-31.
    assert out["completion_date"] == {"p05": "2025-01-31", "p50": "2025-01-31", "p95": "2025-01-31"}
    assert out["probability_on_time"] == 1.0


def test_what_if_output():
    study = parse_study(DOC)
    spec = parse_scenario({"add_sites": [{"id": "301", "planned_activation": "2025-08-01"}]}, study)
    out = json.loads(dumps(what_if_to_dict(what_if(study, spec, seed=2), curve=False)))
    assert set(out) == {"label", "baseline", "scenario", "difference"}
    assert out["difference"]["completion_days"]["p50"] <= 0
    assert out["scenario"]["sites"][-1]["id"] == "301"
