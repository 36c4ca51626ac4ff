"""Rendering of pods (and pod metrics) as Kubernetes JSON objects.

Large, repeated parts of a pod (containers, volumes) are encoded once per workload, revision and
layout and embedded with `msgspec.Raw`, so a page of 500 pods encodes in milliseconds.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec

from kubesim import istio_templates as it
from kubesim.plan import ClusterPlan, WlPlan
from kubesim.rand import h, hexstr
from kubesim.timeline import PodInst, template_hash

ENC = msgspec.json.Encoder()


def iso(t: datetime) -> str:
    return t.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def rv_of(day: int, *key: object) -> str:
    """An object's resourceVersion: increases with the day it last changed."""
    return str((day + 2000) * 1000 + h(*key) % 997)


def list_rv(day: int) -> str:
    return str((day + 2000) * 1000 + 999)


@dataclass(slots=True)
class RenderCtx:
    plan: ClusterPlan
    epoch: datetime
    day: int
    now: datetime
    cache: dict[tuple[object, ...], msgspec.Raw] = field(default_factory=dict)
    containers: dict[tuple[object, ...], dict[str, dict[str, Any]]] = field(default_factory=dict)

    def raw(self, key: tuple[object, ...], build: Any) -> msgspec.Raw:
        r = self.cache.get(key)
        if r is None:
            r = self.cache[key] = msgspec.Raw(ENC.encode(build()))
        return r


def app_container_name(wl: WlPlan) -> str:
    return wl.name if wl.role == "app" else wl.name.removesuffix("-istio")


def wl_labels(wl: WlPlan) -> dict[str, str]:
    """Labels shared by a workload's template and pods (selector labels first)."""
    labels = {"app": wl.name}
    if wl.role == "app":
        labels["app.kubernetes.io/name"] = wl.name
        labels["app.kubernetes.io/part-of"] = wl.ns.tribe or "unknown"
        if wl.squad:
            labels["squad"] = wl.squad
    elif wl.role == "istiod":
        rev = wl.name.removeprefix("istiod-") if wl.name != "istiod" else "default"
        labels.update({"istio": "pilot", "istio.io/rev": rev, "sidecar.istio.io/inject": "false"})
        labels["app"] = "istiod"
    elif wl.role in ("ingress-gw", "egress-gw"):
        labels.update({"istio": wl.name.removeprefix("istio-"), "sidecar.istio.io/inject": "true"})
    elif wl.role == "k8s-gw":
        labels.update({
            "gateway.istio.io/managed": "istio.io-gateway-controller",
            "gateway.networking.k8s.io/gateway-name": wl.name.removesuffix("-istio"),
            "sidecar.istio.io/inject": "false",
        })  # fmt: skip
    elif wl.role == "waypoint":
        labels.update({
            "gateway.istio.io/managed": "istio.io-mesh-controller",
            "gateway.networking.k8s.io/gateway-name": "waypoint",
            "istio.io/dataplane-mode": "none",
            "sidecar.istio.io/inject": "false",
        })  # fmt: skip
    elif wl.role in ("ztunnel", "cni"):
        labels["sidecar.istio.io/inject"] = "false"
    return labels


def pod_labels(pod: PodInst) -> dict[str, str]:
    wl = pod.wl
    labels = wl_labels(wl)
    if wl.kind == "Deployment":
        labels["pod-template-hash"] = template_hash(wl, pod.rollout)
    elif wl.kind == "StatefulSet":
        labels["controller-revision-hash"] = f"{wl.name}-{template_hash(wl, pod.rollout)[:10]}"
        labels["statefulset.kubernetes.io/pod-name"] = pod.name
        labels["apps.kubernetes.io/pod-index"] = str(pod.slot)
    elif wl.kind == "DaemonSet":
        labels["controller-revision-hash"] = template_hash(wl, pod.rollout)[:9]
        labels["pod-template-generation"] = str(pod.rollout + 1)
    elif pod.owner_kind == "Job":
        labels["batch.kubernetes.io/job-name"] = pod.owner_name or ""
        labels["job-name"] = pod.owner_name or ""
    if pod.opt_out == "label":
        labels["sidecar.istio.io/inject"] = "false"
    elif pod.opt_out == "dataplane-none":
        labels["istio.io/dataplane-mode"] = "none"
    if pod.injection is not None:
        labels["security.istio.io/tlsMode"] = "istio"
        labels["service.istio.io/canonical-name"] = wl.name
        labels["service.istio.io/canonical-revision"] = "latest"
    return labels


