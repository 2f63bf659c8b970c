"""Sign-in, sign-out, lockout page, the user's account (roles, API tokens) and a study's team."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from trialdesk.accounts import permissions, selectors, services
from trialdesk.accounts.forms import (
    ApiTokenForm,
    LoginForm,
    MembershipGrantForm,
    MembershipRevokeForm,
    TokenRevokeForm,
)
from trialdesk.core.views_utils import run_form, safe_next, web_view
from trialdesk.sites.selectors import SiteFilter, site_list
from trialdesk.studies.selectors import study_get
from trialdesk.studies.views import study_page_context


def _lockout_minutes() -> int:
    cool_off = settings.AXES_COOLOFF_TIME
    return max(1, int(cool_off.total_seconds() // 60)) if cool_off else 0


def lockout_response(request, original_response=None, credentials=None, *args, **kwargs):
    """django-axes calls this (AXES_LOCKOUT_CALLABLE) when a user name is locked out."""
    return render(request, "accounts/locked_out.html",
                  {"minutes": _lockout_minutes(), "failure_limit": settings.AXES_FAILURE_LIMIT}, status=403)


# --- Sign in / out ---------------------------------------------------------------------------------------

@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request):
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if request.user.is_authenticated and request.method == "GET":
        return redirect(safe_next(request, next_url, reverse("portfolio")))
    form = LoginForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        user = services.session_login(request=request, username=form.cleaned_data["username"],
                                      password=form.cleaned_data["password"])
        if user is not None:
            return redirect(safe_next(request, next_url, reverse("portfolio")))
        if getattr(request, "axes_locked_out", False):
            return lockout_response(request)
        form.add_error(None, "The user name or password is not correct. Check them and try again; after "
                             f"{settings.AXES_FAILURE_LIMIT} failed attempts the account is locked for "
                             f"{_lockout_minutes()} minutes.")
    return render(request, "accounts/login.html",
                  {"form": form, "next": next_url if safe_next(request, next_url, "") else ""})


@require_http_methods(["GET", "POST"])
def logout_view(request):
    """POST signs out (the logout signal is audited); GET asks for confirmation, so a link cannot sign out."""
    if request.method == "POST":
        logout(request)
        messages.info(request, "You have been signed out.")
        return redirect(settings.LOGIN_URL)
    return render(request, "accounts/logout_confirm.html")


# --- My account ------------------------------------------------------------------------------------------

def _token_rows(user):
    now = timezone.now()
    rows = []
    for token in selectors.api_token_list(user):
        if token.revoked_at:
            status = "revoked"
        elif token.expires_at and token.expires_at <= now:
            status = "expired"
        else:
            status = "active"
        rows.append({"token": token, "status": status})
    return rows


def _account_context(request, **extra) -> dict:
    user = request.user
    return {"memberships": selectors.membership_list_own(user), "tokens": _token_rows(user),
            "token_form": ApiTokenForm(), **extra}


@require_GET
@web_view
def account(request):
    return render(request, "accounts/account.html", _account_context(request))


@never_cache
@require_http_methods(["GET", "POST"])
@web_view
def token_create(request):
    form = ApiTokenForm(request.POST if request.method == "POST" else None)
    outcome = run_form(request, form, lambda: services.api_token_create(
        actor=request.user, user=request.user, name=form.cleaned_data["name"],
        expires_days=form.cleaned_data["expires_days"]))
    if outcome.ok:
        token, secret = outcome.result
        # Shown in this response only: the secret is not stored, so it cannot be shown again.
        response = render(request, "accounts/account.html",
                          _account_context(request, new_token=token, new_secret=secret))
        response["Cache-Control"] = "no-store"
        return response
    return render(request, "accounts/token_create.html", {"form": form},
                  status=422 if form.is_bound and form.errors else 200)


@require_http_methods(["GET", "POST"])
@web_view
def token_revoke(request, token_id: int):
    token = selectors.api_token_get(request.user, token_id)
    form = TokenRevokeForm(request.POST if request.method == "POST" else None)
    outcome = run_form(
        request, form,
        lambda: services.api_token_revoke(actor=request.user, token=token, reason=form.cleaned_data["reason"]),
        success=f"API token {token.prefix}… revoked. Clients using it are refused from now on.",
        redirect_to="account")
    if outcome.response is not None:
        return outcome.response
    return render(request, "accounts/token_revoke.html", {"form": form, "token": token})


# --- Study team --------------------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@web_view
def study_team(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    permissions.require(user, "membership.view", study)
    can_manage = permissions.has_perm(user, "membership.manage", study)
    show_revoked = request.GET.get("revoked") == "1"
    form = None
    status = 200
    if can_manage:
        sites = site_list(user, SiteFilter(study_id=study.pk))
        form = MembershipGrantForm(request.POST if request.method == "POST" else None, sites=sites)
    elif request.method == "POST":
        permissions.require(user, "membership.manage", study)
    if form is not None and form.is_bound:
        if form.is_valid():
            target = selectors.user_by_username(form.cleaned_data["username"].strip())
            if target is None or not target.is_active:
                form.add_error("username", "There is no active user with this user name.")
            else:
                outcome = run_form(
                    request, form,
                    lambda: services.membership_grant(actor=user, user=target, role=form.cleaned_data["role"],
                                                      study=study, sites=list(form.cleaned_data["sites"]),
                                                      reason=form.cleaned_data["reason"]),
                    success=lambda _: (f"{target.display_name} now has the role "
                                       f"{services.role_label(form.cleaned_data['role'])}."),
                    redirect_to=("study-team", study.pk))
                if outcome.response is not None:
                    return outcome.response
                status = outcome.status
        if form.errors and status == 200:
            status = 422
    context = study_page_context(request, study, "team")
    context.update({
        "memberships": selectors.membership_list(user, study_id=study.pk, include_revoked=show_revoked),
        "grant_form": form, "can_manage": can_manage, "show_revoked": show_revoked,
    })
    return render(request, "accounts/study_team.html", context, status=status)


@require_http_methods(["GET", "POST"])
@web_view
def membership_revoke(request, membership_id: int):
    user = request.user
    membership = selectors.membership_get(user, membership_id)
    if membership.study_id is not None:
        permissions.require(user, "membership.manage", membership.study)
    else:
        permissions.require(user, "user.manage")
    form = MembershipRevokeForm(request.POST if request.method == "POST" else None,
                                initial={"version": membership.version})
    outcome = run_form(
        request, form,
        lambda: services.membership_revoke(actor=user, membership=membership, reason=form.cleaned_data["reason"],
                                           version=form.cleaned_data["version"]),
        success=lambda _: (f"Role {services.role_label(membership.role)} revoked from "
                           f"{membership.user.display_name}."),
        redirect_to=lambda _: ("study-team", membership.study_id) if membership.study_id else "account")
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        membership = selectors.membership_get(user, membership_id)
    return render(request, "accounts/membership_revoke.html",
                  {"form": form, "membership": membership, "role_label": services.role_label(membership.role),
                   "stale_url": request.path}, status=outcome.status)
