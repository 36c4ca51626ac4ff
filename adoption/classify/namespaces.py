"""Namespace classification (rules N1–N7) and injection-label conflicts (IST0123, section 2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .injection import DATAPLANE_MODE, INJECTION_LABEL, REV_KEY, InjectionPolicy
from .model import IGNORED_NAMESPACES, NamespaceClass


@dataclass(slots=True)
class NamespaceInfo:
    name: str
    labels: dict[str, str]
    klass: NamespaceClass
    system: bool
    revision: str | None
    revision_resolved: str | None
    ambient: bool  # ambient intent at namespace level (N5)
    conflicts: list[str] = field(default_factory=list)
    reason: str = ""
    declared: bool = True  # False when only known through its pods


def injection_label_conflicts(labels: Mapping[str, str]) -> list[str]:
    """Labels counted by IST0123 (section 9): ``istio-injection`` always when present;
    ``istio.io/rev`` and ``istio.io/dataplane-mode`` only when ``istio-injection`` is
    absent or ``enabled``.  Returns the counted keys when more than one, else []."""
    counted: list[str] = []
    inj = labels.get(INJECTION_LABEL)
    if inj is not None:
        counted.append(INJECTION_LABEL)
    if inj is None or inj == "enabled":
        if REV_KEY in labels:
            counted.append(REV_KEY)
        if DATAPLANE_MODE in labels:
            counted.append(DATAPLANE_MODE)
    return counted if len(counted) > 1 else []


def classify_namespace(
    name: str,
    labels: Mapping[str, str],
    policy: InjectionPolicy,
    system_namespaces: frozenset[str],
    declared: bool = True,
) -> NamespaceInfo:
    """Rules N1–N7, first match wins.  Configured system namespaces other than the four
    injector-ignored ones are flagged ``system`` but keep their Istio class."""
    lab = dict(labels)
    system = name in system_namespaces or name in IGNORED_NAMESPACES
    conflicts = injection_label_conflicts(lab)
    inj = lab.get(INJECTION_LABEL)
    rev = lab.get(REV_KEY)
    mode = lab.get(DATAPLANE_MODE)
    info = NamespaceInfo(
        name=name,
        labels=lab,
        klass=NamespaceClass.NOT_ENROLLED,
        system=system,
        revision=None,
        revision_resolved=None,
        ambient=False,
        conflicts=conflicts,
        declared=declared,
    )
    if name in IGNORED_NAMESPACES:  # N1
        info.klass = NamespaceClass.SYSTEM_IGNORED
        info.reason = "N1: the injector ignores this namespace"
    elif inj is not None and inj != "enabled":  # N2
        info.klass = NamespaceClass.SIDECAR_DISABLED
        info.reason = f"N2: istio-injection={inj!r} blocks every Istio webhook"
    elif inj == "enabled":  # N3
        info.klass = NamespaceClass.SIDECAR_DEFAULT
        info.revision = "default"
        info.revision_resolved = policy.resolve("default")
        info.reason = "N3: istio-injection=enabled (default revision)"
        if rev is not None:
            info.reason += f"; istio.io/rev={rev} is ignored by the webhooks"
    elif rev is not None:  # N4
        info.klass = NamespaceClass.SIDECAR_REVISION
        info.revision = rev
        info.revision_resolved = policy.resolve(rev)
        info.reason = f"N4: istio.io/rev={rev}"
        if policy.revision_exists(rev) is False:
            info.reason += " but no injector webhook serves this revision or tag"
    elif mode == "ambient":  # N5
        info.klass = NamespaceClass.AMBIENT
        info.ambient = True
        info.reason = "N5: istio.io/dataplane-mode=ambient"
    elif policy.enable_namespaces_by_default:  # N6
        info.klass = NamespaceClass.IMPLICIT_DEFAULT
        info.revision = "default"
        info.revision_resolved = policy.resolve("default")
        info.reason = "N6: injector has enableNamespacesByDefault=true"
    else:  # N7
        info.reason = "N7: no injection or ambient label"
    if (
        system
        and info.klass is not NamespaceClass.SYSTEM_IGNORED
        and name not in IGNORED_NAMESPACES
    ):
        if name in system_namespaces and not (inj or rev or mode):
            info.klass = NamespaceClass.SYSTEM_IGNORED
            info.reason = "system namespace (excluded from adoption figures)"
    return info
