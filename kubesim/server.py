"""The Kubernetes API simulator: many clusters under `/clusters/<name>`, one WSGI app.

Lists follow the API server's chunking contract (limit/continue, consistent snapshot, 410
Expired), selectors and PartialObjectMetadataList; faults and the clock are controlled through
`/_sim/*` (admin token) or the Python methods of `KubeSim`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import socket
import struct
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from kubesim import discovery
from kubesim.clock import SimClock
from kubesim.faults import Fault, FaultSet
from kubesim.fleet import Fleet
from kubesim.render import list_rv
from kubesim.selectors import SelectorError, field_selector, label_selector
from kubesim.snapshot import Entry, Snapshot

ENC = msgspec.json.Encoder()
JSON = "application/json"
EXPIRED_MSG = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this response "
    "to retrieve the remainder of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted between the time the "
    "first chunk was returned and now may show up in the list."
)
REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 410: "Expired", 429: "TooManyRequests", 500: "InternalError",
    503: "ServiceUnavailable",
}  # fmt: skip


def status_body(code: int, message: str, reason: str | None = None, **extra: Any) -> bytes:
    doc: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": extra.pop("metadata", {}),
        "status": "Failure",
        "message": message,
        "reason": reason or REASONS.get(code, "Unknown"),
        "code": code,
    }
    doc.update(extra)
    return ENC.encode(doc)


def status_response(code: int, message: str, reason: str | None = None, **extra: Any) -> Response:
    headers = extra.pop("headers", {})
    return Response(status_body(code, message, reason, **extra), code, headers, content_type=JSON)


def encode_token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def decode_token(token: str) -> dict[str, Any] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return (
        data if isinstance(data, dict) and {"rv", "start", "p", "t", "s"} <= data.keys() else None
    )


@dataclass
class RequestRecord:
    """One request served under /clusters/<name> (attribute or item access)."""

    cluster: str
    method: str
    path: str
    query: dict[str, str]
    time: float
    status: int = 0
    resource: str = ""
    namespace: str | None = None
    page: int = 0
    limit: int = 0
    items: int = 0
    remaining: int = 0
    fault: str | None = None

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)


class KubeSim:
    """The WSGI application. Tokens map cluster name -> bearer token."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        clock: SimClock | None = None,
        tokens: dict[str, str] | None = None,
        admin_token: str | None = None,
        continue_ttl: float = 300.0,
    ) -> None:
        self.fleet = fleet
        self.clock = clock or SimClock()
        self.tokens = tokens or {n: secrets.token_urlsafe(24) for n in fleet.cluster_names}
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        self.continue_ttl = continue_ttl
        self.faults = FaultSet()
        self.request_log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self.url_map = Map([
            Rule("/clusters/<cluster>/<path:rest>", endpoint="cluster"),
            Rule("/clusters/<cluster>", endpoint="cluster", defaults={"rest": ""}),
            Rule("/_sim/faults", endpoint="faults"),
            Rule("/_sim/state", endpoint="state"),
            Rule("/_sim/clock", endpoint="clock"),
        ])  # fmt: skip

    # Python control API -------------------------------------------------------------------
    def add_fault(self, fault: str, **kw: Any) -> Fault:
        f = Fault(fault=fault, **kw)
        self.faults.add(f)
        return f

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_time(self, at: datetime) -> None:
        self.clock.set_time(at)

    def set_speed(self, speed: float) -> None:
        self.clock.set_speed(speed)

    def state(self) -> dict[str, Any]:
        now = self.clock.now()
        return {
            "time": now.isoformat(),
            "speed": self.clock.speed,
            "day": self.fleet.day_of(now),
            "epoch": self.fleet.epoch.isoformat(),
            "seed": self.fleet.seed,
            "clusters": [
                {
                    "name": c.name,
                    "environment": c.environment,
                    "istio": c.istio,
                    "metrics_api": c.metrics_api,
                    "pods_target": c.pods_target,
                }
                for c in self.fleet.clusters
            ],
            "faults": self.faults.rules(),
            "requests_served": len(self.request_log),
            "continue_ttl": self.continue_ttl,
        }

    # WSGI ---------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
        except HTTPException:
            return status_response(404, "the server could not find the requested resource")(
                environ, start_response
            )
        if endpoint == "cluster":
            return self.cluster_request(
                request, environ, start_response, args["cluster"], args["rest"]
            )
        return self.admin_request(request, endpoint)(environ, start_response)

    def admin_request(self, request: Request, endpoint: str) -> Response:
        if request.headers.get("Authorization", "") != f"Bearer {self.admin_token}":
            return status_response(401, "Unauthorized")
        try:
            body = request.get_json(force=True, silent=True) if request.method == "POST" else None
            if endpoint == "faults":
                if request.method == "POST":
                    items = body if isinstance(body, list) else [body or {}]
                    for item in items:
                        self.faults.add(Fault.from_json(item))
                elif request.method == "DELETE":
                    self.clear_faults()
                elif request.method != "GET":
                    return status_response(405, "method not allowed")
                return Response(ENC.encode({"faults": self.faults.rules()}), content_type=JSON)
            if endpoint == "clock" and request.method == "POST":
                body = body or {}
                if "time" in body:
                    self.set_time(datetime.fromisoformat(body["time"].replace("Z", "+00:00")))
                if "speed" in body:
                    self.set_speed(float(body["speed"]))
            elif request.method != "GET":
                return status_response(405, "method not allowed")
            return Response(ENC.encode(self.state()), content_type=JSON)
        except (TypeError, ValueError) as exc:
            return status_response(400, str(exc))

    def _log(self, entry: RequestRecord) -> None:
        with self._log_lock:
            self.request_log.append(entry)

    def cluster_request(
        self,
        request: Request,
        environ: dict[str, Any],
        start_response: Any,
        cluster: str,
        rest: str,
    ) -> Iterable[bytes]:
        log = RequestRecord(
            cluster, request.method, "/" + rest, request.args.to_dict(), time.time()
        )
        resp = self._handle(request, environ, cluster, rest.strip("/"), log)
        log.status = resp.status_code if isinstance(resp, Response) else 200
        self._log(log)
        if isinstance(resp, Response):
            return resp(environ, start_response)
        return resp(start_response)

    def _handle(
        self, request: Request, environ: dict[str, Any], cluster: str, rest: str, log: RequestRecord
    ) -> Any:
        if cluster not in self.tokens:
            return status_response(404, "the server could not find the requested resource")
        if request.headers.get("Authorization", "") != f"Bearer {self.tokens[cluster]}":
            return status_response(401, "Unauthorized")
        if request.method not in ("GET", "HEAD"):
            return status_response(
                405, f"kubesim is read-only: {request.method} is not allowed", "MethodNotAllowed"
            )
        spec = self.fleet.spec(cluster)
        segs = rest.split("/") if rest else []
        resource_name = self._resource_of(segs)
        log.resource = resource_name
        token = (
            decode_token(request.args.get("continue", "")) if request.args.get("continue") else None
        )
        page = int(token["p"]) if token else 0
        log.page = page
        fault = self.faults.take(cluster, resource_name, page)
        if fault is not None:
            log.fault = fault.fault
            if fault.delay:
                time.sleep(fault.delay)
            early = self._fault_response(fault, environ)
            if early is not None:
                return early
        resp = self._route(request, spec, segs, log)
        if fault is not None and fault.fault == "truncated" and isinstance(resp, Response):
            return self._truncated(resp, environ)
        return resp

    @staticmethod
    def _resource_of(segs: list[str]) -> str:
        tail = segs[2:] if segs[:1] == ["api"] else segs[3:]
        if len(tail) >= 3 and tail[0] == "namespaces":
            return tail[2]
        return tail[0] if tail else ""

    def _fault_response(self, fault: Fault, environ: dict[str, Any]) -> Any:
        f = fault.fault
        if f == "slow" or f == "truncated":
            return None
        if f == "429":
            return status_response(
                429,
                "Too many requests, please try again later.",
                headers={"Retry-After": str(fault.retry_after)},
                details={"retryAfterSeconds": fault.retry_after},
            )
        if f == "410":
            return status_response(410, EXPIRED_MSG, "Expired")
        if f == "403":
            return status_response(
                403,
                'forbidden: User "system:serviceaccount:meshboard:reader" '
                "cannot list this resource",
                "Forbidden",
            )
        if f in ("500", "503", "401"):
            return status_response(
                int(f),
                {
                    "500": "Internal error occurred: etcdserver: request timed out",
                    "503": "the server is currently unable to handle the request",
                    "401": "Unauthorized",
                }[f],
            )
        if f == "malformed":
            return Response(
                b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":"x",,}',
                200,
                content_type=JSON,
            )
        if f == "reset":
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                # Abort: with SO_LINGER 0 the kernel answers further traffic with RST.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            return Response(b"", 200, content_type=JSON)
        return None

    @staticmethod
    def _truncated(resp: Response, environ: dict[str, Any]) -> Any:
        body = resp.get_data()
        cut = body[: max(1, len(body) // 2)]

        def app(start_response: Any) -> Iterator[bytes]:
            start_response("200 OK", [("Content-Type", JSON), ("Content-Length", str(len(body)))])
            yield cut
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        return app

    # Routing of the Kubernetes API paths ---------------------------------------------------
    def _route(self, request: Request, spec: Any, segs: list[str], log: RequestRecord) -> Response:
        not_found = status_response(404, "the server could not find the requested resource")
        if segs == ["version"]:
            return Response(ENC.encode(discovery.version_info(spec)), content_type=JSON)
        if segs == ["api"]:
            return Response(ENC.encode(discovery.api_versions()), content_type=JSON)
        if segs == ["apis"]:
            return Response(ENC.encode(discovery.api_group_list(spec)), content_type=JSON)
        if segs[:1] == ["api"] and len(segs) >= 2:
            group, version, tail = "", segs[1], segs[2:]
        elif segs[:1] == ["apis"] and len(segs) >= 2:
            if len(segs) == 2:
                doc = discovery.api_group(spec, segs[1])
                return Response(ENC.encode(doc), content_type=JSON) if doc else not_found
            group, version, tail = segs[1], segs[2], segs[3:]
        else:
            return not_found
        if not tail:
            doc = discovery.resource_list(spec, group, version)
            return Response(ENC.encode(doc), content_type=JSON) if doc else not_found
        namespace: str | None = None
        name: str | None = None
        if tail[0] == "namespaces" and len(tail) >= 3:
            namespace, plural, name = tail[1], tail[2], (tail[3] if len(tail) == 4 else None)
            if len(tail) > 4:
                return not_found
        elif len(tail) <= 2:
            plural, name = tail[0], (tail[1] if len(tail) == 2 else None)
        else:
            return not_found
        res = discovery.find(spec, group, version, plural)
        if res is None:
            return not_found
        if namespace is not None and not res.namespaced:
            return not_found
        if name is not None and res.namespaced and namespace is None:
            return not_found
        if request.args.get("watch") in ("1", "true"):
            return status_response(405, "watch is not supported by kubesim", "MethodNotAllowed")
        log.namespace = namespace
        accept = request.headers.get("Accept", "")
        partial = "as=PartialObjectMetadata" in accept.replace(" ", "")
        if name is not None:
            return self._get(spec.name, res, version, namespace, name, partial)
        return self._list(request, spec.name, res, version, namespace, partial, log)

    def _snapshot_now(self, cluster: str) -> tuple[Snapshot, datetime]:
        now = self.clock.now()
        return self.fleet.snapshot(cluster, self.fleet.day_of(now)), now

    def _get(
        self,
        cluster: str,
        res: discovery.Resource,
        version: str,
        namespace: str | None,
        name: str,
        partial: bool,
    ) -> Response:
        snap, _ = self._snapshot_now(cluster)
        found = [
            e
            for e in snap.resources.get(res.key, [])
            if e.name == name and e.namespace == namespace
        ]
        if not found:
            return status_response(
                404,
                f'{res.plural}{"." + res.group if res.group else ""} "{name}" not found',
                "NotFound",
                details={"name": name, "group": res.group, "kind": res.plural},
            )
        if partial:
            body = (
                b'{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":'
                + found[0].meta()
                + b"}"
            )
        else:
            body = found[0].with_kind(res.kind, res.api_version(version))
        return Response(body, content_type=JSON)

    def _list(
        self,
        request: Request,
        cluster: str,
        res: discovery.Resource,
        version: str,
        namespace: str | None,
        partial: bool,
        log: RequestRecord,
    ) -> Response:
        args = request.args
        lsel, fsel = args.get("labelSelector", ""), args.get("fieldSelector", "")
        try:
            lp, fp = label_selector(lsel), field_selector(fsel)
        except SelectorError as exc:
            return status_response(400, str(exc))
        try:
            limit = int(args.get("limit", "0") or 0)
        except ValueError:
            return status_response(400, "limit must be an integer")
        qhash = hashlib.sha1(f"{res.key}|{namespace}|{lsel}|{fsel}".encode()).hexdigest()[:12]
        now = self.clock.now()
        cont = args.get("continue")
        start, page = 0, 0
        if cont:
            token = decode_token(cont)
            if token is None or token.get("q") != qhash:
                return status_response(
                    400,
                    "continue key is not valid: incorrect encoded start resourceVersion "
                    "(version meta.k8s.io/v1)",
                )
            day, start, page = int(token["rv"]) // 1000 - 2000, int(token["start"]), int(token["p"])
            age_real = time.time() - float(token["t"])
            age_sim = abs(now.timestamp() - float(token["s"])) / max(self.clock.speed, 1.0)
            if max(age_real, age_sim) > self.continue_ttl:
                fresh = self._token(self.fleet.day_of(now), start, page, now, qhash)
                return status_response(410, EXPIRED_MSG, "Expired", metadata={"continue": fresh})
        else:
            day = self.fleet.day_of(now)
        snap = self.fleet.snapshot(cluster, day)
        pred = None
        if lp or fp:

            def pred(e: Entry) -> bool:
                return (lp is None or lp(e)) and (fp is None or fp(e))

        items = snap.select(res.key, namespace, (lsel, fsel), pred)
        end = len(items) if limit <= 0 else min(len(items), start + limit)
        chunk = items[start:end]
        list_meta: dict[str, Any] = {"resourceVersion": snap.resource_version}
        if end < len(items):
            list_meta["continue"] = self._token(day, end, page + 1, now, qhash, first=cont)
            list_meta["remainingItemCount"] = len(items) - end
        log.items, log.limit, log.remaining = len(chunk), limit, len(items) - end
        if partial:
            kind, api_version = "PartialObjectMetadataList", "meta.k8s.io/v1"
            bodies = [
                b'{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":'
                + e.meta()
                + b"}"
                for e in chunk
            ]
        else:
            kind, api_version = res.kind + "List", res.api_version(version)
            bodies = [e.body() for e in chunk]
        head = ENC.encode({"kind": kind, "apiVersion": api_version, "metadata": list_meta})
        body = b"".join([head[:-1], b',"items":[', b",".join(bodies), b"]}"])
        return Response(body, content_type=JSON)

    @staticmethod
    def _token(
        day: int, start: int, page: int, now: datetime, qhash: str, first: str | None = None
    ) -> str:
        issued_t, issued_s = time.time(), now.timestamp()
        if first:
            old = decode_token(first)
            if old:  # the token's age counts from the first page, like the API server's
                issued_t, issued_s = float(old["t"]), float(old["s"])
        return encode_token(
            {
                "v": "meta.k8s.io/v1",
                "rv": int(list_rv(day)),
                "start": start,
                "p": page,
                "t": issued_t,
                "s": issued_s,
                "q": qhash,
            }
        )


class QuietHandler(WSGIRequestHandler):
    """Request handler that does not log every request to stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


def serve(
    app: KubeSim, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True
) -> BaseWSGIServer:
    """A threaded werkzeug server for `app` (call `.serve_forever()`, stop with `.shutdown()`)."""
    handler = QuietHandler if quiet else WSGIRequestHandler
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    server.daemon_threads = True  # type: ignore[attr-defined]
    return server
