"""Everything but pods: namespaces, controllers, Services, ConfigMaps, webhooks, Istio config."""

from __future__ import annotations

from functools import partial
from typing import Any

from kubesim import istio_config
from kubesim.plan import NsPlan, WlPlan
from kubesim.rand import h, uid
from kubesim.render import RenderCtx, _app_container, iso, rv_of, wl_labels
from kubesim.snapshot import Entry
from kubesim.spec import ClusterSpec
from kubesim.timeline import (
    PodInst,
    event_time,
    job_name,
    job_time,
    ns_labels,
    revision_version,
    rollouts,
    template_hash,
)

Meta = dict[str, Any]


def current_version(spec: ClusterSpec, revision: str, day: int) -> str:
    return revision_version(spec, revision, day) or ""


def owner_uid(seed: int, cluster: str, pod: PodInst) -> str:
    if pod.owner_kind == "ReplicaSet":
        return uid(seed, cluster, pod.wl.key, "rs", pod.rollout)
    if pod.owner_kind == "Job":
        return uid(seed, cluster, "job", pod.wl.ns.name, pod.owner_name)
    return uid(seed, cluster, pod.wl.key)


def meta(
    ctx: RenderCtx, seed: int, name: str, ns: str | None, day: int, key: str, **extra: Any
) -> Meta:
    m: Meta = {"name": name}
    if ns is not None:
        m["namespace"] = ns
    m["uid"] = uid(seed, ctx.plan.spec.name, key)
    m["resourceVersion"] = rv_of(day, key)
    m["creationTimestamp"] = iso(event_time(ctx.epoch, day, key, "created"))
    m.update(extra)
    return m


def _namespace(ctx: RenderCtx, seed: int, ns: NsPlan) -> tuple[Meta, dict[str, Any]]:
    changes = [
        d for d in (ns.created_day, ns.enrol_day, ns.migrate_day) if d is not None and d <= ctx.day
    ]
    m = meta(
        ctx, seed, ns.name, None, ns.created_day, f"ns/{ns.name}", labels=ns_labels(ns, ctx.day)
    )
    m["resourceVersion"] = rv_of(max(changes), f"ns/{ns.name}")
    return m, {"spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def _template(ctx: RenderCtx, wl: WlPlan, rollout: int, rday: int) -> dict[str, Any]:
    labels = wl_labels(wl)
    annotations: dict[str, str] = {}
    if wl.opt_out and wl.ns.enrol_day is not None and rday >= max(wl.ns.enrol_day, wl.created_day):
        if wl.opt_out == "label":
            labels["sidecar.istio.io/inject"] = "false"
        elif wl.opt_out == "annotation":
            annotations["sidecar.istio.io/inject"] = "false"
        else:
            labels["istio.io/dataplane-mode"] = "none"
    if wl.native_annot is not None and wl.role == "app":
        annotations["sidecar.istio.io/nativeSidecar"] = wl.native_annot
    if wl.role in ("ingress-gw", "egress-gw"):
        annotations["inject.istio.io/templates"] = "gateway"
    tmeta: dict[str, Any] = {"labels": labels}
    if annotations:
        tmeta["annotations"] = annotations
    spec: dict[str, Any] = {
        "containers": [_app_container(ctx, wl, rollout)],
        "restartPolicy": "Never" if wl.kind in ("Job", "CronJob") else "Always",
        "serviceAccountName": "default" if wl.role == "app" else wl.name,
    }
    if wl.host_network:
        spec["hostNetwork"] = True
    return {"metadata": tmeta, "spec": spec}


def _controller(ctx: RenderCtx, seed: int, wl: WlPlan, n_pods: int) -> tuple[Meta, dict[str, Any]]:
    ros = rollouts(wl, ctx.day)
    j = len(ros) - 1
    m = meta(
        ctx,
        seed,
        wl.name,
        wl.ns.name,
        wl.created_day,
        wl.key,
        labels=wl_labels(wl),
        generation=j + 1,
    )
    m["resourceVersion"] = rv_of(ros[-1], wl.key)
    if wl.kind == "Deployment":
        m["annotations"] = {"deployment.kubernetes.io/revision": str(j + 1)}
    desired = len(ctx.plan.nodes) if wl.kind == "DaemonSet" else wl.replicas
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": wl_labels(wl)["app"]}},
        "template": _template(ctx, wl, j, ros[-1]),
    }
    if wl.kind != "DaemonSet":
        spec["replicas"] = wl.replicas
    if wl.kind == "StatefulSet":
        spec["serviceName"] = wl.name
    ready = n_pods
    status: dict[str, Any]
    if wl.kind == "DaemonSet":
        status = {
            "currentNumberScheduled": desired,
            "desiredNumberScheduled": desired,
            "numberAvailable": ready,
            "numberReady": ready,
            "observedGeneration": j + 1,
            "updatedNumberScheduled": ready,
        }
    else:
        status = {
            "availableReplicas": ready,
            "observedGeneration": j + 1,
            "readyReplicas": ready,
            "replicas": ready,
            "updatedReplicas": ready,
        }
        if wl.kind == "StatefulSet":
            h_ = f"{wl.name}-{template_hash(wl, j)[:10]}"
            status.update(currentRevision=h_, updateRevision=h_, currentReplicas=ready)
        status = {k: v for k, v in status.items() if v}
        status["observedGeneration"] = j + 1
    return m, {"spec": spec, "status": status}


