#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    """Run a management command with the portal's settings (and Haystack's telemetry off unless set otherwise)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docintel.settings")
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    from django.core.management import execute_from_command_line  # noqa: PLC0415 - after the env is set

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
