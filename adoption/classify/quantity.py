"""Kubernetes resource quantities (proxy CPU/memory, rule table §1 ``proxyCPU`` …).

Pure functions; arbitrary input returns ``None`` and never raises.
Accepted forms follow ``k8s.io/apimachinery/pkg/api/resource``: decimal numbers with an
optional binary suffix (Ki Mi Gi Ti Pi Ei), decimal suffix (n u m k M G T P E) or a
decimal exponent (``1e3``, ``1E-3``).
"""

from __future__ import annotations

import functools
import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_RE = re.compile(
    r"^(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?:(?P<bin>Ki|Mi|Gi|Ti|Pi|Ei)|(?P<exp>[eE][+-]?\d{1,3})|(?P<dec>[numkMGTPE]?))$"
)
_MAX_LEN = 64
_INT64_MAX = Decimal(2**63 - 1)


def parse_quantity(value: Any) -> Decimal | None:
    """Parse a quantity into a Decimal of base units; None on bad input."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > _MAX_LEN:
        return None
    m = _RE.match(text)
    if m is None:
        return None
    try:
        number = Decimal(m.group("num"))
        if m.group("bin"):
            return number * _BINARY[m.group("bin")]
        if m.group("exp"):
            return number.scaleb(int(m.group("exp")[1:]))
        return number * _DECIMAL[m.group("dec") or ""]
    except (InvalidOperation, ValueError, KeyError, OverflowError):
        return None


def _ceil_int(value: Decimal | None) -> int | None:
    if value is None or value < 0 or value > _INT64_MAX:
        return None
    try:
        return int(value.to_integral_value(rounding=ROUND_CEILING))
    except (InvalidOperation, OverflowError, ValueError):
        return None


def cpu_millicores(value: Any, *, cache: bool = True) -> int | None:
    """``100m`` → 100, ``1.5`` → 1500, ``1e3`` → 1000000; None on bad/negative input.
    ``cache=False`` for measured usage (see `_cpu_text`)."""
    if type(value) is str:
        return _cpu_text(value) if cache else _cpu_text.__wrapped__(value)
    q = parse_quantity(value)
    return _ceil_int(q * 1000 if q is not None else None)


def memory_bytes(value: Any, *, cache: bool = True) -> int | None:
    """``1.5Gi`` → 1610612736, ``128974848`` → 128974848, ``500Mi``; None on bad input.
    ``cache=False`` for measured usage (see `_cpu_text`)."""
    if type(value) is str:
        return _memory_text(value) if cache else _memory_text.__wrapped__(value)
    return _ceil_int(parse_quantity(value))


# A cluster repeats a few dozen request/limit strings across tens of thousands of pods. Measured
# usage (PodMetrics) is another matter: thousands of new strings every poll, which an LRU would
# keep past the poll, each pinning a block of the allocator's memory (the worker's RSS crept up
# from poll to poll), for no hits.
@functools.lru_cache(maxsize=4096)
def _cpu_text(value: str) -> int | None:
    q = parse_quantity(value)
    return _ceil_int(q * 1000 if q is not None else None)


@functools.lru_cache(maxsize=4096)
def _memory_text(value: str) -> int | None:
    return _ceil_int(parse_quantity(value))