def _replicaset(
    ctx: RenderCtx, seed: int, wl: WlPlan, j: int, rday: int, current: bool
) -> tuple[Meta, dict[str, Any]]:
    pth = template_hash(wl, j)
    labels = wl_labels(wl) | {"pod-template-hash": pth}
    m = meta(ctx, seed, f"{wl.name}-{pth}", wl.ns.name, rday, f"{wl.key}/rs/{j}", labels=labels)
    m["uid"] = uid(seed, ctx.plan.spec.name, wl.key, "rs", j)
    m["annotations"] = {
        "deployment.kubernetes.io/desired-replicas": str(wl.replicas),
        "deployment.kubernetes.io/max-replicas": str(wl.replicas + 1),
        "deployment.kubernetes.io/revision": str(j + 1),
    }
    m["ownerReferences"] = [{
        "apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True,
        "kind": "Deployment", "name": wl.name, "uid": uid(seed, ctx.plan.spec.name, wl.key),
    }]  # fmt: skip
    n = wl.replicas if current else 0
    tmpl = _template(ctx, wl, j, rday)
    tmpl["metadata"]["labels"]["pod-template-hash"] = pth
    spec = {
        "replicas": n,
        "selector": {"matchLabels": {"app": labels["app"], "pod-template-hash": pth}},
        "template": tmpl,
    }
    status: dict[str, Any] = {"observedGeneration": 1, "replicas": n}
    if n:
        status.update(availableReplicas=n, readyReplicas=n, fullyLabeledReplicas=n)
    return m, {"spec": spec, "status": status}


def _cronjob(ctx: RenderCtx, seed: int, wl: WlPlan) -> tuple[Meta, dict[str, Any]]:
    m = meta(
        ctx, seed, wl.name, wl.ns.name, wl.created_day, wl.key, labels=wl_labels(wl), generation=1
    )
    ros = rollouts(wl, ctx.day)
    tmpl = _template(ctx, wl, len(ros) - 1, ros[-1])
    spec = {
        "concurrencyPolicy": "Forbid",
        "failedJobsHistoryLimit": 1,
        "jobTemplate": {"metadata": {}, "spec": {"backoffLimit": 2, "template": tmpl}},
        "schedule": "0 2 * * *",
        "successfulJobsHistoryLimit": 3,
        "suspend": False,
    }
    status: dict[str, Any] = {"lastScheduleTime": iso(job_time(ctx.day, ctx.epoch))}
    if wl.cron_active:
        jn = job_name(wl, ctx.day, ctx.epoch)
        status["active"] = [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": jn,
                "namespace": wl.ns.name,
                "uid": uid(seed, ctx.plan.spec.name, "job", wl.ns.name, jn),
            }
        ]
    else:
        status["lastSuccessfulTime"] = iso(job_time(ctx.day, ctx.epoch).replace(minute=7))
    return m, {"spec": spec, "status": status}


