"""Pure-Python Istio mesh-membership classifier for meshboard (no Django, no I/O).

Follows ``shared/docs/istio-mesh-membership.md`` (rule ids N1–N7, W1–W9, B1–B6,
P1–P12, sections 6–10) and DESIGN §3 (states and metrics).

Public API::

    from adoption.classify import ClusterObjects, ClassifyOptions, classify_cluster

    result = classify_cluster(ClusterObjects(namespaces=[...], pods=[...]), ClassifyOptions())
    result.namespaces  # list[NamespaceRecord]
    result.workloads   # list[WorkloadRecord]
    result.pods        # list[PodRecord]
    result.messages    # list[Diagnostic]: origin "istio" (istioctl) or "meshboard" (MB codes)
    result.control_planes  # dict[revision, version]

``adoption.classify.cli.main(argv) -> int`` implements ``meshboard analyze``.
"""

from __future__ import annotations

from .cluster import classify_cluster, classify_pod
from .model import (
    ClassifyOptions,
    ClusterObjects,
    ClusterResult,
    Diagnostic,
    Level,
    MeshMode,
    NamespaceClass,
    NamespaceRecord,
    PodRecord,
    PodState,
    WorkloadRecord,
    WorkloadState,
)
from .quantity import cpu_millicores, memory_bytes, parse_quantity
from .versions import is_older, parse_image, proxy_version

__all__ = [
    "ClassifyOptions",
    "ClusterObjects",
    "ClusterResult",
    "Diagnostic",
    "Level",
    "MeshMode",
    "NamespaceClass",
    "NamespaceRecord",
    "PodRecord",
    "PodState",
    "WorkloadRecord",
    "WorkloadState",
    "classify_cluster",
    "classify_pod",
    "cpu_millicores",
    "is_older",
    "memory_bytes",
    "parse_image",
    "parse_quantity",
    "proxy_version",
]
