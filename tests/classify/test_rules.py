"""Table-driven tests, one table per rule group of istio-mesh-membership.md; every case
cites its rule id."""

from __future__ import annotations

from typing import Any

import pytest

from adoption.classify import ClusterObjects, classify_cluster
from adoption.classify.injection import InjectionPolicy
from adoption.classify.namespaces import classify_namespace
from adoption.classify.versions import is_older, parse_image, split_variant

from .conftest import FIXTURES, app, ns, pod, proxy

SYSTEM = frozenset(
    {"kube-system", "kube-public", "kube-node-lease", "local-path-storage", "istio-system"}
)


def _load_yaml(path: str) -> list[dict[str, Any]]:
    import yaml

    return [d for d in yaml.safe_load_all((FIXTURES / path).read_text()) if d]


WEBHOOKS = (
    _load_yaml("webhooks/default-injector.yaml")
    + _load_yaml("webhooks/rev-16-injector.yaml")
    + _load_yaml("webhooks/never-match-injector.yaml")
)

# ---- N1–N7: namespace classification -------------------------------------------------
N_CASES = [
    ("N1", "kube-system", {"istio-injection": "enabled"}, "system-ignored", None),
    ("N1", "local-path-storage", {}, "system-ignored", None),
    ("N2", "a", {"istio-injection": "disabled"}, "sidecar-disabled", None),
    ("N2", "a", {"istio-injection": "", "istio.io/rev": "x"}, "sidecar-disabled", None),
    ("N3", "a", {"istio-injection": "enabled"}, "sidecar-default", "default"),
    (
        "N3",
        "a",
        {"istio-injection": "enabled", "istio.io/rev": "canary"},
        "sidecar-default",
        "default",
    ),
    ("N4", "a", {"istio.io/rev": "canary"}, "sidecar-revision", "canary"),
    (
        "N4",
        "a",
        {"istio.io/rev": "c", "istio.io/dataplane-mode": "ambient"},
        "sidecar-revision",
        "c",
    ),
    ("N5", "a", {"istio.io/dataplane-mode": "ambient"}, "ambient", None),
    ("N7", "a", {}, "not-enrolled", None),
    ("N7", "a", {"istio.io/dataplane-mode": "none"}, "not-enrolled", None),
]


@pytest.mark.parametrize(("rule", "name", "labels", "klass", "rev"), N_CASES)
def test_it_classifies_namespaces(
    rule: str, name: str, labels: dict[str, str], klass: str, rev: str | None
) -> None:
    info = classify_namespace(name, labels, InjectionPolicy(), SYSTEM)
    assert (info.klass.value, info.revision) == (klass, rev), rule


def test_it_classifies_implicit_default_namespaces_N6() -> None:
    policy = InjectionPolicy(enable_namespaces_by_default=True)
    assert classify_namespace("a", {}, policy, SYSTEM).klass.value == "implicit-default"
    assert classify_namespace("kube-system", {}, policy, SYSTEM).klass.value == "system-ignored"


def test_it_reads_enable_namespaces_by_default_from_the_injector_configmap_N6() -> None:
    cm = {
        "metadata": {"name": "istio-sidecar-injector", "namespace": "istio-system"},
        "data": {"values": '{"sidecarInjectorWebhook": {"enableNamespacesByDefault": true}}'},
    }
    policy = InjectionPolicy(configmaps=[cm])
    assert policy.enable_namespaces_by_default is True


# ---- W1–W9: stage A, chart rules and real webhooks ----------------------------------
W_CASES = [
    ("W1", {"istio-injection": "enabled"}, {}, True, "default"),
    ("W1", {"istio-injection": "enabled"}, {"sidecar.istio.io/inject": "true"}, True, "default"),
    ("W1", {"istio-injection": "enabled"}, {"istio.io/rev": "1-16"}, True, "default"),
    ("W2", {"istio-injection": "enabled"}, {"sidecar.istio.io/inject": "false"}, False, None),
    ("W3", {"istio-injection": "disabled"}, {"istio.io/rev": "1-16"}, False, None),
    ("W4", {"istio.io/rev": "1-16"}, {}, True, "1-16"),
    ("W4", {"istio.io/rev": "1-16"}, {"istio.io/rev": "1-16"}, True, "1-16"),
    ("W5", {"istio.io/rev": "1-16"}, {"sidecar.istio.io/inject": "false"}, False, None),
    ("W6", {}, {"istio.io/rev": "1-16"}, True, "1-16"),
    ("W7", {}, {"sidecar.istio.io/inject": "true"}, True, "default"),
    ("W9", {}, {}, False, None),
]