def _job(ctx: RenderCtx, seed: int, pod: PodInst) -> tuple[Meta, dict[str, Any]]:
    wl = pod.wl
    name = pod.owner_name or wl.name
    labels = {"batch.kubernetes.io/job-name": name, "job-name": name} | wl_labels(wl)
    m = meta(
        ctx,
        seed,
        name,
        wl.ns.name,
        pod.created_day,
        f"job/{wl.ns.name}/{name}",
        labels=labels,
        generation=1,
    )
    m["uid"] = uid(seed, ctx.plan.spec.name, "job", wl.ns.name, name)
    m["creationTimestamp"] = iso(pod.created)
    if wl.kind == "CronJob":
        m["ownerReferences"] = [{
            "apiVersion": "batch/v1", "blockOwnerDeletion": True, "controller": True,
            "kind": "CronJob", "name": wl.name, "uid": uid(seed, ctx.plan.spec.name, wl.key),
        }]  # fmt: skip
    done = pod.phase == "Succeeded"
    spec = {
        "backoffLimit": 2,
        "completions": 1,
        "parallelism": 1,
        "template": _template(ctx, wl, pod.rollout, pod.rollout_day),
    }
    status: dict[str, Any] = {"startTime": iso(pod.created)}
    if done:
        fin = iso(
            pod.created.replace(second=0)
            if pod.created.minute > 50
            else pod.created.replace(minute=pod.created.minute + 5)
        )
        status.update(
            succeeded=1,
            completionTime=fin,
            conditions=[
                {
                    "lastProbeTime": fin,
                    "lastTransitionTime": fin,
                    "status": "True",
                    "type": "Complete",
                }
            ],
        )
    else:
        status.update(active=1, ready=1)
    return m, {"spec": spec, "status": status}


def _service(ctx: RenderCtx, seed: int, wl: WlPlan) -> tuple[Meta, dict[str, Any]]:
    labels = wl_labels(wl)
    m = meta(
        ctx,
        seed,
        wl.name,
        wl.ns.name,
        wl.created_day,
        f"svc/{wl.key}",
        labels={"app": labels["app"]},
    )
    ip = f"10.96.{h(wl.key, 'svc') % 256}.{1 + h(wl.key, 'svc2') % 254}"
    port = 80 if wl.role == "app" else wl.port
    spec = {
        "clusterIP": ip,
        "clusterIPs": [ip],
        "internalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "ports": [{"name": "http", "port": port, "protocol": "TCP", "targetPort": wl.port}],
        "selector": {"app": labels["app"]},
        "sessionAffinity": "None",
        "type": "LoadBalancer" if wl.role in ("ingress-gw", "k8s-gw") else "ClusterIP",
    }
    return m, {"spec": spec, "status": {"loadBalancer": {}}}


def _configmap(
    ctx: RenderCtx,
    seed: int,
    ns: str,
    name: str,
    data: dict[str, str],
    day: int,
    labels: dict[str, str] | None = None,
) -> tuple[Meta, dict[str, Any]]:
    m = meta(ctx, seed, name, ns, day, f"cm/{ns}/{name}")
    if labels:
        m["labels"] = labels
    return m, {"data": data}


CA = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIC/jCCAeagAwIBAgIBADANBgkqhkiG9w0BAQsFADAVMRMwEQYDVQQDEwprdWJl\n"
    "cm5ldGVzMB4XDTI2MDEwMTAwMDAwMFoXDTM2MDEwMTAwMDAwMFowFTETMBEGA1UE\n"
    "-----END CERTIFICATE-----\n"
)


