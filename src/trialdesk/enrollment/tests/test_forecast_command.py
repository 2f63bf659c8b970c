"""`trialdesk forecast INPUT.json`: JSON out, deterministic per seed, subsets and scenarios, and
bad input rejected with the file and field named (exit code 1). No database involved."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

DOC = {
    "as_of": "2025-06-30",
    "target": 60,
    "planned_last_subject_in": "2026-03-31",
    "sites": [
        {"id": "101", "country": "DE", "activated": "2024-11-02", "planned_activation": "2024-10-15",
         "enrolled": ["2024-11-20", "2024-12-03", "2025-01-15", "2025-02-01", "2025-03-09", "2025-05-30"]},
        {"id": "102", "country": "DE", "activated": "2025-01-15",
         "enrolled_by_month": {"2025-01": 2, "2025-02": 0, "2025-03": 3, "2025-06": 1}},
        {"id": "103", "country": "FR", "activated": "2024-12-01", "planned_activation": "2024-11-01",
         "enrolled_by_month": {"2024-12": 3, "2025-01": 4, "2025-03": 5, "2025-05": 4}},
        {"id": "104", "country": "FR", "activated": "2025-02-01", "planned_activation": "2025-01-10"},
        {"id": "105", "country": "US", "activated": "2024-10-01", "planned_activation": "2024-10-01",
         "enrolled_by_month": {"2024-11": 2, "2025-01": 3, "2025-03": 2, "2025-05": 1}},
        {"id": "205", "country": "US", "planned_activation": "2025-08-01", "planned_rate_per_month": 1.5},
    ],
}


@pytest.fixture
def write(tmp_path):
    def _write(doc, name="study.json"):
        path = tmp_path / name
        path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
        return str(path)

    return _write


def _run(*args) -> dict:
    out = io.StringIO()
    call_command("forecast", *map(str, args), stdout=out)
    return json.loads(out.getvalue())


def test_prints_the_forecast_as_json(write):
    out = _run(write(DOC), "--seed", "3", "--simulations", "2000")
    assert out["target"] == 60 and out["enrolled"] == 36 and out["remaining"] == 24
    assert out["completion_date"]["p05"] < out["completion_date"]["p50"] < out["completion_date"]["p95"]
    assert 0 < out["probability_on_time"] <= 1
    assert out["method"].startswith("poisson-gamma ML (n=5 active sites")
    assert out["simulations"] == 2000 and out["seed"] == 3
    assert [s["id"] for s in out["sites"]] == ["101", "102", "103", "104", "105", "205"]
    assert out["curve"] and out["history"]
    assert any(w["kind"] == "no_enrollment" and w["site_id"] == "104" for w in out["warnings"])
    # Same seed, same forecast; another seed moves the Monte Carlo figures a little.
    assert _run(write(DOC), "--seed", "3", "--simulations", "2000") == out
    assert _run(write(DOC), "--seed", "4", "--simulations", "2000")["sites"] != out["sites"]


def test_subsets_target_horizon_and_options(write):
    path = write(DOC)
    de = _run(path, "--country", "de", "--target", "20", "--no-curve")
    assert [s["id"] for s in de["sites"]] == ["101", "102"] and de["enrolled"] == 12 and de["target"] == 20
    assert "curve" not in de
    two = _run(path, "--sites", "101,105", "--target", "20", "--horizon", "2025-12-31")
    assert [s["id"] for s in two["sites"]] == ["101", "105"] and two["expected_additional_by"] == "2025-12-31"
    quiet = _run(path, "--idle-days", "1000", "--on-time-threshold", "0")
    assert not any(w["kind"] in {"no_enrollment", "low_probability_on_time"} for w in quiet["warnings"])


def test_scenario(write):
    scenario = write({"label": "two more", "add_sites": [{"id": "301", "planned_activation": "2025-08-01"},
                                                         {"id": "302", "planned_activation": "2025-08-15"}]},
                     "scenario.json")
    out = _run(write(DOC), "--scenario", scenario, "--no-curve")
    assert out["label"] == "two more" and out["baseline"]["target"] == out["scenario"]["target"] == 60
    assert out["difference"]["completion_days"]["p50"] < 0
    assert [s["id"] for s in out["scenario"]["sites"]][-2:] == ["301", "302"]


def test_target_already_reached_and_unreachable(write):
    reached = _run(write({**DOC, "target": 3}))  # 101 on 2024-11-20, two at 105 in 2024-11 (dated 11-30)
    assert reached["completion_date"] == {"p05": "2024-11-30", "p50": "2024-11-30", "p95": "2024-11-30"}
    assert reached["probability_on_time"] == 1.0
    nothing = _run(write({"as_of": "2025-06-30", "target": 10, "sites": []}))
    assert nothing["completion_date"] == {"p05": None, "p50": None, "p95": None}
    assert nothing["reason"] == "no sites selected" and nothing["warnings"][0]["kind"] == "unreachable"


@pytest.mark.parametrize(("doc", "message"), [
    ({**DOC, "sites": [*DOC["sites"][:3], {**DOC["sites"][3], "activated": "2024-13-01"}]},
     'sites[3].activated: "2024-13-01" is not a date (YYYY-MM-DD)'),
    ({**DOC, "target": "many"}, 'target: "many" is not a whole number'),
    ('{\n  "as_of": "2025-06-30",\n  "target": 60,\n  "sites": [,]\n}',
     "invalid JSON at line 4, column 13: Expecting value"),
])
def test_bad_input_names_file_and_field(write, doc, message):
    path = write(doc)
    with pytest.raises(CommandError) as exc:
        _run(path)
    assert str(exc.value) == f"{path}: {message}"


def test_bad_arguments(write, tmp_path):
    path = write(DOC)
    for args, message in [
        (["--simulations", "10"], "--simulations must be between 100 and 100000"),
        (["--sites", "101,999"], f"--sites: no site with id 999 in {path}"),
        (["--country", "Narnia"], f"--country: no site in 'Narnia' in {path}"),
        (["--horizon", "2025-02-30"], "--horizon: '2025-02-30' is not a date (YYYY-MM-DD)"),
        (["--horizon", "2025-01-01"], "--horizon 2025-01-01 must be after as_of 2025-06-30"),
    ]:
        with pytest.raises(CommandError) as exc:
            _run(path, *args)
        assert str(exc.value) == message
    missing = tmp_path / "missing.json"
    with pytest.raises(CommandError, match=r"missing\.json: cannot read the input: No such file or directory"):
        _run(missing)
    bad_scenario = write({"drop_sites": ["999"]}, "scenario.json")
    with pytest.raises(CommandError) as exc:
        _run(path, "--scenario", bad_scenario)
    assert str(exc.value) == f'{bad_scenario}: scenario.drop_sites[0]: no site with id "999"'


def test_console_exit_codes(write):
    bad = write({**DOC, "as_of": "30/06/2025"}, "bad.json")
    proc = subprocess.run([sys.executable, "-m", "trialdesk", "forecast", bad], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1
    assert f'{bad}: as_of: "30/06/2025" is not a date (YYYY-MM-DD)' in proc.stderr
    good = subprocess.run([sys.executable, "-m", "trialdesk", "forecast", write(DOC), "--simulations", "500",
                           "--no-curve"], capture_output=True, text=True, timeout=120)
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["target"] == 60
