"""Account, membership and API-token writes. All audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.contrib.auth import authenticate, login
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from trialdesk.accounts import permissions
from trialdesk.accounts.models import ApiToken, Membership, User
from trialdesk.accounts.roles import ROLE_LABELS, SITE_SCOPED_ROLES, Role
from trialdesk.audit.services import Action, audit_event_create
from trialdesk.core.errors import AccessDenied, Conflict, ValidationFailed
from trialdesk.core.records import require_reason

TOKEN_PREFIX = "td_"


# --- Authentication -------------------------------------------------------

def session_login(*, request, username: str, password: str) -> User | None:
    """Check credentials (through django-axes, which counts failures and locks out) and log in."""
    user = authenticate(request=request, username=username, password=password)
    if user is None:
        known = User.objects.filter(username=username).only("id", "username").first()
        audit_event_create(
            actor=None, action=Action.LOGIN_FAILED, record_type="accounts.user",
            record_id=str(known.pk) if known else "", record_label=username[:150],
            changes={"username": username[:150], "locked_out": bool(getattr(request, "axes_locked_out", False))},
        )
        return None
    login(request, user)
    audit_event_create(actor=user, action=Action.LOGIN, record=user)
    return user


def account_lockout_record(*, username: str) -> None:
    known = User.objects.filter(username=username).first()
    audit_event_create(actor=None, action=Action.LOCKOUT, record_type="accounts.user",
                       record_id=str(known.pk) if known else "", record_label=username[:150],
                       changes={"username": username[:150]})


def account_logout_record(*, user: User) -> None:
    audit_event_create(actor=user, action=Action.LOGOUT, record=user)


# --- Users ------------------------------------------------------------------

@transaction.atomic
def user_create(*, actor: User | None, username: str, email: str = "", first_name: str = "",
                last_name: str = "", person=None, password: str | None = None, is_blinded: bool = False,
                validate: bool = True) -> User:
    """Create a login. actor None only from trusted bootstrap code (CLI, demo loader)."""
    if actor is not None:
        permissions.require(actor, "user.manage")
    username = (username or "").strip()
    if not username:
        raise ValidationFailed.field("username", "A username is required.")
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"The username {username!r} is taken (user names are never reused).",
                       errors={"username": ["This username already exists."]})
    user = User(username=username, email=email, first_name=first_name, last_name=last_name, person=person,
                is_blinded=is_blinded)
    if password:
        if validate:
            try:
                validate_password(password, user)
            except DjangoValidationError as exc:
                raise ValidationFailed(exc.messages[0], errors={"password": list(exc.messages)}) from None
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    audit_event_create(actor=actor, action=Action.CREATE, record=user,
                       changes={"username": [None, username], "email": [None, email],
                                "person": [None, getattr(person, "pk", None)]})
    return user


@transaction.atomic
def user_deactivate(*, actor: User, user: User, reason: str) -> User:
    permissions.require(actor, "user.manage")
    reason = require_reason(reason)
    if not user.is_active:
        return user
    user.is_active = False
    user.deactivated_at = timezone.now()
    user.deactivation_reason = reason
    user.save(update_fields=["is_active", "deactivated_at", "deactivation_reason"])
    live_tokens = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
    revoked = sorted(live_tokens.values_list("prefix", flat=True))
    live_tokens.update(revoked_at=user.deactivated_at)
    # The tokens revoked with the account are named in its audit event.
    audit_event_create(actor=actor, action=Action.DEACTIVATE, record=user,
                       changes={"is_active": [True, False], "tokens_revoked": [None, revoked]}, reason=reason)
    return user


# --- Memberships ------------------------------------------------------------

def _require_manage(actor: User, study) -> None:
    if study is None:
        permissions.require(actor, "user.manage")
    else:
        permissions.require(actor, "membership.manage", study)


@transaction.atomic
def membership_grant(*, actor: User | None, user: User, role: str, study=None, sites=(), reason: str = ""
                     ) -> Membership:
    """Give `user` a role on a study (optionally limited to sites) or portfolio-wide."""
    try:
        role_enum = Role(role)
    except ValueError:
        raise ValidationFailed.field("role", f"Unknown role {role!r}; choose one of "
                                             f"{', '.join(r.value for r in Role)}.") from None
    if actor is not None:
        _require_manage(actor, study)
        if role_enum is Role.ADMIN and not permissions.has_perm(actor, "user.manage"):
            raise AccessDenied("Only an administrator can grant the Admin role.")
    sites = list(sites or [])
    if sites and study is None:
        raise ValidationFailed.field("sites", "Sites can only be named for a study membership.")
    for site in sites:
        if site.study_id != study.pk:
            raise ValidationFailed.field("sites", f"Site {site.site_number} does not belong to this study.")
    existing = Membership.objects.filter(user=user, study=study, role=role_enum.value,
                                         revoked_at__isnull=True).first()
    if existing is not None:
        raise Conflict(f"{user.username} already holds this role here.",
                       errors={"role": ["This user already has this role on this study."]})
    membership = Membership.objects.create(user=user, study=study, role=role_enum.value, granted_by=actor)
    if sites:
        membership.sites.set(sites)
    audit_event_create(
        actor=actor, action=Action.ROLE_GRANT, record=membership,
        changes={"user": [None, user.username], "role": [None, role_enum.value],
                 "study": [None, getattr(study, "protocol_number", None)],
                 "sites": [None, sorted(s.site_number for s in sites)]},
        reason=reason,
    )
    permissions.forget(user)
    return membership


@transaction.atomic
def membership_revoke(*, actor: User, membership: Membership, reason: str, version: int | None = None
                      ) -> Membership:
    _require_manage(actor, membership.study)
    reason = require_reason(reason)
    if version is not None and version != membership.version:
        from trialdesk.core.records import check_version

        check_version(membership, version)
    if membership.revoked_at is not None:
        raise Conflict("This membership is already revoked.")
    membership.revoked_at = timezone.now()
    membership.revoked_by = actor
    membership.revoke_reason = reason
    membership.version += 1
    membership.save(update_fields=["revoked_at", "revoked_by", "revoke_reason", "version"])
    audit_event_create(actor=actor, action=Action.ROLE_REVOKE, record=membership,
                       changes={"revoked_at": [None, membership.revoked_at],
                                "role": [membership.role, None]}, reason=reason)
    permissions.forget(membership.user)
    return membership


def role_label(role: str) -> str:
    return ROLE_LABELS[Role(role)]


def role_is_site_scoped(role: str) -> bool:
    return Role(role) in SITE_SCOPED_ROLES


# --- API tokens -------------------------------------------------------------

def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@transaction.atomic
def api_token_create(*, actor: User | None, user: User, name: str = "", expires_days: int | None = None
                     ) -> tuple[ApiToken, str]:
    """Create a token; return it with the secret, which is never stored and never shown again."""
    if actor is not None and actor.pk != user.pk:
        permissions.require(actor, "user.manage")
    if not user.is_active:
        raise ValidationFailed.field("user", "Cannot create a token for a deactivated user.")
    if expires_days is not None and not 1 <= expires_days <= 3650:
        raise ValidationFailed.field("expires_days", "Expiry must be between 1 and 3650 days.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=(name or "").strip()[:100], prefix=secret[:10], token_hash=hash_token(secret),
        expires_at=timezone.now() + dt.timedelta(days=expires_days) if expires_days else None,
    )
    audit_event_create(actor=actor, action=Action.TOKEN_CREATE, record=user,
                       changes={"token": [None, token.prefix], "expires_at": [None, token.expires_at]})
    return token, secret


@transaction.atomic
def api_token_revoke(*, actor: User | None, token: ApiToken, reason: str = "") -> ApiToken:
    if actor is not None and actor.pk != token.user_id:
        permissions.require(actor, "user.manage")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_event_create(actor=actor, action=Action.TOKEN_REVOKE, record=token.user,
                           changes={"token": [token.prefix, None]}, reason=reason)
    return token


def api_token_authenticate(secret: str) -> User | None:
    """The user behind a bearer token, or None. Records last use at most once a minute."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(secret)).first()
    now = timezone.now()
    if token is None or not token.is_usable(now):
        return None
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