def _add(
    out: dict[str, list[Entry]],
    plural: str,
    ns: str | None,
    name: str,
    labels: dict[str, str],
    fn: Any,
) -> None:
    out.setdefault(plural, []).append(Entry(ns, name, labels, fn))


def build_all(ctx: RenderCtx, seed: int, pods: list[PodInst]) -> dict[str, list[Entry]]:
    """Entries of every non-pod resource of the cluster on `ctx.day`."""
    plan, day = ctx.plan, ctx.day
    spec = plan.spec
    out: dict[str, list[Entry]] = {
        k: []
        for k in (
            "namespaces",
            "services",
            "configmaps",
            "deployments",
            "statefulsets",
            "daemonsets",
            "replicasets",
            "jobs",
            "cronjobs",
            "mutatingwebhookconfigurations",
        )
    }
    live_ns = [ns for ns in plan.namespaces if ns.created_day <= day]
    for ns in live_ns:
        _add(
            out, "namespaces", None, ns.name, ns_labels(ns, day), partial(_namespace, ctx, seed, ns)
        )
        _add(
            out,
            "configmaps",
            ns.name,
            "kube-root-ca.crt",
            {},
            partial(
                _configmap, ctx, seed, ns.name, "kube-root-ca.crt", {"ca.crt": CA}, ns.created_day
            ),
        )
    running: dict[str, int] = {}
    jobs_seen: set[tuple[str, str]] = set()
    for p in pods:
        if p.phase == "Running":
            running[p.wl.key] = running.get(p.wl.key, 0) + 1
        if p.owner_kind == "Job" and (p.wl.ns.name, p.owner_name or "") not in jobs_seen:
            jobs_seen.add((p.wl.ns.name, p.owner_name or ""))
            labels = {"batch.kubernetes.io/job-name": p.owner_name or ""} | wl_labels(p.wl)
            _add(out, "jobs", p.wl.ns.name, p.owner_name or "", labels, partial(_job, ctx, seed, p))
    for wl in plan.workloads:
        if wl.created_day > day:
            continue
        labels = wl_labels(wl)
        if wl.kind in ("Deployment", "StatefulSet", "DaemonSet"):
            _add(
                out,
                wl.kind.lower() + "s",
                wl.ns.name,
                wl.name,
                labels,
                partial(_controller, ctx, seed, wl, running.get(wl.key, 0)),
            )
        elif wl.kind == "CronJob":
            _add(out, "cronjobs", wl.ns.name, wl.name, labels, partial(_cronjob, ctx, seed, wl))
        if wl.kind == "Deployment":
            ros = rollouts(wl, day)
            for j in range(max(0, len(ros) - 3), len(ros)):
                rs_labels = labels | {"pod-template-hash": template_hash(wl, j)}
                _add(
                    out,
                    "replicasets",
                    wl.ns.name,
                    f"{wl.name}-{template_hash(wl, j)}",
                    rs_labels,
                    partial(_replicaset, ctx, seed, wl, j, ros[j], j == len(ros) - 1),
                )
        if wl.service:
            _add(
                out,
                "services",
                wl.ns.name,
                wl.name,
                {"app": labels["app"]},
                partial(_service, ctx, seed, wl),
            )
    _add(
        out,
        "services",
        "default",
        "kubernetes",
        {"component": "apiserver", "provider": "kubernetes"},
        partial(_kubernetes_service, ctx, seed),
    )
    if spec.istio:
        istio_config.add_istio(ctx, seed, out, _add, _configmap, meta)
    return out


def _kubernetes_service(ctx: RenderCtx, seed: int) -> tuple[Meta, dict[str, Any]]:
    m = meta(
        ctx,
        seed,
        "kubernetes",
        "default",
        -400,
        "svc/kubernetes",
        labels={"component": "apiserver", "provider": "kubernetes"},
    )
    spec = {
        "clusterIP": "10.96.0.1",
        "clusterIPs": ["10.96.0.1"],
        "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
        "type": "ClusterIP",
    }
    return m, {"spec": spec, "status": {"loadBalancer": {}}}