@pytest.mark.parametrize(("rule", "nsl", "podl", "fired", "rev"), W_CASES)
def test_it_applies_chart_webhook_rules(
    rule: str, nsl: dict[str, str], podl: dict[str, str], fired: bool, rev: str | None
) -> None:
    a = InjectionPolicy().stage_a("app", nsl, podl)
    assert (a.fired, a.revision if a.fired else None, a.rule) == (fired, rev, rule)


@pytest.mark.parametrize(("rule", "nsl", "podl", "fired", "rev"), W_CASES)
def test_it_evaluates_real_webhook_selectors_like_checkinject(
    rule: str, nsl: dict[str, str], podl: dict[str, str], fired: bool, rev: str | None
) -> None:
    a = InjectionPolicy(WEBHOOKS).stage_a("app", nsl, podl)
    assert (a.fired, a.revision if a.fired else None) == (fired, rev), rule


def test_it_fires_the_auto_webhook_only_with_enable_by_default_W8() -> None:
    assert InjectionPolicy(enable_namespaces_by_default=True).stage_a("a", {}, {}).rule == "W8"
    assert (
        not InjectionPolicy(enable_namespaces_by_default=True).stage_a("kube-public", {}, {}).fired
    )


def test_it_resolves_revision_tags_through_webhooks_section8() -> None:
    tag = {
        "kind": "MutatingWebhookConfiguration",
        "metadata": {
            "name": "istio-revision-tag-prod",
            "labels": {"istio.io/tag": "prod", "istio.io/rev": "1-16"},
        },
        "webhooks": [
            {
                "name": "rev.namespace.sidecar-injector.istio.io",
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": "istio.io/rev", "operator": "In", "values": ["prod"]},
                        {"key": "istio-injection", "operator": "DoesNotExist"},
                    ]
                },
                "objectSelector": {
                    "matchExpressions": [
                        {"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}
                    ]
                },
            }
        ],
    }
    res = classify_cluster(
        ClusterObjects(
            namespaces=[ns("shop", **{"istio.io/rev": "prod"})], webhooks=WEBHOOKS + [tag]
        )
    )
    (rec,) = [n for n in res.namespaces if n.name == "shop"]
    assert (rec.revision, rec.revision_resolved) == ("prod", "1-16")


# ---- B1–B6: stage B --------------------------------------------------------------------
def _injector(policy: str = "enabled", never: Any = None, always: Any = None) -> dict[str, Any]:
    import yaml

    cfg: dict[str, Any] = {"policy": policy}
    if never:
        cfg["neverInjectSelector"] = never
    if always:
        cfg["alwaysInjectSelector"] = always
    return {"metadata": {"name": "istio-sidecar-injector"}, "data": {"config": yaml.safe_dump(cfg)}}


B_CASES = [
    ("B1", "default", {}, {}, True, "enabled", False),
    ("B2", "kube-system", {}, {}, False, "enabled", False),
    ("B3", "default", {}, {"sidecar.istio.io/inject": "false"}, False, "enabled", False),
    (
        "B3",
        "default",
        {"sidecar.istio.io/inject": "true"},
        {"sidecar.istio.io/inject": "false"},
        False,
        "enabled",
        True,
    ),
    (
        "B6",
        "default",
        {"sidecar.istio.io/inject": "False"},
        {},
        False,
        "enabled",
        True,
    ),  # B3 invalid: no choice
    ("B3", "default", {}, {"sidecar.istio.io/inject": "true"}, False, "disabled", True),
    ("B4", "default", {"app": "legacy"}, {}, False, "enabled", False),
    ("B5", "default", {"app": "special"}, {}, False, "disabled", True),
    ("B6", "default", {}, {}, False, "enabled", True),
    ("B6", "default", {}, {}, False, "disabled", False),
    ("B6", "default", {}, {}, False, "bogus", False),
]


