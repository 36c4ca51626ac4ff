"""All cluster access goes through this package: connect, discover, list (paged raw bytes)."""

from __future__ import annotations

from .connect import IN_CLUSTER, KUBECONFIG, TOKEN, ClusterConnection, build_api_client
from .discovery import ISTIO_GROUPS, Discovery, discover
from .errors import (
    KubeAuthError,
    KubeConfigError,
    KubeError,
    KubeForbidden,
    KubeMalformed,
    KubeNotFound,
    KubeServerError,
    KubeTimeout,
    KubeUnreachable,
)
from .listing import (
    ListOptions,
    ListStats,
    Resource,
    admission,
    apps,
    batch,
    core,
    core_in_namespace,
    custom,
    decode_pods,
    list_items,
    namespaced_api,
    stream_items,
)

__all__ = [
    "IN_CLUSTER",
    "ISTIO_GROUPS",
    "KUBECONFIG",
    "TOKEN",
    "ClusterConnection",
    "Discovery",
    "KubeAuthError",
    "KubeConfigError",
    "KubeError",
    "KubeForbidden",
    "KubeMalformed",
    "KubeNotFound",
    "KubeServerError",
    "KubeTimeout",
    "KubeUnreachable",
    "ListOptions",
    "ListStats",
    "Resource",
    "admission",
    "apps",
    "batch",
    "build_api_client",
    "core",
    "core_in_namespace",
    "custom",
    "decode_pods",
    "discover",
    "list_items",
    "namespaced_api",
    "stream_items",
]
