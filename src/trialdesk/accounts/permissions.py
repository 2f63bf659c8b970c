"""The one place that decides access. Every view, API route and service asks here.

A user's rights come from active memberships: role (see roles.py) x scope
(portfolio-wide, one study, or named sites of one study).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from trialdesk.accounts.roles import PORTFOLIO_PERMISSIONS, permissions_for
from trialdesk.core.errors import AccessDenied

_CACHE_ATTR = "_trialdesk_grants"


@dataclass(frozen=True)
class Grant:
    study_id: int | None        # None: whole portfolio
    site_ids: frozenset[int]    # empty: every site of the study
    permissions: frozenset[str]


@dataclass(frozen=True)
class Scope:
    kind: str                   # "global" | "study" | "site"
    study_id: int | None = None
    site_id: int | None = None


def grants(user) -> list[Grant]:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    from django.db.models import Prefetch

    from trialdesk.accounts.models import Membership
    from trialdesk.sites.models import StudySite

    rows = (
        Membership.objects.filter(user=user, revoked_at__isnull=True)
        # Every named site, deleted ones included (a membership limited to a site that was deleted must not
        # become study-wide), and only their ids (this runs on every request).
        .prefetch_related(Prefetch("sites", queryset=StudySite.all_objects.only("id")))
        .only("id", "study_id", "role")
    )
    result = [
        Grant(
            study_id=m.study_id,
            site_ids=frozenset(s.pk for s in m.sites.all()),
            permissions=permissions_for(m.role),
        )
        for m in rows
    ]
    setattr(user, _CACHE_ATTR, result)
    return result


def forget(user) -> None:
    """Drop the cached grants after a role change."""
    if user is not None and hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def scope_of(obj) -> Scope:
    if obj is None:
        return Scope("global")
    from trialdesk.sites.models import StudySite
    from trialdesk.studies.models import Study

    if isinstance(obj, Study):
        return Scope("study", obj.pk)
    if isinstance(obj, StudySite):
        return Scope("site", obj.study_id, obj.pk)
    site_id = getattr(obj, "access_site_id", None)
    study_id = getattr(obj, "access_study_id", None) or getattr(obj, "study_id", None)
    if site_id is not None:
        return Scope("site", study_id, site_id)
    if study_id is not None:
        return Scope("study", study_id)
    return Scope("global")


def has_perm(user, perm: str, obj=None, *, whole_study: bool = False) -> bool:
    """True when one of the user's grants gives `perm` over `obj`.

    whole_study: the question is about all of a study (e.g. its full audit
    history), so grants limited to some sites do not count.
    """
    scope = scope_of(obj) if not isinstance(obj, Scope) else obj
    for grant in grants(user):
        if perm not in grant.permissions:
            continue
        if grant.study_id is None:
            return True  # portfolio-wide
        if perm in PORTFOLIO_PERMISSIONS:
            continue
        if scope.kind == "global":
            return True  # e.g. may list studies / view organizations at all
        if scope.study_id != grant.study_id:
            continue
        if grant.site_ids:
            if whole_study:
                continue
            if scope.kind == "site" and scope.site_id not in grant.site_ids:
                continue
        return True
    return False


def require(user, perm: str, obj=None, *, whole_study: bool = False) -> None:
    if not has_perm(user, perm, obj, whole_study=whole_study):
        raise AccessDenied(f"You do not have permission to do this ({perm}).")


def is_portfolio_wide(user, perm: str) -> bool:
    return any(g.study_id is None and perm in g.permissions for g in grants(user))


def study_filter(user, perm: str = "study.view") -> Q | None:
    """Q limiting studies to those `perm` applies to; None means all."""
    if is_portfolio_wide(user, perm):
        return None
    ids = {g.study_id for g in grants(user) if perm in g.permissions and g.study_id is not None}
    return Q(pk__in=ids)


def site_filter(user, perm: str = "site.view", *, prefix: str = "") -> Q | None:
    """Q limiting study sites (or rows with a site FK, via prefix) to those visible; None means all."""
    if is_portfolio_wide(user, perm):
        return None
    whole_studies: set[int] = set()
    named_sites: set[int] = set()
    for g in grants(user):
        if perm not in g.permissions or g.study_id is None:
            continue
        if g.site_ids:
            named_sites |= g.site_ids
        else:
            whole_studies.add(g.study_id)
    return Q(**{f"{prefix}study_id__in": whole_studies}) | Q(**{f"{prefix}pk__in" if not prefix else
                                                                  f"{prefix}id__in": named_sites})


def visible_studies(user, perm: str = "study.view") -> QuerySet:
    from trialdesk.studies.models import Study

    flt = study_filter(user, perm)
    qs = Study.objects.all()
    return qs if flt is None else qs.filter(flt)


def visible_sites(user, perm: str = "site.view") -> QuerySet:
    from trialdesk.sites.models import StudySite

    flt = site_filter(user, perm)
    qs = StudySite.objects.filter(study__is_deleted=False)  # a deleted study takes its sites out of view
    return qs if flt is None else qs.filter(flt)


def permitted(user, obj, perms: list[str]) -> dict[str, bool]:
    """For templates: {"study_edit": True, ...} for one object."""
    return {p.replace(".", "_"): has_perm(user, p, obj) for p in perms}
