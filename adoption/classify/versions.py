"""Proxy image parsing, version comparison and control-plane versions (section 8).

* Image reference ``[registry/]path/name[:tag][@sha256:…]``; the tag is the version,
  optionally followed by a ``-distroless``/``-debug`` variant suffix (``KnownImageTypes``).
* A digest-only reference has no trustworthy version.
* ``behind``: versions are compared numerically on their ``major.minor.patch`` core;
  non-semver tags (``latest``, ``master``) are not comparable and never "behind".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .kube import as_str, containers, kind_of, labels_of, spec_of

KNOWN_IMAGE_TYPES: tuple[str, ...] = ("distroless", "debug")
_VERSION_RE = re.compile(r"^v?(\d{1,6})\.(\d{1,6})(?:\.(\d{1,6}))?(?:[-+].*)?$")


@dataclass(slots=True, frozen=True)
class ImageRef:
    repository: str  # registry/path/name, without tag/digest
    name: str  # last path element, e.g. "proxyv2"
    tag: str | None
    digest: str | None
    version: str | None  # tag without variant suffix
    variant: str | None  # "distroless" / "debug" or None


def parse_image(image: Any) -> ImageRef | None:
    """Split an image reference; None for non-strings, empty strings or ``auto``."""
    if not isinstance(image, str) or len(image) > 1024:
        return None
    return _parse_image(image)


@lru_cache(maxsize=8192)
def _parse_image(image: str) -> ImageRef | None:
    ref = image.strip()
    if not ref or ref == "auto" or len(ref.split()) != 1:
        return None
    digest: str | None = None
    if "@" in ref:
        ref, _, digest = ref.partition("@")
        digest = digest or None
    tag: str | None = None
    last_slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > last_slash:
        ref, tag = ref[:colon], ref[colon + 1 :] or None
    name = ref[last_slash + 1 :] if last_slash >= 0 else ref
    version, variant = split_variant(tag)
    return ImageRef(
        repository=ref, name=name, tag=tag, digest=digest, version=version, variant=variant
    )


def split_variant(tag: str | None) -> tuple[str | None, str | None]:
    """``1.3.1-distroless`` → (``1.3.1``, ``distroless``); ``1.3.0-prerelease`` unchanged."""
    if not tag:
        return None, None
    for variant in KNOWN_IMAGE_TYPES:
        suffix = "-" + variant
        if tag.endswith(suffix) and len(tag) > len(suffix):
            return tag[: -len(suffix)], variant
    return tag, None


def proxy_version(image: Any) -> str | None:
    ref = parse_image(image)
    return ref.version if ref is not None else None


def version_key(version: Any) -> tuple[int, int, int] | None:
    """Numeric comparison key, or None when the version is not semver-like."""
    if not isinstance(version, str):
        return None
    return _version_key(version)


@lru_cache(maxsize=4096)
def _version_key(version: str) -> tuple[int, int, int] | None:
    """Cached: a cluster has a handful of proxy/control-plane versions, but `is_older` and
    `oldest` run for every meshed workload of every poll."""
    m = _VERSION_RE.match(version.strip())
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def is_older(version: str | None, than: str | None) -> bool:
    """True when both versions are comparable and ``version`` < ``than``."""
    a, b = version_key(version), version_key(than)
    return a is not None and b is not None and a < b


def oldest(versions: Iterable[str]) -> str | None:
    keyed = [(k, v) for v in versions if (k := version_key(v)) is not None]
    return min(keyed)[1] if keyed else None


def _istiod_image(obj: dict[str, Any]) -> str | None:
    spec = spec_of(obj)
    if kind_of(obj) != "Pod":
        spec = spec_of(spec.get("template"))
    conts = containers(spec)
    for c in conts:
        if c.get("name") == "discovery":
            return as_str(c.get("image")) or None
    for c in conts:
        ref = parse_image(c.get("image"))
        if ref is not None and ref.name == "pilot":
            return as_str(c.get("image"))
    return None


def control_plane_versions(
    istiod: Iterable[dict[str, Any]], injector_values: dict[str, dict[str, Any]] | None = None
) -> dict[str, str]:
    """Revision → istiod version, from istiod Deployments/pods (label ``istio.io/rev``,
    ``default`` when absent, container ``discovery`` image tag).  Falls back to the
    injector ConfigMap ``values`` (``global.tag``) per revision; the newest wins when a
    revision shows several versions (mid-upgrade)."""
    found: dict[str, list[str]] = {}
    for obj in istiod:
        rev = labels_of(obj).get("istio.io/rev") or "default"
        version = proxy_version(_istiod_image(obj))
        if version:
            found.setdefault(rev, []).append(version)
    for rev, values in (injector_values or {}).items():
        if rev in found:
            continue
        tag = as_str(_dig(values, "global", "tag"))
        version, _ = split_variant(tag)
        if version:
            found[rev] = [version]
    result: dict[str, str] = {}
    for rev, versions in found.items():
        comparable = [(k, v) for v in versions if (k := version_key(v)) is not None]
        result[rev] = max(comparable)[1] if comparable else sorted(versions)[0]
    return result


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj
