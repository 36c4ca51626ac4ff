"""A cluster's objects on one simulated day, rendered lazily and cached as JSON bytes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from kubesim.render import ENC

Builder = Callable[[], tuple[dict[str, Any], dict[str, Any]]]


@dataclass(slots=True)
class Entry:
    """One object: identity and labels eagerly, the JSON body on first use."""

    namespace: str | None
    name: str
    labels: dict[str, str]
    build: Builder
    phase: str | None = None
    _meta: bytes | None = None
    _body: bytes | None = None

    def _render(self) -> None:
        meta, rest = self.build()
        m = ENC.encode(meta)
        r = ENC.encode(rest)
        self._meta = m
        self._body = b'{"metadata":' + m + (b"," + r[1:] if len(r) > 2 else b"}")

    def body(self) -> bytes:
        """The object as listed (without kind/apiVersion, like list items of the API server)."""
        if self._body is None:
            self._render()
        return self._body  # type: ignore[return-value]

    def meta(self) -> bytes:
        if self._meta is None:
            self._render()
        return self._meta  # type: ignore[return-value]

    def with_kind(self, kind: str, api_version: str) -> bytes:
        head = ENC.encode({"kind": kind, "apiVersion": api_version})
        return head[:-1] + b"," + self.body()[1:]

    def to_dict(self, kind: str, api_version: str) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
        out.update(msgspec.json.decode(self.body()))
        return out


@dataclass(slots=True)
class Snapshot:
    """All objects of one cluster on one day, keyed by plural resource name."""

    cluster: str
    day: int
    resource_version: str
    resources: dict[str, list[Entry]]
    filters: dict[tuple[object, ...], list[Entry]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def select(
        self,
        plural: str,
        namespace: str | None,
        key: tuple[object, ...],
        pred: Callable[[Entry], bool] | None,
    ) -> list[Entry]:
        """Entries of a resource in a namespace matching `pred`; cached per filter key."""
        ck = (plural, namespace, *key)
        got = self.filters.get(ck)
        if got is None:
            items = self.resources.get(plural, [])
            got = [
                e
                for e in items
                if (namespace is None or e.namespace == namespace) and (pred is None or pred(e))
            ]
            if len(self.filters) > 64:
                self.filters.clear()
            self.filters[ck] = got
        return got
