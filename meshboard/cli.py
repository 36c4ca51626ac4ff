"""The ``meshboard`` command.

- ``meshboard quickstart``: embedded Postgres + Redis (when DATABASE_URL/REDIS_URL are unset),
  the kubesim fleet, migrations, a demo login, then web + Celery worker + beat under honcho.
  Ctrl-C stops every process it started.
- ``meshboard analyze FILE_OR_DIR...``: classify Kubernetes manifests like ``istioctl analyze``.
- anything else is a Django management command (``meshboard migrate``, ``meshboard shell``...).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "quickstart":
        from meshboard.quickstart import run

        return run(argv[1:])
    if argv and argv[0] == "analyze":
        from adoption.classify.cli import main as analyze

        return analyze(argv[1:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meshboard.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["meshboard", *argv])
    return 0


if __name__ == "__main__":
    sys.exit(main())
