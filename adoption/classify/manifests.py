"""Manifest loading for ``meshboard analyze``: multi-document YAML/JSON files and
``kind: List`` → :class:`ClusterObjects`.

``parse_documents`` and ``objects_from_documents`` are pure; ``load_paths`` reads files
and directories (``*.yaml``, ``*.yml``, ``*.json``, recursively, in sorted order).
Errors are raised as :class:`ManifestError` naming the file and the 1-based document
number, never as a traceback.

Hostile input is bounded: files over :data:`MAX_FILE_BYTES` are refused before parsing, YAML
aliases may not expand a document beyond :data:`MAX_ALIAS_EXPANSION` extra nodes ("billion
laughs") nor refer to themselves, and a timestamp-looking scalar that is not a real date (e.g.
``2020-02-30``) stays a string, as ``kubectl`` would read it.
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
#: Largest manifest file read (a 50k-pod ``kubectl get -o yaml`` dump is about this size).
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Nodes that YAML aliases may add to one document once expanded (anchors are legitimate,
#: e.g. shared labels, but a few hundred alias events must not become a billion nodes).
MAX_ALIAS_EXPANSION = 100_000

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


class _AliasBomb(yaml.YAMLError):
    pass


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Reject a node graph whose aliases expand past the limit or loop back on themselves."""
    memo: dict[int, int] = {}
    visiting: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in memo:
            return memo[key]
        if key in visiting:
            raise _AliasBomb("a YAML alias refers to a node that contains it")
        visiting.add(key)
        total = 1
        for child in _children(node):
            total += size(child)
            if total - len(memo) > MAX_ALIAS_EXPANSION:
                raise _AliasBomb(
                    f"YAML aliases expand to more than {MAX_ALIAS_EXPANSION} extra nodes"
                )
        visiting.discard(key)
        memo[key] = total
        return total

    size(root)


class _Loader(yaml.SafeLoader):
    """SafeLoader with bounded alias expansion and lenient timestamps."""

    def construct_document(self, node: yaml.Node) -> Any:
        _check_expansion(node)
        return super().construct_document(node)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError, AttributeError, TypeError):
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def parse_documents(text: str, source: str = "<input>") -> list[dict[str, Any]]:
    """All Kubernetes objects of a multi-document YAML (or JSON) text, ``kind: List``
    expanded.  Empty documents are skipped; a non-mapping document is an error."""
    out: list[dict[str, Any]] = []
    index = 0
    try:
        for index, doc in enumerate(yaml.load_all(text, Loader=_Loader), start=1):  # noqa: B007, S506
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise ManifestError(source, index, "not a Kubernetes object (expected a mapping)")
            out.extend(_expand(doc))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = _one_line(getattr(exc, "problem", None) or str(exc) or type(exc).__name__)
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ManifestError(source, index + 1, f"invalid YAML: {problem}{line}") from None
    except RecursionError:
        raise ManifestError(source, index + 1, "document nested too deeply") from None
    except (ValueError, TypeError, OverflowError, AttributeError) as exc:
        # a constructor refusing a value, e.g. an integer of more than 4300 digits
        problem = _one_line(str(exc))[:200] or type(exc).__name__
        raise ManifestError(source, index + 1, f"invalid YAML value: {problem}") from None
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
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ManifestError(
                    str(path), None, f"file larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB"
                )
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ManifestError(str(path), None, f"cannot read file: {_one_line(reason)}") from None
        docs.extend(parse_documents(text, str(path)))
    return objects_from_documents(docs)
