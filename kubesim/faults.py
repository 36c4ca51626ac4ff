"""Fault injection rules, matched per request (cluster, resource, page of a list)."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

FAULTS = frozenset(
    {"500", "503", "429", "410", "403", "401", "slow", "truncated", "malformed", "reset"}
)


@dataclass(slots=True)
class Fault:
    """One rule. count=-1 means forever; after_pages=k spares the first k pages of a list."""

    fault: str
    cluster: str = "*"
    resource: str = "*"
    count: int = 1
    delay: float = 0.0
    after_pages: int = 0
    retry_after: int = 1

    def __post_init__(self) -> None:
        self.fault = str(self.fault)
        if self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; expected one of {sorted(FAULTS)}")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


class FaultSet:
    """The active rules; `take` consumes one use of the first matching rule."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._rules.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in self._rules]

    def take(self, cluster: str, resource: str, page: int) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.cluster not in ("*", cluster) or rule.resource not in ("*", resource):
                    continue
                if page < rule.after_pages:
                    continue
                if rule.count == 0:
                    continue
                if rule.count > 0:
                    rule.count -= 1
                self._rules = [r for r in self._rules if r.count != 0]
                return rule
        return None
