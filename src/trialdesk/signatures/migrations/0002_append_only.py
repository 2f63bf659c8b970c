from django.db import migrations

from trialdesk.core.append_only import migration_operations


class Migration(migrations.Migration):
    dependencies = [("signatures", "0001_initial")]

    operations = [migration_operations("signatures_signature")]
