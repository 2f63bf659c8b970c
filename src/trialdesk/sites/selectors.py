from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from trialdesk.accounts import permissions
from trialdesk.core.errors import NotFound
from trialdesk.sites.models import StudySite


@dataclass
class SiteFilter:
    study_id: int | None = None
    status: str | None = None
    country: str | None = None
    text: str | None = None


def site_list(user, flt: SiteFilter | None = None) -> QuerySet[StudySite]:
    flt = flt or SiteFilter()
    qs = permissions.visible_sites(user).select_related("institution", "principal_investigator", "study")
    if flt.study_id is not None:
        qs = qs.filter(study_id=flt.study_id)
    if flt.status:
        qs = qs.filter(status=flt.status)
    if flt.country:
        qs = qs.filter(country__iexact=flt.country.strip())
    if flt.text:
        t = flt.text.strip()
        qs = qs.filter(Q(site_number__icontains=t) | Q(institution__name__icontains=t) | Q(city__icontains=t)
                       | Q(principal_investigator__last_name__icontains=t))
    return qs.order_by("study_id", "site_number")


def site_get(user, site_id: int) -> StudySite:
    site = StudySite.objects.select_related("institution", "principal_investigator", "study") \
        .filter(pk=site_id).first()
    if site is None or site.study.is_deleted or not permissions.has_perm(user, "site.view", site):
        raise NotFound("Site not found.")
    return site


def site_countries(user, study_id: int) -> list[str]:
    return list(
        site_list(user, SiteFilter(study_id=study_id)).exclude(country="").order_by("country")
        .values_list("country", flat=True).distinct()
    )
