"""The simulated clock: start + real elapsed x speed; can be set, frozen or sped up at runtime."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class SimClock:
    """Thread-safe simulated time. speed=0 freezes the clock at its current value."""

    def __init__(self, start: datetime | None = None, speed: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._base = start or datetime.now(UTC)
        if self._base.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._real0 = time.monotonic()
        self._speed = float(speed)

    def now(self) -> datetime:
        with self._lock:
            elapsed = time.monotonic() - self._real0
            return self._base + timedelta(seconds=elapsed * self._speed)

    @property
    def speed(self) -> float:
        return self._speed

    def set_time(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("time must be timezone-aware")
        with self._lock:
            self._base = at
            self._real0 = time.monotonic()

    def set_speed(self, speed: float) -> None:
        now = self.now()
        with self._lock:
            self._base = now
            self._real0 = time.monotonic()
            self._speed = float(speed)

    def freeze(self) -> None:
        self.set_speed(0.0)
