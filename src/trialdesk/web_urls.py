"""Web UI routes: each area contributes its own urls module (views call services and selectors only)."""

from importlib import import_module

from django.urls import include, path

urlpatterns = []
for _area in ["accounts", "studies", "sites", "organizations", "audit", "ctgov", "subjects", "visits", "enrollment",
              "startup", "staff", "training", "workqueue"]:
    try:
        import_module(f"trialdesk.{_area}.urls")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"trialdesk.{_area}.urls":
            raise
        continue
    urlpatterns.append(path("", include(f"trialdesk.{_area}.urls")))
