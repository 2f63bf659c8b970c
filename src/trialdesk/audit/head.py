"""The audit chain head on PostgreSQL: moved to the newest event once per transaction, at commit.

The head row (`AuditChainHead`, id 1) does two jobs: appenders lock it (SELECT ... FOR UPDATE) so the chain
cannot fork, and it records the last seq and hash so `verify_audit` notices events removed from the tail.

Appenders read the last seq/hash from the newest event (the unique seq index makes that one index probe) and,
on PostgreSQL, never UPDATE the head themselves: an UPDATE per append inside one long transaction leaves a row
version PostgreSQL cannot prune before the transaction ends, so each later lock of the head walked an ever longer
chain of versions (measured: 2.3 ms per append at first, 12.7 ms after 5,000 appends). Instead a deferred
constraint trigger fires when the transaction commits and moves the head to the newest event - one UPDATE per
transaction, inside it, so the head commits or rolls back with the events.

The trigger only advances a head that points exactly at the predecessor of the first new event (same seq and
hash): a head altered by hand stays altered, and verification keeps reporting it. After the first firing
advanced the head, a transaction-local setting lets the remaining firings return at once.

On SQLite rows are updated in place (no versions to walk), so appenders keep updating the head directly.
"""

from __future__ import annotations

TRIGGER = "audit_head_sync"


def install_sql(vendor: str) -> list[str]:
    if vendor != "postgresql":
        return []
    return [
        """CREATE OR REPLACE FUNCTION audit_head_sync() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
              synced bigint := COALESCE(NULLIF(current_setting('trialdesk.audit_head_seq', true), ''), '0')::bigint;
              last_seq bigint;
              last_hash varchar(64);
            BEGIN
              IF NEW.seq <= synced THEN
                RETURN NULL;
              END IF;
              SELECT seq, hash INTO last_seq, last_hash FROM audit_auditevent ORDER BY seq DESC LIMIT 1;
              UPDATE audit_auditchainhead SET seq = last_seq, hash = last_hash
               WHERE id = 1 AND seq = NEW.seq - 1 AND hash = NEW.prev_hash;
              IF FOUND THEN
                PERFORM set_config('trialdesk.audit_head_seq', last_seq::text, true);
              END IF;
              RETURN NULL;
            END $$""",
        f"DROP TRIGGER IF EXISTS {TRIGGER} ON audit_auditevent",
        f"""CREATE CONSTRAINT TRIGGER {TRIGGER} AFTER INSERT ON audit_auditevent
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()""",
    ]


def uninstall_sql(vendor: str) -> list[str]:
    if vendor != "postgresql":
        return []
    return [f"DROP TRIGGER IF EXISTS {TRIGGER} ON audit_auditevent", f"DROP FUNCTION IF EXISTS {TRIGGER}()"]


def head_updated_by_appends(vendor: str) -> bool:
    """Whether `audit_events_append` updates the head row itself (else the commit trigger does)."""
    return vendor != "postgresql"


def sync_pending(connection) -> None:
    """Inside an open PostgreSQL transaction, move the head now (fire the pending commit triggers), so that a
    verification in the same transaction sees the head the commit would leave. No-op elsewhere."""
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SET CONSTRAINTS {TRIGGER} IMMEDIATE")
        cursor.execute(f"SET CONSTRAINTS {TRIGGER} DEFERRED")
