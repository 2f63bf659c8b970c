"""Enrollment forecasting: the Poisson–gamma recruitment model (Anisimov & Fedorov 2007).

Pure Python with numpy/scipy; no Django import anywhere in this package, so it can be used and
tested on its own (``pytest -p no:django src/trialdesk/forecasting``).

* :mod:`.model` — the statistics: :func:`fit_population` (rate distribution across sites),
  :func:`forecast` (Monte Carlo forecast for a study or a subset of its sites) and the
  :class:`Forecast` it returns (completion date quantiles, probability on time,
  :meth:`Forecast.enrolled_by`, :meth:`Forecast.curve`, per-site rates and contributions).
* :mod:`.whatif` — scenarios beside the baseline: :func:`what_if`.
* :mod:`.bottlenecks` — warnings for the work queue: :func:`bottleneck_warnings`.
* :mod:`.io` — the JSON format of ``trialdesk forecast``: :func:`parse_study`,
  :func:`forecast_to_dict`, :class:`ForecastInputError`.

Method, formulas and formats: docs/forecasting.md.
"""

from trialdesk.forecasting.bottlenecks import bottleneck_warnings
from trialdesk.forecasting.io import ForecastInputError, forecast_to_dict, parse_scenario, parse_study
from trialdesk.forecasting.model import (
    MONTH_DAYS,
    ActivationDelay,
    Forecast,
    PopulationFit,
    Prior,
    Site,
    Study,
    fit_population,
    forecast,
)
from trialdesk.forecasting.whatif import Scenario, WhatIf, what_if

__all__ = [
    "MONTH_DAYS",
    "ActivationDelay",
    "Forecast",
    "ForecastInputError",
    "PopulationFit",
    "Prior",
    "Scenario",
    "Site",
    "Study",
    "WhatIf",
    "bottleneck_warnings",
    "fit_population",
    "forecast",
    "forecast_to_dict",
    "parse_scenario",
    "parse_study",
    "what_if",
]
