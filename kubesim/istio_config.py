"""Istio control-plane configuration objects: injector ConfigMaps, webhooks and Istio CRs."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from kubesim.istio_templates import HUB
from kubesim.rand import u
from kubesim.timeline import default_version, implicit_on

if TYPE_CHECKING:
    from kubesim.render import RenderCtx
    from kubesim.snapshot import Entry

Obj = tuple[dict[str, Any], dict[str, Any]]
STRICT_DAY = 50


def _injector_values(ctx: RenderCtx, revision: str, version: str) -> str:
    values = {
        "global": {
            "hub": HUB,
            "tag": version,
            "proxy": {"image": "proxyv2", "autoInject": "enabled"},
        },
        "revision": "" if revision == "default" else revision,
        "sidecarInjectorWebhook": {
            "enableNamespacesByDefault": revision == "default"
            and implicit_on(ctx.plan.spec, ctx.day),
            "neverInjectSelector": [],
            "alwaysInjectSelector": [],
        },
    }
    return json.dumps(values, indent=2, sort_keys=True)


def _selector_webhook(
    name: str, service: str, ns_sel: list[dict[str, Any]], obj_sel: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "admissionReviewVersions": ["v1beta1", "v1"],
        "clientConfig": {
            "service": {
                "name": service,
                "namespace": "istio-system",
                "path": "/inject",
                "port": 443,
            }
        },
        "failurePolicy": "Fail",
        "matchPolicy": "Equivalent",
        "name": name,
        "namespaceSelector": {"matchExpressions": ns_sel},
        "objectSelector": {"matchExpressions": obj_sel},
        "reinvocationPolicy": "Never",
        "rules": [
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["CREATE"],
                "resources": ["pods"],
                "scope": "*",
            }
        ],
        "sideEffects": "None",
        "timeoutSeconds": 10,
    }


def _ex(key: str, op: str, *values: str) -> dict[str, Any]:
    d: dict[str, Any] = {"key": key, "operator": op}
    if values:
        d["values"] = list(values)
    return d


def _webhooks(
    rev_values: list[str], service: str, default: bool, auto: bool
) -> list[dict[str, Any]]:
    """Webhooks as rendered by mutatingwebhook.yaml (fixtures/istio/webhooks/*.yaml)."""
    not_false = _ex("sidecar.istio.io/inject", "NotIn", "false")
    hooks = [
        _selector_webhook(
            "rev.namespace.sidecar-injector.istio.io",
            service,
            [_ex("istio.io/rev", "In", *rev_values), _ex("istio-injection", "DoesNotExist")],
            [not_false],
        ),
        _selector_webhook(
            "rev.object.sidecar-injector.istio.io",
            service,
            [_ex("istio.io/rev", "DoesNotExist"), _ex("istio-injection", "DoesNotExist")],
            [not_false, _ex("istio.io/rev", "In", *rev_values)],
        ),
    ]
    if default:
        hooks += [
            _selector_webhook(
                "namespace.sidecar-injector.istio.io",
                service,
                [_ex("istio-injection", "In", "enabled")],
                [not_false],
            ),
            _selector_webhook(
                "object.sidecar-injector.istio.io",
                service,
                [_ex("istio-injection", "DoesNotExist"), _ex("istio.io/rev", "DoesNotExist")],
                [_ex("sidecar.istio.io/inject", "In", "true"), _ex("istio.io/rev", "DoesNotExist")],
            ),
        ]
    if auto:
        hooks.append(
            _selector_webhook(
                "auto.sidecar-injector.istio.io",
                service,
                [
                    _ex("istio-injection", "DoesNotExist"),
                    _ex("istio.io/rev", "DoesNotExist"),
                    _ex(
                        "kubernetes.io/metadata.name",
                        "NotIn",
                        "kube-system",
                        "kube-public",
                        "kube-node-lease",
                        "local-path-storage",
                    ),
                ],
                [
                    _ex("sidecar.istio.io/inject", "NotIn", "false"),
                    _ex("istio.io/rev", "DoesNotExist"),
                ],
            )
        )
    return hooks


def add_istio(
    ctx: RenderCtx,
    seed: int,
    out: dict[str, list[Entry]],
    add: Callable[..., None],
    configmap: Callable[..., Obj],
    meta: Callable[..., dict[str, Any]],
) -> None:
    """Add the Istio objects of a cluster that has Istio installed."""
    spec, day, plan = ctx.plan.spec, ctx.day, ctx.plan
    for k in (
        "virtualservices",
        "destinationrules",
        "gateways",
        "serviceentries",
        "sidecars",
        "peerauthentications",
        "authorizationpolicies",
    ):
        out.setdefault(k, [])
    version = default_version(spec, day)
    revs: list[tuple[str, str, int]] = [
        ("default", version, min(spec.upgrade_day, day) if day >= spec.upgrade_day else -200)
    ]
    if spec.canary_revision and day >= spec.canary_day:
        revs.append((spec.canary_revision, spec.canary_version, spec.canary_day))
    mesh = (
        "defaultConfig:\n  discoveryAddress: istiod.istio-system.svc:15012\n"
        "enablePrometheusMerge: true\nrootNamespace: istio-system\ntrustDomain: cluster.local\n"
    )
    add(
        out,
        "configmaps",
        "istio-system",
        "istio",
        {"istio.io/rev": "default"},
        partial(
            configmap,
            ctx,
            seed,
            "istio-system",
            "istio",
            {"mesh": mesh, "meshNetworks": "networks: {}"},
            -200,
            {"istio.io/rev": "default", "release": "istio"},
        ),
    )
    for rev, ver, since in revs:
        suffix = "" if rev == "default" else f"-{rev}"
        labels = {"istio.io/rev": rev, "release": "istio", "operator.istio.io/component": "Pilot"}
        data = {
            "config": (
                "defaultTemplates: [sidecar]\npolicy: enabled\nalwaysInjectSelector: []\n"
                "neverInjectSelector: []\ninjectedAnnotations: {}\n"
            ),
            "values": _injector_values(ctx, rev, ver),
        }
        add(
            out,
            "configmaps",
            "istio-system",
            f"istio-sidecar-injector{suffix}",
            labels,
            partial(
                configmap,
                ctx,
                seed,
                "istio-system",
                f"istio-sidecar-injector{suffix}",
                data,
                since,
                labels,
            ),
        )
        values = [rev] if rev != "default" else ["default"]
        mlabels = {
            "app": "sidecar-injector",
            "istio.io/rev": rev,
            "operator.istio.io/component": "Pilot",
            "operator.istio.io/version": ver,
            "release": "istio",
        }
        hooks = _webhooks(
            values, f"istiod{suffix}", rev == "default", rev == "default" and implicit_on(spec, day)
        )
        add(
            out,
            "mutatingwebhookconfigurations",
            None,
            f"istio-sidecar-injector{suffix}",
            mlabels,
            partial(
                _plain,
                meta,
                ctx,
                seed,
                f"istio-sidecar-injector{suffix}",
                None,
                since,
                mlabels,
                {"webhooks": hooks},
            ),
        )
        svc = f"istiod{suffix}"
        slabels = {"app": "istiod", "istio": "pilot", "istio.io/rev": rev}
        add(
            out,
            "services",
            "istio-system",
            svc,
            slabels,
            partial(
                _plain,
                meta,
                ctx,
                seed,
                svc,
                "istio-system",
                since,
                slabels,
                {
                    "spec": {
                        "ports": [
                            {"name": "grpc-xds", "port": 15010},
                            {"name": "https-dns", "port": 15012},
                            {"name": "https-webhook", "port": 443, "targetPort": 15017},
                        ],
                        "selector": {"app": "istiod", "istio.io/rev": rev},
                        "type": "ClusterIP",
                    }
                },
            ),
        )
    if spec.revision_tag and spec.canary_revision and day >= spec.canary_day:
        tag = spec.revision_tag
        tlabels = {
            "app": "sidecar-injector",
            "istio.io/rev": spec.canary_revision,
            "istio.io/tag": tag,
        }
        add(
            out,
            "mutatingwebhookconfigurations",
            None,
            f"istio-revision-tag-{tag}",
            tlabels,
            partial(
                _plain,
                meta,
                ctx,
                seed,
                f"istio-revision-tag-{tag}",
                None,
                spec.canary_day,
                tlabels,
                {"webhooks": _webhooks([tag], f"istiod-{spec.canary_revision}", False, False)},
            ),
        )
    # Mesh-wide mTLS: PERMISSIVE, then STRICT from STRICT_DAY; a few namespaces stay PERMISSIVE.
    pa_day = STRICT_DAY if day >= STRICT_DAY else -200
    add(
        out,
        "peerauthentications",
        "istio-system",
        "default",
        {},
        partial(
            _plain,
            meta,
            ctx,
            seed,
            "default",
            "istio-system",
            pa_day,
            {},
            {"spec": {"mtls": {"mode": "STRICT" if day >= STRICT_DAY else "PERMISSIVE"}}},
        ),
    )
    add(
        out,
        "gateways",
        "istio-system",
        "public-gateway",
        {},
        partial(
            _plain,
            meta,
            ctx,
            seed,
            "public-gateway",
            "istio-system",
            -150,
            {},
            {
                "spec": {
                    "selector": {"istio": "ingressgateway"},
                    "servers": [
                        {
                            "hosts": ["*.example.com"],
                            "port": {"name": "https", "number": 443, "protocol": "HTTPS"},
                            "tls": {"credentialName": "wildcard-example-com", "mode": "SIMPLE"},
                        }
                    ],
                }
            },
        ),
    )
    for host in ("api.stripe.com", "sqs.eu-west-1.amazonaws.com"):
        name = host.split(".")[0] + "-external"
        add(
            out,
            "serviceentries",
            "istio-system",
            name,
            {},
            partial(
                _plain,
                meta,
                ctx,
                seed,
                name,
                "istio-system",
                -100,
                {},
                {
                    "spec": {
                        "hosts": [host],
                        "location": "MESH_EXTERNAL",
                        "ports": [{"name": "https", "number": 443, "protocol": "TLS"}],
                        "resolution": "DNS",
                    }
                },
            ),
        )
    for ns in plan.namespaces:
        if ns.enrol_day is None or day < ns.enrol_day or ns.system:
            continue
        nk = (seed, spec.name, ns.name)
        if u(*nk, "sidecar-cr") < 0.25:
            add(
                out,
                "sidecars",
                ns.name,
                "default",
                {},
                partial(
                    _plain,
                    meta,
                    ctx,
                    seed,
                    "default",
                    ns.name,
                    ns.enrol_day,
                    {},
                    {"spec": {"egress": [{"hosts": ["./*", "istio-system/*"]}]}},
                ),
            )
        if u(*nk, "pa-ns") < 0.12:
            add(
                out,
                "peerauthentications",
                ns.name,
                "permissive",
                {},
                partial(
                    _plain,
                    meta,
                    ctx,
                    seed,
                    "permissive",
                    ns.name,
                    ns.enrol_day,
                    {},
                    {"spec": {"mtls": {"mode": "PERMISSIVE"}}},
                ),
            )
        if u(*nk, "authz") < 0.2:
            add(
                out,
                "authorizationpolicies",
                ns.name,
                "allow-same-namespace",
                {},
                partial(
                    _plain,
                    meta,
                    ctx,
                    seed,
                    "allow-same-namespace",
                    ns.name,
                    ns.enrol_day,
                    {},
                    {
                        "spec": {
                            "action": "ALLOW",
                            "rules": [
                                {"from": [{"source": {"namespaces": [ns.name, "istio-system"]}}]}
                            ],
                        }
                    },
                ),
            )
    for wl in plan.workloads:
        host = f"{wl.name}.{wl.ns.name}.svc.cluster.local"
        if wl.vs_day is not None and day >= wl.vs_day and wl.created_day <= day:
            route: dict[str, Any] = {
                "name": "default",
                "route": [{"destination": {"host": host, "port": {"number": 80}}}],
            }
            if wl.vs_timeout:
                route["timeout"] = ("2s", "5s", "10s", "30s")[int(u(seed, wl.key, "to") * 4)]
            if wl.vs_retries:
                route["retries"] = {
                    "attempts": 3,
                    "perTryTimeout": "2s",
                    "retryOn": "5xx,connect-failure,refused-stream",
                }
            add(
                out,
                "virtualservices",
                wl.ns.name,
                wl.name,
                {"app": wl.name},
                partial(
                    _plain,
                    meta,
                    ctx,
                    seed,
                    wl.name,
                    wl.ns.name,
                    wl.vs_day,
                    {"app": wl.name},
                    {"spec": {"hosts": [host], "http": [route]}},
                ),
            )
        if wl.dr_day is not None and day >= wl.dr_day and wl.created_day <= day:
            policy: dict[str, Any] = {}
            if wl.dr_pool:
                policy["connectionPool"] = {
                    "http": {
                        "http1MaxPendingRequests": 64,
                        "http2MaxRequests": 256,
                        "maxRequestsPerConnection": 10,
                    },
                    "tcp": {"maxConnections": 100, "connectTimeout": "3s"},
                }
            if wl.dr_outlier:
                policy["outlierDetection"] = {
                    "baseEjectionTime": "30s",
                    "consecutive5xxErrors": 5,
                    "interval": "10s",
                    "maxEjectionPercent": 50,
                }
            if not policy:
                policy["loadBalancer"] = {"simple": "LEAST_REQUEST"}
            add(
                out,
                "destinationrules",
                wl.ns.name,
                wl.name,
                {"app": wl.name},
                partial(
                    _plain,
                    meta,
                    ctx,
                    seed,
                    wl.name,
                    wl.ns.name,
                    wl.dr_day,
                    {"app": wl.name},
                    {"spec": {"host": host, "trafficPolicy": policy}},
                ),
            )


def _plain(
    meta: Callable[..., dict[str, Any]],
    ctx: RenderCtx,
    seed: int,
    name: str,
    ns: str | None,
    day: int,
    labels: dict[str, str],
    rest: dict[str, Any],
) -> Obj:
    m = meta(
        ctx, seed, name, ns, day, f"obj/{ns}/{name}/{sorted(rest.get('spec', rest))}", generation=1
    )
    if labels:
        m["labels"] = labels
    return m, rest