@pytest.mark.parametrize(("rule", "nsname", "labels", "annos", "hostnet", "pol", "inject"), B_CASES)
def test_it_applies_injector_policy(
    rule: str,
    nsname: str,
    labels: dict[str, str],
    annos: dict[str, str],
    hostnet: bool,
    pol: str,
    inject: bool,
) -> None:
    cm = _injector(
        pol,
        never=[{"matchLabels": {"app": "legacy"}}],
        always=[{"matchLabels": {"app": "special"}}],
    )
    b = InjectionPolicy(configmaps=[cm]).stage_b(nsname, labels, annos, hostnet, "default")
    assert (b.rule, b.inject) == (rule, inject)


# ---- P1–P12 and sections 6/7: pod state -----------------------------------------------
NATIVE = {
    "name": "istio-proxy",
    "image": "docker.io/istio/proxyv2:1.27.1",
    "restartPolicy": "Always",
}
ENABLED = {"istio-injection": "enabled"}
P_CASES: list[tuple[str, dict[str, str], dict[str, Any], str]] = [
    ("P1", {}, {"namespace": "istio-system", "labels": {"app": "ztunnel"}}, "ineligible"),
    ("P1", {}, {"labels": {"app": "istiod"}}, "ineligible"),
    (
        "P2",
        {},
        {
            "labels": {
                "gateway.istio.io/managed": "istio.io-mesh-controller",
                "sidecar.istio.io/inject": "false",
            }
        },
        "ineligible",
    ),
    (
        "P3",
        ENABLED,
        {
            "containers": [
                {"name": "istio-proxy", "image": "x/proxyv2:1.2.3", "args": ["proxy", "router"]}
            ]
        },
        "ineligible",
    ),
    (
        "P3",
        {},
        {
            "labels": {
                "gateway.istio.io/managed": "istio.io-gateway-controller",
                "sidecar.istio.io/inject": "false",
            }
        },
        "ineligible",
    ),
    (
        "P4",
        {},
        {
            "labels": {"gateway.istio.io/managed": "x"},
            "containers": [{"name": "agentgateway", "image": "a"}],
        },
        "ineligible",
    ),
    (
        "P5",
        ENABLED,
        {"containers": [app(), {"name": "istio-proxy", "image": "auto"}]},
        "missing-proxy",
    ),
    ("P6", {}, {"init": [NATIVE]}, "native-sidecar"),
    ("P7", {}, {"containers": [app(), proxy()]}, "sidecar"),
    (
        "P7a",
        {},
        {"containers": [app(), proxy(env=[{"name": "DISABLE_ENVOY", "value": "true"}])]},
        "sidecar",
    ),
    ("P8", {}, {"init": [{"name": "istio-proxy", "image": "x/proxyv2:1.1.1"}]}, "sidecar"),
    (
        "P9",
        {"istio.io/dataplane-mode": "ambient"},
        {"annotations": {"ambient.istio.io/redirection": "enabled"}},
        "ambient",
    ),
    (
        "P10",
        {"istio.io/dataplane-mode": "ambient"},
        {"annotations": {"ambient.istio.io/redirection": "pending"}},
        "ambient-pending",
    ),
    (
        "P11",
        {},
        {"annotations": {"sidecar.istio.io/status": '{"revision":"default"}'}},
        "ineligible",
    ),
    ("P12", {}, {}, "not-enrolled"),
    # section 7: missing proxy (exact model)
    ("S7-W1", ENABLED, {}, "missing-proxy"),
    ("S7-W4", {"istio.io/rev": "canary"}, {}, "missing-proxy"),
    ("S7-W6", {}, {"labels": {"istio.io/rev": "canary"}}, "missing-proxy"),
    (
        "S7-W7",
        {"istio.io/dataplane-mode": "ambient"},
        {"labels": {"sidecar.istio.io/inject": "true"}},
        "missing-proxy",
    ),
    ("S7-ambient", {"istio.io/dataplane-mode": "ambient"}, {}, "missing-proxy"),
    ("S6-quirk-case", ENABLED, {"labels": {"sidecar.istio.io/inject": "False"}}, "missing-proxy"),
    # section 6: opt-outs
    ("S6-label", ENABLED, {"labels": {"sidecar.istio.io/inject": "false"}}, "opted-out"),
    ("S6-annotation", ENABLED, {"annotations": {"sidecar.istio.io/inject": "false"}}, "opted-out"),
    (
        "S6-label-wins",
        ENABLED,
        {
            "labels": {"sidecar.istio.io/inject": "false"},
            "annotations": {"sidecar.istio.io/inject": "true"},
        },
        "opted-out",
    ),
    (
        "S6-dataplane-none",
        {"istio.io/dataplane-mode": "ambient"},
        {"labels": {"istio.io/dataplane-mode": "none"}},
        "opted-out",
    ),
    ("S6-hostNetwork", ENABLED, {"host_network": True}, "ineligible"),
    ("N1-system", {}, {"namespace": "kube-system"}, "ineligible"),
    ("N2-disabled", {"istio-injection": "disabled"}, {}, "not-enrolled"),
]