def _app_container(ctx: RenderCtx, wl: WlPlan, rollout: int) -> dict[str, Any]:
    image = wl.image or f"registry.example.com/{wl.name}"
    if ":" not in image.rsplit("/", 1)[-1]:
        image = f"{image}:1.{rollout}.{h(wl.key, rollout) % 10}"
    cpu = (50, 100, 250, 500)[h(wl.key, "cpu") % 4]
    mem = (64, 128, 256, 512)[h(wl.key, "mem") % 4]
    return {
        "env": [
            {"name": "SERVICE_NAME", "value": wl.name},
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "PORT", "value": str(wl.port)},
        ],
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "livenessProbe": {
            "failureThreshold": 3,
            "httpGet": {"path": "/healthz", "port": wl.port, "scheme": "HTTP"},
            "periodSeconds": 10,
            "successThreshold": 1,
            "timeoutSeconds": 1,
        },
        "name": app_container_name(wl),
        "ports": [{"containerPort": wl.port, "name": "http", "protocol": "TCP"}],
        "resources": {
            "limits": {"memory": f"{mem * 2}Mi"},
            "requests": {"cpu": f"{cpu}m", "memory": f"{mem}Mi"},
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "volumeMounts": [
            {
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                "name": "kube-api-access",
                "readOnly": True,
            }
        ],
    }


def _owner_path(pod: PodInst) -> str:
    wl = pod.wl
    plural = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}
    group = "apps/v1" if wl.kind in plural else "batch/v1"
    if wl.kind == "Pod":
        return f"kubernetes://apis/v1/namespaces/{wl.ns.name}/pods/{pod.name}"
    p = plural.get(wl.kind, "cronjobs" if wl.kind == "CronJob" else "jobs")
    return f"kubernetes://apis/{group}/namespaces/{wl.ns.name}/{p}/{wl.name}"


