"""POST /api/v1/imports/ctgov: import ClinicalTrials.gov API v2 study records."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from trialdesk.accounts import permissions
from trialdesk.core.api_utils import WRITE_ERRORS
from trialdesk.core.errors import ValidationFailed
from trialdesk.ctgov import services
from trialdesk.ctgov.schemas import ImportResultOut

router = Router()

BODY_NAME = "request body"

_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {
            "type": "object",
            "description": "One API v2 study record (as from https://clinicaltrials.gov/api/v2/studies/NCT...), "
                           'or an API v2 search response {"studies": [...]}',
        }},
        "multipart/form-data": {"schema": {
            "type": "object",
            "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"},
                                     "description": "One or more API v2 study JSON files"}},
            "required": ["files"],
        }},
    },
}


def _uploads(request: HttpRequest) -> list[tuple[str, bytes]]:
    """(name, bytes) for each uploaded file, or the JSON body; nothing is interpreted here."""
    content_type = request.content_type or ""
    if content_type == "multipart/form-data":
        files = [f for _, items in request.FILES.lists() for f in items]
        if not files:
            raise ValidationFailed.field("files", "No files were uploaded; send one or more study JSON files "
                                                  "in the multipart field 'files'.")
        return [(f.name, f.read()) for f in files]
    if content_type == "application/json" or content_type.endswith("+json"):
        return [(BODY_NAME, request.body)]
    raise ValidationFailed.field(
        "request", f"Unsupported content type {content_type or 'none'!r}: send application/json (one study "
                   "record or a search response) or multipart/form-data files.")


@router.post(
    "/ctgov",
    response={200: list[ImportResultOut], **WRITE_ERRORS},
    summary="Import ClinicalTrials.gov records",
    description=(
        "Create or update studies from ClinicalTrials.gov API v2 JSON: one study record or a search response "
        "as the JSON body, or one or more files as multipart/form-data. Re-importing an NCT id updates its "
        "study and adds new locations as candidate sites. All or nothing: on an error (422 naming the "
        "file or record) nothing is imported. Needs the ctgov.import permission."
    ),
    openapi_extra={"requestBody": _REQUEST_BODY},
)
def ctgov_import(request):
    # Checked before the upload is read, so a user without the right gets 403 whatever they send.
    permissions.require(request.auth, "ctgov.import")
    return services.ctgov_import_batch(user=request.auth, files=_uploads(request))