@pytest.mark.parametrize(("rule", "nsl", "kw", "state"), P_CASES, ids=[c[0] for c in P_CASES])
def test_it_classifies_pod_state(
    rule: str, nsl: dict[str, str], kw: dict[str, Any], state: str
) -> None:
    kw = dict(kw)
    namespace = kw.pop("namespace", "shop")
    if "init" in kw or "containers" in kw:
        kw.setdefault("containers", [app()])
    p = pod("p", namespace, **kw)
    res = classify_cluster(ClusterObjects(namespaces=[ns(namespace, **nsl)], pods=[p]))
    (rec,) = res.pods
    assert rec.state == state, (rule, rec.reason)
    assert rec.reason


def test_it_explains_missing_proxy_with_restart_hint_S7() -> None:
    res = classify_cluster(
        ClusterObjects(namespaces=[ns("shop", **ENABLED)], pods=[pod("p", "shop")])
    )
    assert res.pods[0].reason.startswith(
        "namespace has istio-injection=enabled but the pod has no istio-proxy container"
    )
    assert "restart it" in res.pods[0].reason


def test_it_reports_unknown_revision_when_webhooks_are_known_N4() -> None:
    res = classify_cluster(
        ClusterObjects(
            namespaces=[ns("shop", **{"istio.io/rev": "pidgeon"})],
            pods=[pod("p", "shop")],
            webhooks=WEBHOOKS,
        )
    )
    assert res.pods[0].state == "missing-proxy" and not res.pods[0].injection_expected
    assert {"MB0004"} <= {m.code for m in res.messages}


# ---- section 8: revision and version ---------------------------------------------------
@pytest.mark.parametrize(
    ("tag", "version", "variant"),
    [
        ("1.3.1-distroless", "1.3.1", "distroless"),
        ("1.3.0-prerelease", "1.3.0-prerelease", None),
        ("1.27.1-debug", "1.27.1", "debug"),
        ("latest", "latest", None),
        (None, None, None),
    ],
)
def test_it_splits_image_variants_S8(
    tag: str | None, version: str | None, variant: str | None
) -> None:
    assert split_variant(tag) == (version, variant)


def test_it_parses_image_references_S8() -> None:
    ref = parse_image("localhost:5000/istio/proxyv2:1.27.1-distroless@sha256:abc")
    assert ref is not None and (ref.name, ref.version, ref.variant) == (
        "proxyv2",
        "1.27.1",
        "distroless",
    )
    only_digest = parse_image("istio/proxyv2@sha256:abc")
    assert only_digest is not None and only_digest.version is None
    assert parse_image("auto") is None


@pytest.mark.parametrize(
    ("a", "b", "older"),
    [
        ("1.26.3", "1.27.1", True),
        ("1.27.1", "1.27.1", False),
        ("1.9.0", "1.10.0", True),
        ("latest", "1.27.1", False),
        ("1.27.1", "latest", False),
    ],
)
def test_it_compares_versions_numerically_S8(a: str, b: str, older: bool) -> None:
    assert is_older(a, b) is older


def _istiod(rev: str, version: str) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {
            "name": f"istiod-{rev}",
            "namespace": "istio-system",
            "labels": {"app": "istiod", "istio.io/rev": rev},
        },
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "discovery", "image": f"docker.io/istio/pilot:{version}"}
                    ]
                }
            }
        },
    }


def test_it_flags_workloads_behind_their_control_plane_S8() -> None:
    status = '{"revision":"1-27"}'
    pods = [
        pod(
            f"p{i}",
            "shop",
            owner=("ReplicaSet", "web-abc"),
            labels={"pod-template-hash": "abc"},
            annotations={"sidecar.istio.io/status": status},
            containers=[app(), proxy(f"docker.io/istio/proxyv2:{v}")],
        )
        for i, v in enumerate(["1.27.0", "1.27.1-distroless"])
    ]
    res = classify_cluster(
        ClusterObjects(
            namespaces=[ns("shop", **{"istio.io/rev": "1-27"})],
            pods=pods,
            istiod=[_istiod("1-27", "1.27.1")],
        )
    )
    (w,) = res.workloads
    assert res.control_planes == {"1-27": "1.27.1"}
    assert (w.revision_used, w.proxy_versions, w.behind) == ("1-27", ["1.27.0", "1.27.1"], True)
    assert "MB0006" in w.diagnostics


