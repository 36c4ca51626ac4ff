"""pytest plugin (loaded with ``-p meshboard.pytest_plugin`` before pytest-django configures
Django): when ``DATABASE_URL``/``REDIS_URL`` are unset, start embedded servers so the suite runs
on a machine with nothing installed. With them set (CI), the real servers are used."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from meshboard.embedded import EmbeddedServices, ensure_services

logging.getLogger("pgserver").setLevel(logging.WARNING)

# Live-server and worker threads must not keep connections open, or the test database
# cannot be dropped at the end of the session.
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "0")

_services: EmbeddedServices | None = None
if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
    _dir = Path(os.environ.get("MESHBOARD_TEST_DATA_DIR") or tempfile.mkdtemp(prefix="mbtest-"))
    _services = ensure_services(_dir)


def pytest_unconfigure(config: object) -> None:
    if _services is not None:
        _services.stop()
