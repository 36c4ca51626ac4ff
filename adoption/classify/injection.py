"""Is sidecar injection expected?  Stage A (webhooks, W1–W9) and stage B (injector, B1–B6).

Stage A is evaluated against the real ``MutatingWebhookConfiguration`` selectors when
they are part of the input (only webhooks whose name ends in ``istio.io`` count, as in
``image-auto.go``/``checkinject.go``); otherwise the chart's rules W1–W9 are applied,
assuming every requested revision exists.  Revision tags (``istio.io/tag`` label on a
webhook configuration, whose ``istio.io/rev`` label names the real revision) are
resolved through the webhook configurations (section 8).

Stage B follows ``injectRequired``: B1 hostNetwork, B2 ignored namespaces, B3 explicit
label-over-annotation choice (only exact ``"true"``/``"false"``), B4 ``neverInjectSelector``,
B5 ``alwaysInjectSelector``, B6 ``policy`` from the ``istio-sidecar-injector[-rev]``
ConfigMap.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from .kube import (
    as_dict,
    as_list,
    as_str,
    labels_of,
    name_of,
    selector_is_empty,
    selector_matches,
)
from .model import IGNORED_NAMESPACES

INJECT_KEY = "sidecar.istio.io/inject"
REV_KEY = "istio.io/rev"
INJECTION_LABEL = "istio-injection"
# Set on every namespace by the API server (webhook namespace selectors may match on it).
NAMESPACE_NAME = "kubernetes.io/metadata.name"
DATAPLANE_MODE = "istio.io/dataplane-mode"
TAG_KEY = "istio.io/tag"
INJECTOR_CM = "istio-sidecar-injector"


@dataclass(slots=True)
class Webhook:
    """One Istio injection webhook of a MutatingWebhookConfiguration."""

    config_name: str
    name: str
    revision: str
    tag: str | None
    namespace_selector: Any
    object_selector: Any


@dataclass(slots=True)
class InjectorConfig:
    """Parsed ``istio-sidecar-injector[-rev]`` ConfigMap (rule B4–B6, IST0102/0148/0158)."""

    revision: str
    configmap_name: str
    policy: str = "enabled"
    never_inject: list[Any] = field(default_factory=list)
    always_inject: list[Any] = field(default_factory=list)
    enable_namespaces_by_default: bool = False
    values: dict[str, Any] = field(default_factory=dict)

    def expected_image(self) -> str | None:
        """Section 8 step 2: ``global.proxy.image`` with a ``/`` is the full image,
        otherwise ``<global.hub>/<global.proxy.image>:<global.tag>``."""
        glob = as_dict(self.values.get("global"))
        image = as_str(as_dict(glob.get("proxy")).get("image"))
        if "/" in image:
            return image
        hub, tag = as_str(glob.get("hub")), as_str(glob.get("tag"))
        if not image:
            return None
        return f"{hub}/{image}:{tag}"


def parse_injector_configmap(cm: Mapping[str, Any]) -> InjectorConfig | None:
    """Return the injector config of an ``istio-sidecar-injector[-rev]`` ConfigMap."""
    name = name_of(cm)
    if name == INJECTOR_CM:
        revision = "default"
    elif name.startswith(INJECTOR_CM + "-"):
        revision = name[len(INJECTOR_CM) + 1 :] or "default"
    else:
        return None
    data = as_dict(cm.get("data"))
    cfg = _safe_yaml(data.get("config"))
    values = _safe_json(data.get("values"))
    policy = as_str(cfg.get("policy")) or "enabled"
    webhook_values = as_dict(values.get("sidecarInjectorWebhook"))
    enable = webhook_values.get("enableNamespacesByDefault")
    return InjectorConfig(
        revision=revision,
        configmap_name=name,
        policy=policy,
        never_inject=[s for s in as_list(cfg.get("neverInjectSelector")) if isinstance(s, dict)],
        always_inject=[s for s in as_list(cfg.get("alwaysInjectSelector")) if isinstance(s, dict)],
        enable_namespaces_by_default=enable is True or as_str(enable).lower() == "true",
        values=values,
    )


def _safe_yaml(text: Any) -> dict[str, Any]:
    """Parse YAML text to a mapping ({} when not a mapping or invalid).

    Memoized on the text: the same ConfigMap is parsed for every namespace and pod that needs
    it, and PyYAML's pure-Python parser costs ~2 ms per injector config. The returned dict is
    shared between callers, who must treat it as read-only.
    """
    if not isinstance(text, str):
        return {}
    return safe_yaml_cached(text)


@functools.lru_cache(maxsize=1024)
def safe_yaml_cached(text: str) -> dict[str, Any]:
    try:
        return as_dict(yaml.safe_load(text))
    except Exception:  # noqa: BLE001 - arbitrary ConfigMap/annotation text must never raise
        return {}


def _safe_json(text: Any) -> dict[str, Any]:
    if not isinstance(text, str):
        return {}
    try:
        return as_dict(json.loads(text))
    except (ValueError, RecursionError):
        return {}


def parse_webhooks(configs: Iterable[Mapping[str, Any]]) -> list[Webhook]:
    """Istio injection webhooks (name ends in ``istio.io``) of the given configurations."""
    out: list[Webhook] = []
    for cfg in configs:
        labels = labels_of(cfg)
        revision = labels.get(REV_KEY) or "default"
        tag = labels.get(TAG_KEY) or None
        for wh in as_list(as_dict(cfg).get("webhooks")):
            if not isinstance(wh, dict):
                continue
            wname = as_str(wh.get("name"))
            if not wname.endswith("istio.io"):
                continue
            out.append(
                Webhook(
                    config_name=name_of(cfg),
                    name=wname,
                    revision=revision,
                    tag=tag,
                    namespace_selector=wh.get("namespaceSelector"),
                    object_selector=wh.get("objectSelector"),
                )
            )
    return out


@dataclass(slots=True)
class StageA:
    fired: bool
    revision: str | None  # injecting revision (tag resolved)
    requested: str | None  # requested revision/tag as written (None when nothing asks)
    rule: str  # W1..W9
    webhooks: list[str] = field(default_factory=list)


@dataclass(slots=True)
class StageB:
    inject: bool
    rule: str  # B1..B6
    explicit: bool | None  # True/False explicit choice, None when no choice
    invalid_value: str | None = None  # non-canonical inject value (B3 warning)


class InjectionPolicy:
    """Cluster-wide injection knowledge: webhooks, tags, injector configs."""

    def __init__(
        self,
        webhook_configs: Iterable[Mapping[str, Any]] = (),
        configmaps: Iterable[Mapping[str, Any]] = (),
        enable_namespaces_by_default: bool | None = None,
    ) -> None:
        configs = list(webhook_configs)
        self.webhooks: list[Webhook] = parse_webhooks(configs)
        self.has_webhooks: bool = bool(self.webhooks)
        self.tags: dict[str, str] = {}
        for wh in self.webhooks:
            if wh.tag:
                self.tags[wh.tag] = wh.revision
        self.revisions: set[str] = {wh.revision for wh in self.webhooks if not wh.tag}
        self.injectors: dict[str, InjectorConfig] = {}
        for cm in configmaps:
            inj = parse_injector_configmap(cm)
            if inj is not None:
                self.injectors[inj.revision] = inj
        if enable_namespaces_by_default is None:
            default = self.injectors.get("default")
            if default is not None:
                enable_namespaces_by_default = default.enable_namespaces_by_default
            else:
                enable_namespaces_by_default = any(
                    wh.name.startswith("auto.") for wh in self.webhooks
                )
        self.enable_namespaces_by_default: bool = enable_namespaces_by_default
        # Stage A depends only on the namespace and the pod labels that selectors read.
        self._cache: dict[tuple[str, ...], StageA] = {}
        self._object_keys: tuple[str, ...] | None = _selector_keys(
            [wh.object_selector for wh in self.webhooks]
        )
        # ... and on the namespace only through the labels its selectors and rules read
        # (thousands of namespaces share a handful of such label sets)
        ns_keys = _selector_keys([wh.namespace_selector for wh in self.webhooks])
        self._ns_keys: tuple[str, ...] | None = (
            None if ns_keys is None else tuple(sorted({*ns_keys, INJECTION_LABEL}))
        )

    def namespace_label_keys(self) -> tuple[str, ...] | None:
        """The namespace labels the webhooks' namespace selectors read (and the injection
        label); None when that cannot be known (no webhooks in the input, a selector that reads
        any label): a pod's stage A then depends on its namespace beyond these labels."""
        return self._ns_keys if self.has_webhooks else None

    # -- revisions -------------------------------------------------------------------
    def resolve(self, requested: str | None) -> str | None:
        """Tag → revision (section 8); unknown values are returned unchanged."""
        if requested is None:
            return None
        return self.tags.get(requested, requested)

    def revision_exists(self, requested: str | None) -> bool | None:
        """None when it cannot be known (no webhooks in the input)."""
        if not self.has_webhooks or requested is None:
            return None
        return requested in self.tags or requested in self.revisions

    def injector_for(self, revision: str | None) -> InjectorConfig | None:
        if revision is None:
            return None
        return self.injectors.get(revision) or self.injectors.get("default")

    # -- stage A ---------------------------------------------------------------------
    def stage_a(
        self, ns_name: str, ns_labels: Mapping[str, str], pod_labels: Mapping[str, str]
    ) -> StageA:
        """Which webhook fires for a pod CREATE (rules W1–W9; labels only)."""
        if not self.has_webhooks:
            key: tuple[str, ...] = (
                ns_name,
                pod_labels.get(INJECT_KEY, "\0"),
                pod_labels.get(REV_KEY, "\0"),
            )
        elif self._object_keys is not None and self._ns_keys is not None:
            key = (
                "\1" if ns_name in IGNORED_NAMESPACES else "",
                *(
                    ns_labels.get(k, ns_name if k == NAMESPACE_NAME else "\0")
                    for k in self._ns_keys
                ),
                *(pod_labels.get(k, "\0") for k in self._object_keys),
            )
        else:
            return self._webhook_stage_a(ns_name, ns_labels, pod_labels)
        cached = self._cache.get(key)
        if cached is None:
            if self.has_webhooks:
                cached = self._webhook_stage_a(ns_name, ns_labels, pod_labels)
            else:
                cached = self._rules_stage_a(ns_name, ns_labels, pod_labels)
            self._cache[key] = cached
        return cached

    def _rules_stage_a(
        self, ns_name: str, ns_labels: Mapping[str, str], pod_labels: Mapping[str, str]
    ) -> StageA:
        inj = pod_labels.get(INJECT_KEY)
        prev = pod_labels.get(REV_KEY)
        if INJECTION_LABEL in ns_labels:
            if ns_labels[INJECTION_LABEL] != "enabled":
                return StageA(False, None, None, "W3")
            if inj == "false":
                return StageA(False, None, "default", "W2")
            return StageA(True, self.resolve("default"), "default", "W1")
        if REV_KEY in ns_labels:
            rev = ns_labels[REV_KEY]
            if inj == "false":
                return StageA(False, None, rev, "W5")
            return StageA(True, self.resolve(rev), rev, "W4")
        if prev is not None and inj != "false":
            return StageA(True, self.resolve(prev), prev, "W6")
        if inj == "true" and prev is None:
            return StageA(True, self.resolve("default"), "default", "W7")
        if (
            inj is None
            and prev is None
            and self.enable_namespaces_by_default
            and ns_name not in IGNORED_NAMESPACES
        ):
            return StageA(True, self.resolve("default"), "default", "W8")
        return StageA(False, None, None, "W9")

    def _webhook_stage_a(
        self, ns_name: str, ns_labels: Mapping[str, str], pod_labels: Mapping[str, str]
    ) -> StageA:
        nsl = dict(ns_labels)
        nsl.setdefault(NAMESPACE_NAME, ns_name)
        matched = [
            wh
            for wh in self.webhooks
            if selector_matches(wh.namespace_selector, nsl)
            and selector_matches(wh.object_selector, pod_labels)
        ]
        requested = _requested_revision(ns_labels, pod_labels)
        # Rule id of the equivalent chart rule, for the reason text.
        rule = self._rules_stage_a(ns_name, ns_labels, pod_labels).rule
        if not matched:
            return StageA(False, None, requested, rule)
        first = matched[0]
        return StageA(
            True,
            first.revision,
            requested or first.tag or first.revision,
            rule,
            [f"{wh.config_name}/{wh.name}" for wh in matched],
        )

    # -- stage B ---------------------------------------------------------------------
    def stage_b(
        self,
        ns_name: str,
        pod_labels: Mapping[str, str],
        pod_annotations: Mapping[str, str],
        host_network: bool,
        revision: str | None,
    ) -> StageB:
        """``injectRequired``: B1 hostNetwork, B2 ignored namespace, B3–B6."""
        if host_network:
            return StageB(False, "B1", None)
        if ns_name in IGNORED_NAMESPACES:
            return StageB(False, "B2", None)
        explicit, invalid = explicit_choice(pod_labels, pod_annotations)
        injector = self.injector_for(revision)
        if explicit is None and injector is not None:
            if any(
                not selector_is_empty(s) and selector_matches(s, pod_labels)
                for s in injector.never_inject
            ):
                return StageB(False, "B4", False, invalid)
            if any(
                not selector_is_empty(s) and selector_matches(s, pod_labels)
                for s in injector.always_inject
            ):
                return StageB(True, "B5", True, invalid)
        if explicit is not None:
            return StageB(explicit, "B3", explicit, invalid)
        policy = injector.policy if injector is not None else "enabled"
        if policy == "enabled":
            return StageB(True, "B6", None, invalid)
        return StageB(False, "B6", None, invalid)