def _layout(
    ctx: RenderCtx, pod: PodInst
) -> tuple[msgspec.Raw, msgspec.Raw | None, msgspec.Raw, list[str], list[str]]:
    """(containers, initContainers, volumes, container names, init container names)."""
    wl, inj = pod.wl, pod.injection
    key = (
        wl.key,
        pod.rollout,
        inj.version if inj else None,
        inj.native if inj else None,
        pod.gateway_version,
        pod.name if wl.kind == "Pod" else "",
    )

    def app() -> dict[str, Any]:
        return _app_container(ctx, wl, pod.rollout)

    names = [app_container_name(wl)]
    inits: list[str] = []
    sa_vol = {
        "name": "kube-api-access",
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {
                    "configMap": {
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                        "name": "kube-root-ca.crt",
                    }
                },
            ],
        },
    }
    if inj is not None:
        ports = [{"name": "http", "containerPort": wl.port, "protocol": "TCP"}]

        def proxy() -> dict[str, Any]:
            return it.proxy_container(
                version=inj.version,
                mode="sidecar",
                namespace=wl.ns.name,
                workload=wl.name,
                owner=_owner_path(pod),
                app_containers=names,
                ports=ports,
                native=inj.native,
                revision=inj.revision,
            )

        init_name = "istio-validation" if inj.cni else "istio-init"
        if inj.native:
            inits = [init_name, "istio-proxy"]
            containers = ctx.raw(("c",) + key, lambda: [app()])
            init = ctx.raw(("i",) + key, lambda: [it.init_container(inj.version, inj.cni), proxy()])
        else:
            inits = [init_name]
            names = [*names, "istio-proxy"]
            containers = ctx.raw(("c",) + key, lambda: [app(), proxy()])
            init = ctx.raw(("i",) + key, lambda: [it.init_container(inj.version, inj.cni)])
        volumes = ctx.raw(("v",) + key, lambda: [*it.istio_volumes(), sa_vol])
        return containers, init, volumes, names, inits
    if pod.gateway_version is not None and wl.role in (
        "ingress-gw",
        "egress-gw",
        "k8s-gw",
        "waypoint",
    ):
        mode = "waypoint" if wl.role == "waypoint" else "router"
        names = ["istio-proxy"]
        containers = ctx.raw(
            ("c",) + key,
            lambda: [
                it.proxy_container(
                    version=pod.gateway_version or "",
                    mode=mode,
                    namespace=wl.ns.name,
                    workload=wl.name,
                    owner=_owner_path(pod),
                    app_containers=[],
                    ports=[],
                    native=False,
                )
            ],
        )
        return (
            containers,
            None,
            ctx.raw(("v",) + key, lambda: [*it.istio_volumes(), sa_vol]),
            names,
            inits,
        )
    if wl.role in ("istiod", "ztunnel", "cni"):
        img = {"istiod": "pilot", "ztunnel": "ztunnel", "cni": "install-cni"}[wl.role]
        cname = {"istiod": "discovery", "ztunnel": "istio-proxy", "cni": "install-cni"}[wl.role]
        req = {
            "istiod": ("500m", "2048Mi"),
            "ztunnel": ("200m", "512Mi"),
            "cni": ("100m", "100Mi"),
        }[wl.role]

        def ctl() -> list[dict[str, Any]]:
            c = _app_container(ctx, wl, pod.rollout)
            c.update(
                name=cname,
                image=f"{it.HUB}/{img}:{pod.gateway_version}",
                resources={"requests": {"cpu": req[0], "memory": req[1]}},
            )
            return [c]

        names = [cname]
        return (
            ctx.raw(("c",) + key, ctl),
            None,
            ctx.raw(("v",) + key, lambda: [sa_vol]),
            names,
            inits,
        )
    return (
        ctx.raw(("c",) + key, lambda: [app()]),
        None,
        ctx.raw(("v",) + key, lambda: [sa_vol]),
        names,
        inits,
    )


def _ip(*key: object) -> str:
    x = h(*key)
    return f"10.{64 + x % 64}.{(x >> 8) % 256}.{1 + (x >> 16) % 254}"


def node_ip(plan: ClusterPlan, node: str) -> str:
    return _ip(plan.spec.name, "node", node)


def _statuses(
    pod: PodInst, names: list[str], spec_of: dict[str, dict[str, Any]], init: bool
) -> list[dict[str, Any]]:
    """Container statuses as a v1.33 kubelet reports them (with each container's allocated
    resources)."""
    started = iso(pod.created + timedelta(seconds=4))
    out = []
    for n in names:
        cid = "containerd://" + hexstr(64, pod.key, n)
        c = spec_of.get(n, {})
        image = c.get("image", "")
        st: dict[str, Any] = {
            "containerID": cid,
            "image": image,
            "imageID": f"{image.split(':')[0]}@sha256:{hexstr(64, image)}",
            "lastState": {},
            "name": n,
            "ready": True,
            "restartCount": 0,
            "started": True,
            "state": {"running": {"startedAt": started}},
        }
        resources = c.get("resources")
        if resources:
            st["allocatedResources"] = resources.get("requests", {})
            st["resources"] = resources
        if (init and n != "istio-proxy") or pod.phase == "Succeeded":
            st["ready"] = False
            st["started"] = False
            st["state"] = {
                "terminated": {
                    "containerID": cid,
                    "exitCode": 0,
                    "finishedAt": started,
                    "reason": "Completed",
                    "startedAt": started,
                }
            }
        out.append(st)
    return out


