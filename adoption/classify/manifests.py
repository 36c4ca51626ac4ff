"""Manifest loading for ``meshboard analyze``: multi-document YAML/JSON files and
``kind: List`` → :class:`ClusterObjects`.

``parse_documents`` and ``objects_from_documents`` are pure; ``load_paths`` reads files
and directories (``*.yaml``, ``*.yml``, ``*.json``, recursively, in sorted order).
Errors are raised as :class:`ManifestError` naming the file and the 1-based document
number, never as a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from .kube import as_dict, as_list, as_str, kind_of, labels_of, name_of
from .model import ClusterObjects

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

_CORE_KINDS = {
    "Namespace": "namespaces",
    "Pod": "pods",
    "ReplicaSet": "replicasets",
    "Job": "jobs",
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "CronJob": "cronjobs",
    "ReplicationController": "replicationcontrollers",
    "Service": "services",
    "ConfigMap": "configmaps",
    "MutatingWebhookConfiguration": "webhooks",
}
_ISTIO_GROUPS = (
    "networking.istio.io",
    "security.istio.io",
    "telemetry.istio.io",
    "extensions.istio.io",
)


class ManifestError(Exception):
    """A file that cannot be read or parsed; ``str()`` is a one-line message."""

    def __init__(self, source: str, document: int | None, problem: str) -> None:
        self.source, self.document, self.problem = source, document, problem
        where = f"{source}: document {document}" if document is not None else source
        super().__init__(f"{where}: {problem}")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def parse_documents(text: str, source: str = "<input>") -> list[dict[str, Any]]:
    """All Kubernetes objects of a multi-document YAML (or JSON) text, ``kind: List``
    expanded.  Empty documents are skipped; a non-mapping document is an error."""
    out: list[dict[str, Any]] = []
    index = 0
    try:
        for index, doc in enumerate(yaml.safe_load_all(text), start=1):  # noqa: B007
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise ManifestError(source, index, "not a Kubernetes object (expected a mapping)")
            out.extend(_expand(doc))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = _one_line(getattr(exc, "problem", None) or str(exc))
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ManifestError(source, index + 1, f"invalid YAML: {problem}{line}") from None
    except RecursionError:
        raise ManifestError(source, index + 1, "document nested too deeply") from None
    return out


def _expand(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if kind_of(doc) == "List" or (kind_of(doc).endswith("List") and "items" in doc):
        items: list[dict[str, Any]] = []
        for item in as_list(doc.get("items")):
            if isinstance(item, dict):
                items.extend(_expand(item))
        return items
    return [doc]


def _plural(kind: str) -> str:
    low = kind.lower()
    if low.endswith("y"):
        return low[:-1] + "ies"
    if low.endswith("s"):
        return low + "es"
    return low + "s"


def objects_from_documents(docs: Iterable[dict[str, Any]]) -> ClusterObjects:
    """Sort parsed objects into :class:`ClusterObjects` by kind/apiVersion."""
    objs = ClusterObjects()
    for doc in docs:
        kind = kind_of(doc)
        group = as_str(doc.get("apiVersion")).partition("/")[0]
        if group in _ISTIO_GROUPS:
            objs.istio.setdefault(_plural(kind), []).append(doc)
            continue
        attr = _CORE_KINDS.get(kind)
        if attr is None:
            continue
        getattr(objs, attr).append(doc)
        if kind in ("Deployment", "Pod") and (
            labels_of(doc).get("app") == "istiod" or name_of(doc).startswith("istiod")
        ):
            if as_dict(doc.get("metadata")).get("namespace") in (None, "istio-system") or (
                labels_of(doc).get("app") == "istiod"
            ):
                objs.istiod.append(doc)
    return objs


def iter_manifest_files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs.sort()
                files.extend(Path(root) / n for n in sorted(names) if n.endswith(MANIFEST_SUFFIXES))
        else:
            files.append(path)
    return files


def load_paths(paths: Sequence[str]) -> ClusterObjects:
    """Read files/directories into :class:`ClusterObjects`; raises :class:`ManifestError`."""
    docs: list[dict[str, Any]] = []
    for path in iter_manifest_files(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ManifestError(str(path), None, f"cannot read file: {_one_line(reason)}") from None
        docs.extend(parse_documents(text, str(path)))
    return objects_from_documents(docs)
