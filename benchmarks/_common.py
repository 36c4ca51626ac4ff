"""Shared set-up for the benchmarks: a dedicated database, Django, timing and table helpers.

Every benchmark runs against its own database (``meshboard_bench`` by default, override with
``MESHBOARD_BENCH_DB``) created on the server ``DATABASE_URL`` points to, so a benchmark can never
touch the development or test data. ``setup_django()`` must run before any ``adoption`` import.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = os.environ.get("MESHBOARD_BENCH_DB", "meshboard_bench")


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def ensure_bench_database(url: str, name: str = BENCH_DB) -> str:
    """Create database ``name`` on ``url``'s server if missing; return its URL."""
    import psycopg
    from psycopg import sql

    if urlsplit(url).path.lstrip("/") == name:
        target = url
        url = _with_db(url, "postgres")
    else:
        target = _with_db(url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return target


def setup_django(*, migrate: bool = True) -> None:
    """Point Django at the benchmark database, set it up and migrate it (idempotent)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/postgres)")
    os.environ["DATABASE_URL"] = ensure_bench_database(url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meshboard.settings")
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


@contextmanager
def timer() -> Iterator[list[float]]:
    """``with timer() as t: ...`` then ``t[0]`` is the elapsed wall time in seconds."""
    out: list[float] = []
    t0 = time.perf_counter()
    try:
        yield out
    finally:
        out.append(time.perf_counter() - t0)


def median_time(fn: Callable[[], Any], runs: int, warmup: int = 1) -> tuple[float, list[float]]:
    """Median wall time (s) of ``runs`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / (1024 * 1024)


def machine() -> str:
    import platform

    return f"{os.cpu_count()} CPU, Python {platform.python_version()}, {platform.machine()}"


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A rich table when stdout is a terminal or not; plain text via rich either way."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(str(c) for c in row))
    Console(width=120).print(table)


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"
