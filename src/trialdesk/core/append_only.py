"""Database triggers that make a table append-only (refuse UPDATE and DELETE).

Used by migrations for the audit trail and signatures: even a person with SQL
access through the application's connection cannot rewrite history unnoticed;
they would have to drop the trigger first, and verify_audit still finds the edit.
"""

from __future__ import annotations


def install_sql(vendor: str, table: str) -> list[str]:
    if vendor == "postgresql":
        fn = f"{table}_append_only"
        return [
            f"""CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  RAISE EXCEPTION '%% on {table} refused: the table is append-only', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
                END $$""",
            f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}",
            f"""CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION {fn}()""",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION {fn}()""",
        ]
    if vendor == "sqlite":
        return [
            f"""CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table}
                BEGIN SELECT RAISE(ABORT, 'UPDATE on {table} refused: the table is append-only'); END""",
            f"""CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table}
                BEGIN SELECT RAISE(ABORT, 'DELETE on {table} refused: the table is append-only'); END""",
        ]
    raise RuntimeError(f"No append-only triggers for database vendor {vendor!r}")


def uninstall_sql(vendor: str, table: str) -> list[str]:
    if vendor == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"DROP FUNCTION IF EXISTS {table}_append_only()",
        ]
    return [f"DROP TRIGGER IF EXISTS {table}_no_update", f"DROP TRIGGER IF EXISTS {table}_no_delete"]


def migration_operations(table: str):
    """RunPython operations installing/removing the triggers for the current vendor."""
    from django.db import migrations

    def forward(apps, schema_editor):
        for sql in install_sql(schema_editor.connection.vendor, table):
            schema_editor.execute(sql)

    def backward(apps, schema_editor):
        for sql in uninstall_sql(schema_editor.connection.vendor, table):
            schema_editor.execute(sql)

    return migrations.RunPython(forward, backward)
