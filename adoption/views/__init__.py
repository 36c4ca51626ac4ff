"""Page views. Login is required everywhere by `LoginRequiredMiddleware`; probes opt out."""

from __future__ import annotations

from .fleet import cluster_detail, cluster_list, workload_detail
from .health import healthz
from .okr import target_edit, target_list, waiver_create, waiver_list
from .pages import overview, squad_detail, tribe_detail
from .todo import tribe_todo

__all__ = [
    "cluster_detail",
    "cluster_list",
    "healthz",
    "overview",
    "squad_detail",
    "target_edit",
    "target_list",
    "tribe_detail",
    "tribe_todo",
    "waiver_create",
    "waiver_list",
    "workload_detail",
]
