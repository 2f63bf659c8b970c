"""API schemas for the ClinicalTrials.gov import."""

from ninja import Field, Schema


class ImportResultOut(Schema):
    file: str = Field(description='The uploaded file name, or "request body" for a JSON body')
    nct_id: str
    study_id: int
    protocol_number: str
    created: bool = Field(description="True when the study was new; False when an existing study was updated")
    changed: bool = Field(description="False when a re-import found nothing new (nothing was written)")
    status: str = Field(description="The study's status after the import")
    sites_created: int
    sites_updated: int
    organizations_created: int
    warnings: list[str] = Field(description="Values that were left out or shortened")
