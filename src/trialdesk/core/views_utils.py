"""Small helpers shared by the web views: service errors to responses or form errors, paging, safe redirects."""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.forms.utils import flatatt
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeData, mark_safe

from trialdesk.core.errors import AccessDenied, NotFound, ServiceError, StaleVersion
from trialdesk.core.records import REASON_REQUIRED

PAGE_SIZE = 50

# Error keys that name the record as a whole, not one input field.
_RECORD_KEYS = {"record", "version", "request", "__all__"}


def error_page(request, status: int, message: str = ""):
    template = {403: "403.html", 404: "404.html"}.get(status, "trialdesk/error.html")
    return render(request, template, {"message": message, "status": status}, status=status)


def web_view(view):
    """Map NotFound to a 404 page, AccessDenied to 403 and any other service error to its status.

    Views handle form-level service errors themselves (see `add_service_errors`); this catches the
    rest so a bad id or a missing permission is never a 500.
    """

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            return error_page(request, 404, exc.message)
        except AccessDenied as exc:
            return error_page(request, 403, exc.message)
        except ServiceError as exc:
            return error_page(request, exc.status_code, exc.message)

    return wrapper


def add_service_errors(form, exc: ServiceError) -> None:
    """Show a service's error messages next to the form's fields (or above the form).

    AccessDenied and NotFound are not form errors; they propagate to `web_view`.
    """
    if isinstance(exc, AccessDenied | NotFound):
        raise exc
    if isinstance(exc, StaleVersion):
        # The "changed by someone else ... reload" message belongs to the whole form.
        form.add_error(None, exc.message)
        return
    placed = False
    for field, texts in (exc.errors or {}).items():
        target = field if field in form.fields and field not in _RECORD_KEYS else None
        if target is not None and form.fields[target].widget.is_hidden:
            target = None
        for text in texts:
            form.add_error(target, text)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


@dataclass
class FormOutcome:
    """What `run_form` did with a form: the action's result, the service error, the redirect after success."""

    form: forms.Form
    ok: bool = False  # the action ran without a service error
    result: Any = None
    error: ServiceError | None = None
    response: HttpResponse | None = None

    @property
    def status(self) -> int:
        """Status for showing the form again: the service error's own (409 stale, ...), 422 for bad input."""
        if self.form.is_bound and self.form.errors:
            return self.error.status_code if self.error is not None else 422
        return 200


def run_form(request, form, action: Callable[[], Any], *, success: str | Callable[[Any], str] | None = None,
             redirect_to: Any = None) -> FormOutcome:
    """Call `action` (the service call, no arguments) if the submitted form is valid.

    A service error goes onto the form (`add_service_errors`) and into `.error`. After success the
    `success` message is flashed and `.response` redirects to `redirect_to`: each may be a function of
    the action's result; a tuple is a URL name with its arguments, as `redirect` takes them.
    """
    outcome = FormOutcome(form)
    if not (form.is_bound and form.is_valid()):
        return outcome
    try:
        outcome.result = action()
    except ServiceError as error:
        outcome.error = error
        add_service_errors(form, error)
        return outcome
    outcome.ok = True
    if success is not None:
        messages.success(request, success(outcome.result) if callable(success) else success)
    if redirect_to is not None:
        target = redirect_to(outcome.result) if callable(redirect_to) else redirect_to
        outcome.response = redirect(*target) if isinstance(target, tuple) else redirect(target)
    return outcome


def paginate(request, items, per_page: int = PAGE_SIZE):
    """The requested page of a queryset or list; out-of-range pages clamp to the last page."""
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def safe_next(request, url: str | None, default: str = "/") -> str:
    """`url` if it points to this host (no open redirect), else `default`."""
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return url
    return default


def is_partial(request, target: str) -> bool:
    """True for an htmx request that asks only for the element `target` (e.g. a filtered table)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and htmx.target == target


def render_list(request, *, target: str, partial: str, full: str, context: dict):
    """The whole page, or only the element `target` for htmx (filters, paging).

    Vary on the htmx headers so a browser never shows a cached fragment as a page (back button).
    """
    template = partial if is_partial(request, target) else full
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- Forms: parse and render only; services do the validation that matters. ---------------------------

class QuickSelect(forms.Select):
    """A <select> whose options are written directly instead of through one template render per option, so a
    filter listing a mega-trial's 1,200 sites costs a millisecond instead of a fifth of a second. Same HTML
    as forms.Select for flat choices; grouped choices fall back to it."""

    def render(self, name, value, attrs=None, renderer=None):
        choices = list(self.choices)
        if any(isinstance(label, list | tuple) for _value, label in choices):
            return super().render(name, value, attrs, renderer)
        final = self.build_attrs(self.attrs, attrs)
        final["name"] = name
        if self.allow_multiple_selected:
            final["multiple"] = True
        chosen = set(self.format_value(value))
        parts = [format_html("<select{}>", flatatt(final))]
        for option_value, label in choices:
            text = "" if option_value is None else str(option_value)
            shown = label if isinstance(label, SafeData) else html.escape(str(label))
            parts.append(f'<option value="{html.escape(text)}"{" selected" if text in chosen else ""}>{shown}</option>')
        parts.append("</select>")
        return mark_safe("\n".join(parts))  # noqa: S308 - every value and label is escaped above

REASON_HELP = ("Required. The audit trail records your name, the time, the old and new values "
               "and this reason.")


def reason_field(label: str = "Reason for change", help_text: str = REASON_HELP, required: bool = True
                 ) -> forms.CharField:
    """The reason-for-change textarea. id="reason" is a stable hook for browser tests."""
    return forms.CharField(
        label=label, required=required, help_text=help_text, max_length=2000,
        widget=forms.Textarea(attrs={"id": "reason", "rows": 3}),
        error_messages={"required": REASON_REQUIRED},
    )


class RecordForm(forms.Form):
    """A form that only parses input for a service call (never saves a model itself)."""

    # Fields that are not record data (handed to the service as separate arguments).
    control_fields = frozenset({"version", "reason"})

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and hasattr(data, "setlist"):
            # Browsers send textarea line breaks as CRLF; stored text uses LF. Normalise so an
            # untouched textarea is not reported as a change.
            data = data.copy()
            for key in list(data.keys()):
                data.setlist(key, [v.replace("\r\n", "\n") if isinstance(v, str) else v
                                   for v in data.getlist(key)])
        super().__init__(data, *args, **kwargs)

    def record_data(self, *, only_changed: bool = False, exclude: tuple[str, ...] = ()) -> dict:
        """cleaned_data without the control fields; for edits only the fields the user changed."""
        names = self.changed_data if only_changed else list(self.fields)
        return {name: self.cleaned_data[name] for name in names
                if name in self.cleaned_data and name not in self.control_fields and name not in exclude}


class VersionedForm(forms.Form):
    """Carries the version of the record the user read (optimistic locking)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def clean(self):
        cleaned = super().clean()
        if "version" in self._errors:
            # A hidden field cannot show its own error; say what to do instead.
            del self._errors["version"]
            self.add_error(None, "The record version is missing from the form. Reload the page and try again.")
        return cleaned


class EditForm(RecordForm, VersionedForm):
    """Edits carry the version the user read and a mandatory reason for change."""

    reason = reason_field()


class TransitionForm(VersionedForm):
    """Choose the next lifecycle status (only the allowed ones are offered) and say why."""

    status = forms.ChoiceField(label="New status")
    reason = reason_field(label="Reason for status change",
                          help_text="Required. Recorded in the audit trail with the status change.")

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", "Choose the next status…"), *choices]
