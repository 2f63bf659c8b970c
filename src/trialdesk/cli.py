"""The `trialdesk` console command: Django's management entry point with our settings."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trialdesk.settings")
    from trialdesk.conf import ConfigError

    try:
        from django.core.management import execute_from_command_line

        execute_from_command_line(["trialdesk", *(sys.argv[1:] if argv is None else argv)])
    except ConfigError as exc:
        sys.stderr.write(f"trialdesk: configuration error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
