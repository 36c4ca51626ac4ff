"""Property tests: parsing of labels, annotations, images, quantities, status JSON and
whole objects never raises on arbitrary input."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adoption.classify import ClusterObjects, classify_cluster
from adoption.classify.injection import InjectionPolicy, explicit_choice, parse_injector_configmap
from adoption.classify.kube import parse_time, selector_matches
from adoption.classify.pods import detect_proxy, injection_status, revision_used
from adoption.classify.quantity import cpu_millicores, memory_bytes, parse_quantity
from adoption.classify.resilience import normalize_host
from adoption.classify.versions import parse_image, proxy_version, version_key

KEYS = st.sampled_from(
    [
        "sidecar.istio.io/inject",
        "istio.io/rev",
        "istio-injection",
        "istio.io/dataplane-mode",
        "sidecar.istio.io/status",
        "ambient.istio.io/redirection",
        "inject.istio.io/templates",
        "sidecar.istio.io/proxyCPU",
        "sidecar.istio.io/proxyImage",
        "proxy.istio.io/config",
        "gateway.istio.io/managed",
        "app",
        "galley.istio.io/analyze-suppress",
    ]
) | st.text(max_size=20)
STR_MAPS = st.dictionaries(KEYS, st.text(max_size=40), max_size=8)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.text())
def test_it_never_raises_on_arbitrary_quantities(text: str) -> None:
    q = parse_quantity(text)
    c, m = cpu_millicores(text), memory_bytes(text)
    assert q is None or c is None or c >= 0
    assert m is None or m >= 0


@given(JSONISH)
def test_it_never_raises_on_arbitrary_quantity_objects(value: Any) -> None:
    cpu_millicores(value)
    memory_bytes(value)


@given(st.text())
def test_it_never_raises_on_arbitrary_images(text: str) -> None:
    parse_image(text)
    version_key(proxy_version(text))
    version_key(text)


@given(st.text())
def test_it_never_raises_on_status_annotations_and_times(text: str) -> None:
    injection_status({"sidecar.istio.io/status": text})
    revision_used({"sidecar.istio.io/status": text, "istio.io/rev": text})
    parse_time(text)
    normalize_host(text, "ns")


@given(STR_MAPS, STR_MAPS)
def test_it_never_raises_on_arbitrary_labels_and_annotations(
    labels: dict[str, str], annos: dict[str, str]
) -> None:
    explicit_choice(labels, annos)
    policy = InjectionPolicy()
    policy.stage_a("ns", labels, annos)
    policy.stage_b("ns", labels, annos, False, "default")
    detect_proxy(
        "ns",
        labels,
        annos,
        {"containers": [{"name": "istio-proxy", "image": annos.get("app", "")}]},
    )


@given(JSONISH, STR_MAPS)
def test_it_never_raises_on_arbitrary_selectors(selector: Any, labels: dict[str, str]) -> None:
    selector_matches(selector, labels)


@given(st.text(), st.text())
def test_it_never_raises_on_arbitrary_injector_configmaps(config: str, values: str) -> None:
    parse_injector_configmap(
        {
            "metadata": {"name": "istio-sidecar-injector"},
            "data": {"config": config, "values": values},
        }
    )


@settings(max_examples=60)
@given(st.lists(JSONISH, max_size=3), st.lists(JSONISH, max_size=3), STR_MAPS, STR_MAPS)
def test_it_never_raises_on_arbitrary_objects(
    nss: list[Any], pods: list[Any], labels: dict[str, str], annos: dict[str, str]
) -> None:
    shaped = [
        {
            "metadata": {"name": "p", "namespace": "x", "labels": labels, "annotations": annos},
            "spec": {"containers": [{"name": "istio-proxy", "image": annos.get("app", "auto")}]},
        }
    ]
    objs = ClusterObjects(
        namespaces=[n for n in nss if isinstance(n, dict)]
        + [{"metadata": {"name": "x", "labels": labels}}],
        pods=[p for p in pods if isinstance(p, dict)] + shaped,
    )
    classify_cluster(objs)
