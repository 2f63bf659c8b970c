"""Exit 0 when the PostgreSQL server of a database URL accepts connections, else print why and exit 1.

Used by scripts/test.sh to decide whether to run the PostgreSQL pass. It connects to the server's
`postgres` maintenance database, as pytest-django does to create the test database.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: pg_reachable.py postgres://user@host:port/dbname", file=sys.stderr)
        return 2
    from trialdesk.conf import ConfigError, parse_database_url

    try:
        db = parse_database_url(argv[1], name="TRIALDESK_TEST_DATABASE_URL")
    except ConfigError as exc:
        print(exc)
        return 1
    if "postgresql" not in db["ENGINE"]:
        print(f"{argv[1]} is not a PostgreSQL URL")
        return 1
    import psycopg

    try:
        conn = psycopg.connect(dbname="postgres", user=db["USER"] or None, password=db["PASSWORD"] or None,
                               host=db["HOST"] or None, port=db["PORT"] or None, connect_timeout=5)
    except psycopg.Error as exc:
        print(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        return 1
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
