from django.db import migrations

from trialdesk.audit.chain import GENESIS_HASH
from trialdesk.core.append_only import migration_operations


def create_head(apps, schema_editor):
    apps.get_model("audit", "AuditChainHead").objects.get_or_create(id=1, defaults={"seq": 0,
                                                                                      "hash": GENESIS_HASH})


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migration_operations("audit_auditevent"),
        migrations.RunPython(create_head, migrations.RunPython.noop),
    ]