def explicit_choice(
    labels: Mapping[str, str], annotations: Mapping[str, str]
) -> tuple[bool | None, str | None]:
    """Rule B3: annotation, replaced by the label when present; only exact
    ``"true"``/``"false"`` decide.  Returns (choice, non-canonical value or None)."""
    value = annotations.get(INJECT_KEY, "")
    if INJECT_KEY in labels:
        value = labels[INJECT_KEY]
    if value == "true":
        return True, None
    if value == "false":
        return False, None
    return None, (value or None)


def _selector_keys(selectors: list[Any]) -> tuple[str, ...] | None:
    """Label keys read by the selectors; None when a selector is malformed."""
    keys: set[str] = {INJECT_KEY, REV_KEY}
    for sel in selectors:
        if sel is None:
            continue
        if not isinstance(sel, dict):
            return None
        ml = sel.get("matchLabels")
        if isinstance(ml, dict):
            keys.update(k for k in ml if isinstance(k, str))
        for expr in as_list(sel.get("matchExpressions")):
            if isinstance(expr, dict) and isinstance(expr.get("key"), str):
                keys.add(expr["key"])
    return tuple(sorted(keys))


def _requested_revision(ns_labels: Mapping[str, str], pod_labels: Mapping[str, str]) -> str | None:
    """Section 8: namespace ``istio.io/rev`` (W4), else pod ``istio.io/rev`` (W6), else
    ``default`` for W1/W7/W8."""
    if ns_labels.get(INJECTION_LABEL) == "enabled":
        return "default"
    if REV_KEY in ns_labels:
        return ns_labels[REV_KEY]
    if REV_KEY in pod_labels:
        return pod_labels[REV_KEY]
    return None