def render_pod(
    ctx: RenderCtx, pod: PodInst, labels: dict[str, str], uid: str, owner_uid: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (metadata, rest) of a pod object."""
    wl, inj = pod.wl, pod.injection
    containers, init, volumes, names, inits = _layout(ctx, pod)
    annotations: dict[str, str] = {}
    if inj is not None:
        annotations.update({
            "istio.io/rev": inj.revision,
            "kubectl.kubernetes.io/default-container": names[0],
            "kubectl.kubernetes.io/default-logs-container": names[0],
            "prometheus.io/path": "/stats/prometheus",
            "prometheus.io/port": "15020",
            "prometheus.io/scrape": "true",
            "sidecar.istio.io/status": it.status_annotation(
                inits, None if inj.native else ["istio-proxy"], inj.revision
            ),
        })  # fmt: skip
    elif wl.role in ("ingress-gw", "egress-gw"):
        annotations.update({
            "inject.istio.io/templates": "gateway",
            "istio.io/rev": "default",
            "sidecar.istio.io/status": it.status_annotation([], ["istio-proxy"], "default"),
        })  # fmt: skip
    if pod.opt_out == "annotation":
        annotations["sidecar.istio.io/inject"] = "false"
    if wl.native_annot is not None and wl.role == "app":
        annotations["sidecar.istio.io/nativeSidecar"] = wl.native_annot
    if pod.state in ("ambient", "ambient-pending"):
        annotations["ambient.istio.io/redirection"] = (
            "enabled" if pod.state == "ambient" else "pending"
        )
    meta: dict[str, Any] = {
        "name": pod.name,
        "namespace": wl.ns.name,
        "uid": uid,
        "resourceVersion": rv_of(pod.created_day, pod.key, "rv"),
        "creationTimestamp": iso(pod.created),
        "labels": labels,
    }
    if annotations:
        meta["annotations"] = annotations
    if pod.owner_kind:
        meta["generateName"] = pod.name[:-5] if wl.kind != "StatefulSet" else f"{wl.name}-"
        meta["ownerReferences"] = [{
            "apiVersion": "batch/v1" if pod.owner_kind == "Job" else "apps/v1",
            "blockOwnerDeletion": True,
            "controller": True,
            "kind": pod.owner_kind,
            "name": pod.owner_name,
            "uid": owner_uid,
        }]  # fmt: skip
    spec: dict[str, Any] = {
        "containers": containers,
        "dnsPolicy": "ClusterFirstWithHostNet" if wl.host_network else "ClusterFirst",
        "enableServiceLinks": True,
        "nodeName": pod.node,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": "Never" if wl.kind in ("Job", "CronJob") else "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccount": "default" if wl.role == "app" else wl.name,
        "serviceAccountName": "default" if wl.role == "app" else wl.name,
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
            {
                "effect": "NoExecute",
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "tolerationSeconds": 300,
            },
            {
                "effect": "NoExecute",
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "tolerationSeconds": 300,
            },
        ],
        "volumes": volumes,
    }
    if init is not None:
        spec["initContainers"] = init
    if wl.host_network:
        spec["hostNetwork"] = True
    if wl.kind == "StatefulSet":
        spec["hostname"] = pod.name
        spec["subdomain"] = wl.name
    spec_of = _container_specs(ctx, containers, init)
    host_ip = node_ip(ctx.plan, pod.node)
    pod_ip = host_ip if wl.host_network else _ip(pod.key, "ip")
    ready = pod.phase == "Running"
    t0 = iso(pod.created)
    t1 = iso(pod.created + timedelta(seconds=6))
    status: dict[str, Any] = {
        "conditions": [
            {
                "lastProbeTime": None,
                "lastTransitionTime": t1,
                "status": "True",
                "type": "PodReadyToStartContainers",
            },
            {
                "lastProbeTime": None,
                "lastTransitionTime": t1,
                "status": "True",
                "type": "Initialized",
            },
            {
                "lastProbeTime": None,
                "lastTransitionTime": t1,
                "status": "True" if ready else "False",
                "type": "Ready",
            },
            {
                "lastProbeTime": None,
                "lastTransitionTime": t1,
                "status": "True" if ready else "False",
                "type": "ContainersReady",
            },
            {
                "lastProbeTime": None,
                "lastTransitionTime": t0,
                "status": "True",
                "type": "PodScheduled",
            },
        ],
        "containerStatuses": _statuses(pod, names, spec_of, init=False),
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "phase": pod.phase,
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "qosClass": "Burstable",
        "startTime": t0,
    }
    if inits:
        status["initContainerStatuses"] = _statuses(pod, inits, spec_of, init=True)
    # as the API server returns a pod: who set which field (server-side apply bookkeeping,
    # often a third of a pod's JSON; the poller's typed decode skips it, the client's models
    # do not)
    owned_keys = ("generateName", "labels", "annotations", "ownerReferences")
    owned = {k: meta[k] for k in owned_keys if k in meta}
    meta["managedFields"] = [
        managed_fields_entry(
            "kube-controller-manager",
            iso(pod.created),
            {"f:metadata": fields_v1(owned), "f:spec": fields_v1(spec)},
        ),
        managed_fields_entry("kubelet", t0, {"f:status": fields_v1(status)}, subresource="status"),
    ]
    return meta, {"spec": spec, "status": status}


# Keys that identify the items of a list in ``fieldsV1`` (the API's merge keys).
_MERGE_KEYS = ("name", "type", "containerPort", "ip", "mountPath", "key")


def fields_v1(value: Any) -> dict[str, Any]:
    """The ``fieldsV1`` set of a value: every field path it sets, as the API server records them
    in ``metadata.managedFields`` (``f:<field>``, ``k:{<merge key>}`` for list items, ``.`` for
    the item itself)."""
    if isinstance(value, dict):
        return {f"f:{k}": _field_node(v) for k, v in value.items() if v is not None}
    return {}


@functools.lru_cache(maxsize=1 << 16)
def _raw_fields(data: bytes) -> dict[str, Any]:
    """The field set of a pre-rendered part (containers, volumes), once per content: a template
    renders the same bytes on every day. Read-only: shared by every pod using it."""
    return _field_node(msgspec.json.decode(data))


def _field_node(value: Any) -> dict[str, Any]:
    if isinstance(value, msgspec.Raw):
        return _raw_fields(bytes(value))
    if isinstance(value, dict):
        return {".": {}, **fields_v1(value)} if value else {}
    if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
        out: dict[str, Any] = {}
        for item in value:
            key = next((k for k in _MERGE_KEYS if k in item), None)
            if key is None:
                return {}
            ident = msgspec.json.encode({key: item[key]}).decode()
            out[f"k:{ident}"] = {".": {}, **fields_v1(item)}
        return out
    return {}


def managed_fields_entry(
    manager: str, time: str, fields: dict[str, Any], subresource: str | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": "Update",
        "apiVersion": "v1",
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def _container_specs(
    ctx: RenderCtx, containers: msgspec.Raw, init: msgspec.Raw | None
) -> dict[str, dict[str, Any]]:
    """The containers of a pod by name (its pre-rendered JSON decoded once)."""
    key = (id(containers), id(init))
    out = ctx.containers.get(key)
    if out is None:
        out = {}
        for raw in (containers, init):
            if raw is not None:
                for c in msgspec.json.decode(raw):
                    out[c["name"]] = c
        ctx.containers[key] = out
    return out


def render_pod_metrics(
    ctx: RenderCtx, pod: PodInst, labels: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A metrics.k8s.io/v1beta1 PodMetrics for a running pod."""
    _, _, _, names, inits = _layout(ctx, pod)
    if pod.injection is not None and pod.injection.native:
        names = [*names, "istio-proxy"]
    meta = {
        "name": pod.name,
        "namespace": pod.wl.ns.name,
        "creationTimestamp": iso(ctx.now),
        "labels": labels,
    }
    containers = []
    for n in names:
        x = h(pod.key, n, ctx.day)
        if n == "istio-proxy":
            cpu, mem = 2_000_000 + x % 30_000_000, 40_000 + (x >> 20) % 60_000
        else:
            cpu, mem = 1_000_000 + x % 400_000_000, 30_000 + (x >> 20) % 400_000
        containers.append({"name": n, "usage": {"cpu": f"{cpu}n", "memory": f"{mem}Ki"}})
    return meta, {
        "timestamp": iso(ctx.now - timedelta(seconds=15)),
        "window": "30s",
        "containers": containers,
    }
