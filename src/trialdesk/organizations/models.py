from __future__ import annotations

from django.db import models

from trialdesk.core.models import TrackedModel


class Organization(TrackedModel):
    class Kind(models.TextChoices):
        SPONSOR = "sponsor", "Sponsor"
        CRO = "cro", "CRO"
        INSTITUTION = "institution", "Institution / site"
        VENDOR = "vendor", "Vendor"
        IRB = "irb", "IRB / IEC"
        REGULATOR = "regulator", "Regulatory authority"
        OTHER = "other", "Other"

    name = models.CharField(max_length=300)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # ClinicalTrials.gov agency class (INDUSTRY, NIH, OTHER...), when imported.
    registry_class = models.CharField(max_length=20, blank=True, default="")
    address = models.CharField(max_length=300, blank=True, default="")
    city = models.CharField(max_length=120, blank=True, default="")
    state = models.CharField(max_length=120, blank=True, default="")
    postal_code = models.CharField(max_length=30, blank=True, default="")
    country = models.CharField(max_length=100, blank=True, default="")
    phone = models.CharField(max_length=50, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    website = models.URLField(blank=True, default="")
    # Key used to find the same institution again on re-import (name|city|state|country, lower-case).
    match_key = models.CharField(max_length=400, blank=True, default="", db_index=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["kind", "name"], name="org_kind_name_idx")]

    def __str__(self) -> str:
        return self.name


class Person(TrackedModel):
    title = models.CharField(max_length=40, blank=True, default="", help_text="Dr., Prof., …")
    first_name = models.CharField(max_length=120)
    last_name = models.CharField(max_length=120)
    degrees = models.CharField(max_length=80, blank=True, default="", help_text="MD, PhD, RN, …")
    email = models.EmailField(blank=True, default="")
    phone = models.CharField(max_length=50, blank=True, default="")
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="people")
    job_title = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        ordering = ["last_name", "first_name"]
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        if self.title:
            name = f"{self.title} {name}"
        if self.degrees:
            name = f"{name}, {self.degrees}"
        return name
