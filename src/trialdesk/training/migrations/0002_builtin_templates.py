"""Seed the two built-in training templates (read-only; users copy them to edit).

The content is written out here, not imported, so this migration keeps meaning the same thing later.
"""

from django.db import migrations

CHECKLIST = [
    "Protocol, informed consent forms, SOPs and manuals compiled and accessible",
    "Study goals and session objectives set",
    "Materials tailored to site-specific requirements and regulations",
    "Attendees notified and availability confirmed",
    "Schedule set with time for protocol review, hands-on work and Q&A",
]

AGENDA = [
    {"topic": "Study introduction",
     "items": ["Objectives", "Endpoints", "Timelines", "Roles and responsibilities"]},
    {"topic": "Regulatory compliance",
     "items": ["ICH-GCP", "FDA requirements", "EMA requirements", "Site-specific rules"]},
    {"topic": "Protocol-specific procedures",
     "items": ["Eligibility criteria", "Treatment plan", "Informed consent", "Recruitment", "Screening",
               "Follow-up"]},
    {"topic": "Safety and adverse event recognition",
     "items": ["Adverse event and serious adverse event definitions", "Recognising and grading events",
               "Reporting timelines and routes"]},
    {"topic": "Documentation and reporting",
     "items": ["Source documents", "Case report forms and data entry", "Query resolution",
               "Essential documents"]},
    {"topic": "Hands-on practice",
     "items": ["Specimen collection", "Data documentation", "Equipment", "Wearables or devices",
               "Role-play and case scenarios"]},
]

TEMPLATES = [
    {
        "name": "Study nurse protocol training",
        "kind": "protocol",
        "description": "Protocol training for study nurses and site staff before they take on delegated "
                       "study tasks: the protocol, its procedures and the rules that apply.",
        "checklist": CHECKLIST,
        "agenda": AGENDA,
    },
    {
        "name": "Study nurse training and inservice",
        "kind": "inservice",
        "description": "Training and inservice for study nurses: practical, hands-on session on the study's "
                       "procedures, equipment and documentation, with time for questions.",
        "checklist": CHECKLIST,
        "agenda": [AGENDA[5], AGENDA[2], AGENDA[3], AGENDA[4], AGENDA[0], AGENDA[1]],
    },
]


def seed(apps, schema_editor):
    TrainingTemplate = apps.get_model("training", "TrainingTemplate")
    for data in TEMPLATES:
        if not TrainingTemplate.objects.filter(builtin=True, name=data["name"]).exists():
            TrainingTemplate.objects.create(builtin=True, **data)


def unseed(apps, schema_editor):
    # Built-ins that no training uses can go when migrating backwards.
    TrainingTemplate = apps.get_model("training", "TrainingTemplate")
    TrainingTemplate.objects.filter(builtin=True, trainings__isnull=True).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("training", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(seed, unseed),
    ]
