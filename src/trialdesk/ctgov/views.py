"""The upload page for ClinicalTrials.gov study JSON files (/imports/ctgov/)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_http_methods

from trialdesk.accounts import permissions
from trialdesk.core.errors import ServiceError
from trialdesk.ctgov.services import ImportResult, ctgov_import_file


@dataclass
class Row:
    """One line of the results table: one imported record, or one file that failed."""

    file: str
    result: ImportResult | None = None
    error: str = ""
    study_url: str = ""


def _study_url(study_id: int) -> str:
    # The study pages belong to the studies area; without them the table shows the study unlinked.
    try:
        return reverse("study-detail", args=[study_id])
    except NoReverseMatch:
        return ""


def _import_uploads(user, uploads) -> list[Row]:
    """Each file on its own: a bad file becomes an error row and the others still import."""
    rows: list[Row] = []
    for upload in uploads:
        try:
            results = ctgov_import_file(user=user, path_or_bytes=upload.read(), filename=upload.name)
        except ServiceError as exc:
            rows.append(Row(file=upload.name, error=exc.message))
            continue
        rows += [Row(file=upload.name, result=r, study_url=_study_url(r.study_id)) for r in results]
    return rows


@require_http_methods(["GET", "POST"])
def ctgov_import(request):
    if not permissions.has_perm(request.user, "ctgov.import"):
        raise PermissionDenied("You do not have permission to import from ClinicalTrials.gov.")
    context: dict = {"rows": None, "error": ""}
    if request.method == "POST":
        uploads = request.FILES.getlist("files")
        if uploads:
            rows = _import_uploads(request.user, uploads)
            files_failed = sum(1 for r in rows if r.error)
            context.update(rows=rows, files_total=len(uploads), files_failed=files_failed,
                           files_imported=len(uploads) - files_failed)
        else:
            context["error"] = "Choose one or more ClinicalTrials.gov study JSON files to import."
        if request.htmx:
            return render(request, "ctgov/_results.html", context)
    return render(request, "ctgov/import.html", context)
