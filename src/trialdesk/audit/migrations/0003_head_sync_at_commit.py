"""PostgreSQL: the chain head follows the events once per transaction, at commit.

Before this, every append UPDATEd the single head row. Inside one long transaction each UPDATE leaves a row
version that PostgreSQL cannot prune until the transaction ends, so every later lock/update of the head walked
a longer chain of versions (2 ms per append at first, 12 ms after 5,000). Now appends only lock the head row
(SELECT ... FOR UPDATE creates no row version) and read seq/hash from the newest event; this deferred
constraint trigger moves the head to the newest event when the transaction commits (see audit/head.py).
SQLite has no such cost and keeps updating the head on every append (nothing to install there).
"""

from django.db import migrations

from trialdesk.audit.head import install_sql, uninstall_sql


def forward(apps, schema_editor):
    for sql in install_sql(schema_editor.connection.vendor):
        schema_editor.execute(sql)


def backward(apps, schema_editor):
    for sql in uninstall_sql(schema_editor.connection.vendor):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only")]

    operations = [migrations.RunPython(forward, backward)]
