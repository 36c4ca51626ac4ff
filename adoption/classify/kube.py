"""Defensive accessors for Kubernetes objects given as plain dicts, and label selectors.

Every function here accepts arbitrary input (wrong types, missing keys, odd strings) and
never raises.  Label/annotation values are normalised to strings: YAML manifests may
hold unquoted ``true``/``1`` that the Kubernetes API would have rejected.

Label selectors follow ``metav1.LabelSelector`` semantics as used by webhook selectors
(stage A, rules W1–W9), Service selectors and Istio ``workloadSelector``/``selector``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

ISTIO_PROXY = "istio-proxy"


def as_dict(value: Any) -> dict[str, Any]:
    return value if type(value) is dict or isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    """Label-value normalisation: bools as ``true``/``false``, None as empty."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return ""


class TrackedMap(dict[str, str]):
    """A pod's labels or annotations that remember whether a key outside ``kept`` was read
    (``outside``: those keys; ``"*"`` when the whole map was looked at). The classifier's memo
    (`cluster.Classifier`) keys a verdict by the kept keys only, and stores it only when the
    verdict read nothing else."""

    __slots__ = ("kept", "outside")

    def __init__(self, data: dict[str, str], kept: frozenset[str]) -> None:
        super().__init__(data)
        self.kept = kept
        self.outside: set[str] = set()

    def _read(self, key: Any) -> None:
        if key not in self.kept:
            self.outside.add(key if isinstance(key, str) else "*")

    def get(self, key: Any, default: Any = None) -> Any:
        self._read(key)
        return super().get(key, default)

    def __getitem__(self, key: Any) -> str:
        self._read(key)
        return super().__getitem__(key)

    def __contains__(self, key: Any) -> bool:
        self._read(key)
        return super().__contains__(key)

    def _all(self) -> None:
        self.outside.add("*")

    def __iter__(self) -> Any:
        self._all()
        return super().__iter__()

    def __len__(self) -> int:
        self._all()
        return super().__len__()

    def keys(self) -> Any:
        self._all()
        return super().keys()

    def items(self) -> Any:
        self._all()
        return super().items()

    def values(self) -> Any:
        self._all()
        return super().values()

    def copy(self) -> dict[str, str]:
        self._all()
        return dict(super().items())


def str_map(value: Any) -> dict[str, str]:
    """A ``{str: str}`` view of a labels/annotations mapping.  Well-formed input (the
    normal case from the API server) is returned as is, without copying: treat the
    result as read-only."""
    if type(value) is TrackedMap:
        return value
    if not isinstance(value, dict):
        return {}
    for k, v in value.items():
        if type(k) is not str or type(v) is not str:
            return {k: as_str(v) for k, v in value.items() if isinstance(k, str)}
    return value


def meta(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        m = obj.get("metadata")
        if isinstance(m, dict):
            return m
    return {}


def name_of(obj: Any) -> str:
    return as_str(meta(obj).get("name"))


def namespace_of(obj: Any, default: str = "default") -> str:
    ns = as_str(meta(obj).get("namespace"))
    return ns or default


def has_namespace(obj: Any) -> bool:
    return bool(as_str(meta(obj).get("namespace")))


def labels_of(obj: Any) -> dict[str, str]:
    return str_map(meta(obj).get("labels"))


def annotations_of(obj: Any) -> dict[str, str]:
    return str_map(meta(obj).get("annotations"))


def kind_of(obj: Any) -> str:
    return as_str(as_dict(obj).get("kind"))


def spec_of(obj: Any) -> dict[str, Any]:
    return as_dict(as_dict(obj).get("spec"))


def owner_refs(obj: Any) -> list[dict[str, Any]]:
    return [r for r in as_list(meta(obj).get("ownerReferences")) if isinstance(r, dict)]


def controller_ref(obj: Any) -> tuple[str, str] | None:
    """(kind, name) of the controlling owner (``controller: true``), else the first."""
    refs_value = meta(obj).get("ownerReferences")
    if type(refs_value) is list and len(refs_value) == 1:  # the usual case, quickly
        ref = refs_value[0]
        if type(ref) is dict:
            kind, name = ref.get("kind"), ref.get("name")
            if type(kind) is str and type(name) is str:
                return (kind, name) if kind and name else None
    refs = owner_refs(obj)
    if not refs:
        return None
    chosen = next((r for r in refs if r.get("controller") is True), refs[0])
    kind, name = as_str(chosen.get("kind")), as_str(chosen.get("name"))
    if not kind or not name:
        return None
    return kind, name


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 timestamp (``2024-01-02T03:04:05Z``) → aware datetime, None on bad input."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed


def containers(spec: Mapping[str, Any], key: str = "containers") -> list[dict[str, Any]]:
    value = spec.get(key)
    if not isinstance(value, list):
        return []
    return [c for c in value if isinstance(c, dict)]


def selector_matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """``metav1.LabelSelector`` match; a missing (None) selector matches everything,
    as does ``{}``.  An invalid selector (unknown operator, wrong types) matches nothing,
    like ``LabelSelectorAsSelector`` returning an error."""
    if selector is None:
        return True
    if not isinstance(selector, dict):
        return False
    match_labels = selector.get("matchLabels")
    if match_labels is not None:
        if not isinstance(match_labels, dict):
            return False
        for key, want in match_labels.items():
            if not isinstance(key, str) or labels.get(key) != as_str(want):
                return False
    exprs = selector.get("matchExpressions")
    if exprs is not None:
        if not isinstance(exprs, list):
            return False
        for expr in exprs:
            if not _expression_matches(expr, labels):
                return False
    return True


def _expression_matches(expr: Any, labels: Mapping[str, str]) -> bool:
    if not isinstance(expr, dict):
        return False
    key = expr.get("key")
    op = expr.get("operator")
    if not isinstance(key, str) or not isinstance(op, str):
        return False
    values = [as_str(v) for v in as_list(expr.get("values"))]
    present = key in labels
    if op == "In":
        return present and labels[key] in values
    if op == "NotIn":
        return not present or labels[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    return False


def selector_is_empty(selector: Any) -> bool:
    if not isinstance(selector, dict):
        return True
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def map_selector_matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """Plain ``{key: value}`` selector (Service ``spec.selector``, Istio ``matchLabels``):
    all pairs must be present.  An empty/missing selector matches nothing here."""
    if not isinstance(selector, dict) or not selector:
        return False
    return all(isinstance(k, str) and labels.get(k) == as_str(v) for k, v in selector.items())


def friendly_name(obj: Any, kind: str | None = None) -> str:
    """``istioctl analyze`` resource naming: ``Kind ns/name``, or ``Kind name`` for
    cluster-scoped objects and objects without ``metadata.namespace``."""
    k = kind or kind_of(obj)
    ns = as_str(meta(obj).get("namespace"))
    name = name_of(obj)
    return f"{k} {ns}/{name}" if ns else f"{k} {name}"