def test_it_never_marks_non_semver_tags_behind_S8() -> None:
    p = pod("p", "shop", containers=[app(), proxy("x/proxyv2:latest")])
    res = classify_cluster(
        ClusterObjects(
            namespaces=[ns("shop", **ENABLED)], pods=[p], istiod=[_istiod("default", "1.27.1")]
        )
    )
    assert res.workloads[0].behind is False


# ---- section 9: istioctl quirks ---------------------------------------------------------
def test_it_mirrors_ist0103_case_insensitive_false_quirk_S9() -> None:
    p = pod("p", "shop", labels={"sidecar.istio.io/inject": "FALSE"})
    res = classify_cluster(ClusterObjects(namespaces=[ns("shop", **ENABLED)], pods=[p]))
    codes = {m.code for m in res.messages}
    assert "IST0103" not in codes  # istioctl: opted out
    assert res.pods[0].state == "missing-proxy"  # injector: invalid value, injected
    assert {"MB0001", "MB0005"} <= codes


def test_it_reports_ist0103_only_for_istio_injection_enabled_S7() -> None:
    res = classify_cluster(
        ClusterObjects(namespaces=[ns("shop", **{"istio.io/rev": "c"})], pods=[pod("p", "shop")])
    )
    codes = [m.code for m in res.messages]
    assert "IST0103" not in codes and "MB0001" in codes
    assert all(m.origin == "meshboard" for m in res.messages if m.code.startswith("MB"))


def test_it_honours_analyze_suppress_S9() -> None:
    n = ns("bar")
    n["metadata"]["annotations"] = {"galley.istio.io/analyze-suppress": "IST0102"}
    p = pod("p", "shop", annotations={"galley.istio.io/analyze-suppress": "*"})
    res = classify_cluster(ClusterObjects(namespaces=[n, ns("shop", **ENABLED)], pods=[p]))
    assert [m.code for m in res.messages if m.origin == "istio"] == []


def test_it_reports_ist0148_when_injection_is_enabled_by_default_S9() -> None:
    cm = {
        "metadata": {"name": "istio-sidecar-injector", "namespace": "istio-system"},
        "data": {"values": '{"sidecarInjectorWebhook":{"enableNamespacesByDefault":true}}'},
    }
    res = classify_cluster(ClusterObjects(namespaces=[ns("bar")], configmaps=[cm]))
    assert [(m.code, m.resource) for m in res.messages if m.origin == "istio"] == [
        ("IST0148", "Namespace bar")
    ]


def test_it_reports_ist0158_for_proxy_image_mismatch_S9() -> None:
    cm = {
        "metadata": {"name": "istio-sidecar-injector", "namespace": "istio-system"},
        "data": {
            "values": '{"global":{"hub":"docker.io/istio","tag":"1.27.1",'
            '"proxy":{"image":"proxyv2"}}}'
        },
    }
    ok = pod("ok", "shop", containers=[app(), proxy("docker.io/istio/proxyv2:1.27.1")])
    variant = pod(
        "v",
        "shop",
        containers=[app(), proxy("docker.io/istio/proxyv2:1.27.1-distroless")],
        annotations={"proxy.istio.io/config": "image:\n  imageType: distroless"},
    )
    old = pod("old", "shop", containers=[app(), proxy("docker.io/istio/proxyv2:1.26.0")])
    res = classify_cluster(
        ClusterObjects(namespaces=[ns("shop", **ENABLED)], pods=[ok, variant], configmaps=[cm])
    )
    assert "IST0158" not in {m.code for m in res.messages}
    res = classify_cluster(
        ClusterObjects(namespaces=[ns("shop", **ENABLED)], pods=[ok, variant, old], configmaps=[cm])
    )
    assert [(m.code, m.resource) for m in res.messages if m.code == "IST0158"] == [
        ("IST0158", "Namespace shop")
    ]
