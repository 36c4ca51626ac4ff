"""Helpers shared by the security tests: the URL map and the pages of a polled history."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

from django.urls import URLPattern, URLResolver, get_resolver

#: Routes answered without a login: the probes and the two login pages.
PUBLIC = frozenset({"/healthz", "/readyz", "/accounts/login/", "/admin/login/"})

SAMPLE_ARGS = {
    "name": "demo",
    "object_id": "1",
    "app_label": "adoption",
    "model_name": "cluster",
    "content_type_id": "1",
    "pk": "1",
    "path": "x",
    "id": "1",
    "url": "x",
}


@dataclass(frozen=True)
class Route:
    url: str  # a concrete URL with sample arguments
    route: str  # the pattern it came from
    name: str  # "namespace:name" or ""


def _walk(resolver: URLResolver, prefix: str = "", ns: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            sub_ns = f"{ns}:{p.namespace}" if ns and p.namespace else (p.namespace or ns)
            out += _walk(p, prefix + str(p.pattern), sub_ns or "")
        elif isinstance(p, URLPattern):
            name = f"{ns}:{p.name}" if ns and p.name else (p.name or "")
            out.append((prefix + str(p.pattern), name))
    return out


def _concrete(route: str) -> str:
    route = route.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\/", "/")
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLE_ARGS.get(m.group(1), "1"), route)
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: SAMPLE_ARGS.get(m.group(1), "1"), route)
    return "/" + route


def all_routes() -> list[Route]:
    """Every URL pattern of the project (admin included), one concrete URL each."""
    seen: dict[str, Route] = {}
    for route, name in _walk(get_resolver()):
        url = _concrete(route)
        seen.setdefault(url, Route(url=url, route=route, name=name))
    return sorted(seen.values(), key=lambda r: r.url)


def is_machine(url: str) -> bool:
    """Machine endpoints (JSON API, Prometheus) refuse anonymous calls with 401/403 instead of
    redirecting a script to an HTML login form."""
    return url.startswith("/api/") or url == "/metrics"


def is_staff_only(url: str) -> bool:
    """Staff-only routes: the admin (but its login page) and the target/waiver editors."""
    if url.startswith("/admin/"):
        return url != "/admin/login/"
    return url in ("/targets/new/", "/waivers/new/") or bool(
        re.fullmatch(r"/targets/\d+/edit/", url)
    )


def q(part: str) -> str:
    return quote(part, safe="")


def history_pages(viewer: bool = True) -> dict[str, str]:
    """The dashboard pages of a polled history (call inside a test using `history`)."""
    from adoption import progress
    from adoption.models import Cluster, Target, Waiver, WorkloadObservation

    w = (
        WorkloadObservation.objects.filter(snapshot_id__in=progress.latest_snapshot_ids())
        .exclude(tribe="")
        .exclude(squad="")
        .select_related("cluster")
        .order_by("pk")
        .first()
    )
    assert w is not None, "the polled history has no owned workload"
    cluster = Cluster.objects.order_by("name").first()
    assert cluster is not None
    pages = {
        "overview": "/",
        "tribe": f"/tribes/{q(w.tribe)}/",
        "squad": f"/tribes/{q(w.tribe)}/squads/{q(w.squad)}/",
        "clusters": "/clusters/",
        "cluster": f"/clusters/{cluster.name}/",
        "workload": (
            f"/clusters/{w.cluster.name}/workloads/{q(w.namespace)}/{q(w.kind)}/{q(w.name)}/"
        ),
        "targets": "/targets/",
        "waivers": "/waivers/",
    }
    if not viewer:
        target = Target.objects.order_by("pk").first()
        pages |= {"target-new": "/targets/new/", "waiver-new": "/waivers/new/"}
        if target is not None:
            pages["target-edit"] = f"/targets/{target.pk}/edit/"
        if Waiver.objects.exists():
            pages["waivers"] = "/waivers/"
    return pages


EXPORTS = {
    "targets": "/export/targets.csv",
    "metrics": "/export/metrics.csv",
    "workloads": "/export/workloads.csv",
    "review": "/export/review.csv",
    "series": "/export/series.csv",
}


def make_target() -> object:
    """One org target, so the target pages and exports have rows to render."""
    from datetime import timedelta

    from django.utils import timezone

    from adoption import metrics
    from adoption.models import ScopeKind, Target

    today = timezone.now().date()
    return Target.objects.create(
        scope=ScopeKind.ORG,
        metric=metrics.Metric.WORKLOADS_MESHED,
        value=80,
        start=today - timedelta(days=60),
        due=today + timedelta(days=60),
        owner="platform",
    )


class ScriptAudit(HTMLParser):
    """Finds what a strict CSP (script-src 'self') would block or what pulls third parties."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inline_scripts: list[str] = []
        self.event_handlers: list[str] = []
        self.js_urls: list[str] = []
        self.external: list[str] = []
        self.json_blocks: dict[str, str] = {}
        self._in_inline: str | None = None
        self._in_json: str | None = None
        self._json = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            kind = (a.get("type") or "").strip().lower()
            if not a.get("src") and kind != "application/json":
                self._in_inline = ""
            elif kind == "application/json":
                self._in_json, self._json = a.get("id") or "", ""
        for key, value in attrs:
            if key.startswith("on"):
                self.event_handlers.append(f"<{tag} {key}=...>")
            if key in ("href", "src", "action", "formaction") and value:
                v = value.strip().lower()
                if v.startswith("javascript:"):
                    self.js_urls.append(value)
                if key != "href" or tag == "link":
                    if re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", v):
                        self.external.append(value)

    def handle_data(self, data: str) -> None:
        if self._in_inline is not None:
            self._in_inline += data
        if self._in_json is not None:
            self._json += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in_inline is not None:
            self.inline_scripts.append(self._in_inline.strip()[:80])
            self._in_inline = None
        if tag == "script" and self._in_json is not None:
            self.json_blocks[self._in_json] = self._json
            self._in_json = None


def audit_html(html: str) -> ScriptAudit:
    parser = ScriptAudit()
    parser.feed(html)
    parser.close()
    return parser


def body_of(response: Any) -> bytes:
    """The body of a plain or streaming response."""
    if response.streaming:
        return b"".join(response.streaming_content)
    return bytes(response.content)
