"""Istio-injected container and volume templates, modelled on the injector golden files
(tests/fixtures/istio/inject/hello.yaml.injected and hello-old-version.yaml.injected)."""

from __future__ import annotations

import json
from typing import Any

HUB = "docker.io/istio"
PROXY_RESOURCES = {
    "limits": {"cpu": "2", "memory": "1Gi"},
    "requests": {"cpu": "100m", "memory": "128Mi"},
}
ISTIO_VOLUMES = [
    "workload-socket", "credential-socket", "workload-certs", "istio-envoy", "istio-data",
    "istio-podinfo", "istio-token", "istiod-ca-cert", "istio-ca-crl",
]  # fmt: skip


def proxy_image(version: str) -> str:
    return f"{HUB}/proxyv2:{version}"


def _env_ref(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def proxy_container(
    *,
    version: str,
    mode: str,
    namespace: str,
    workload: str,
    owner: str,
    app_containers: list[str],
    ports: list[dict[str, Any]],
    native: bool,
    revision: str = "default",
) -> dict[str, Any]:
    """The `istio-proxy` container. mode: sidecar | router (gateway) | waypoint."""
    discovery = "istiod" if revision == "default" else f"istiod-{revision}"
    env: list[dict[str, Any]] = [
        {"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
        {"name": "CA_ADDR", "value": f"{discovery}.istio-system.svc:15012"},
        _env_ref("POD_NAME", "metadata.name"),
        _env_ref("POD_NAMESPACE", "metadata.namespace"),
        _env_ref("INSTANCE_IP", "status.podIP"),
        _env_ref("SERVICE_ACCOUNT", "spec.serviceAccountName"),
        _env_ref("HOST_IP", "status.hostIP"),
        _env_ref("ISTIO_CPU_LIMIT", "limits.cpu")
        | {"valueFrom": {"resourceFieldRef": {"divisor": "0", "resource": "limits.cpu"}}},
        {"name": "PROXY_CONFIG", "value": "{}\n"},
        {"name": "ISTIO_META_POD_PORTS", "value": json.dumps(ports, indent=4)},
        {"name": "ISTIO_META_APP_CONTAINERS", "value": ",".join(app_containers)},
        {
            "name": "GOMEMLIMIT",
            "valueFrom": {"resourceFieldRef": {"divisor": "0", "resource": "limits.memory"}},
        },
        {"name": "ISTIO_META_CLUSTER_ID", "value": "Kubernetes"},
        _env_ref("ISTIO_META_NODE_NAME", "spec.nodeName"),
        {"name": "ISTIO_META_INTERCEPTION_MODE", "value": "REDIRECT"},
        {"name": "ISTIO_META_WORKLOAD_NAME", "value": workload},
        {"name": "ISTIO_META_OWNER", "value": owner},
        {"name": "ISTIO_META_MESH_ID", "value": "cluster.local"},
        {"name": "TRUST_DOMAIN", "value": "cluster.local"},
    ]
    c: dict[str, Any] = {
        "args": [
            "proxy",
            mode,
            "--domain",
            "$(POD_NAMESPACE).svc.cluster.local",
            "--proxyLogLevel=warning",
            "--proxyComponentLogLevel=misc:error",
            "--log_output_level=default:info",
        ],
        "env": env,
        "image": proxy_image(version),
        "imagePullPolicy": "IfNotPresent",
        "lifecycle": {
            "preStop": {
                "exec": {
                    "command": [
                        "pilot-agent",
                        "request",
                        "--debug-port=15020",
                        "POST",
                        "drain",
                    ]  # fmt: skip
                }
            }
        },
        "name": "istio-proxy",
        "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
        "readinessProbe": {
            "failureThreshold": 4,
            "httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"},
            "periodSeconds": 15,
            "successThreshold": 1,
            "timeoutSeconds": 3,
        },
        "resources": PROXY_RESOURCES,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "runAsGroup": 1337,
            "runAsNonRoot": True,
            "runAsUser": 1337,
        },
        "startupProbe": {
            "failureThreshold": 600,
            "httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"},
            "periodSeconds": 1,
            "successThreshold": 1,
            "timeoutSeconds": 3,
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "volumeMounts": [
            {"mountPath": "/var/run/secrets/workload-spiffe-uds", "name": "workload-socket"},
            {"mountPath": "/var/run/secrets/credential-uds", "name": "credential-socket"},
            {"mountPath": "/var/run/secrets/workload-spiffe-credentials", "name": "workload-certs"},
            {"mountPath": "/var/run/secrets/istio", "name": "istiod-ca-cert"},
            {"mountPath": "/var/run/secrets/istio/crl", "name": "istio-ca-crl"},
            {"mountPath": "/var/lib/istio/data", "name": "istio-data"},
            {"mountPath": "/etc/istio/proxy", "name": "istio-envoy"},
            {"mountPath": "/var/run/secrets/tokens", "name": "istio-token"},
            {"mountPath": "/etc/istio/pod", "name": "istio-podinfo"},
        ],
    }
    if native:
        c["restartPolicy"] = "Always"
    return c


def init_container(version: str, cni: bool) -> dict[str, Any]:
    """`istio-init` (iptables) or, with istio-cni, `istio-validation`."""
    args = [
        "istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT",
        "-i", "*", "-x", "", "-b", "*", "-d", "15090,15021,15020",
        "--log_output_level=default:info",
    ]  # fmt: skip
    if cni:
        args += ["--run-validation", "--skip-rule-apply"]
    caps: dict[str, Any] = (
        {"drop": ["ALL"]} if cni else {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]}
    )
    return {
        "args": args,
        "image": proxy_image(version),
        "imagePullPolicy": "IfNotPresent",
        "name": "istio-validation" if cni else "istio-init",
        "resources": PROXY_RESOURCES,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": caps,
            "privileged": False,
            "readOnlyRootFilesystem": not cni,
            "runAsGroup": 1337 if cni else 0,
            "runAsNonRoot": cni,
            "runAsUser": 1337 if cni else 0,
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def istio_volumes() -> list[dict[str, Any]]:
    return [
        {"emptyDir": {}, "name": "workload-socket"},
        {"emptyDir": {}, "name": "credential-socket"},
        {"emptyDir": {}, "name": "workload-certs"},
        {"emptyDir": {"medium": "Memory"}, "name": "istio-envoy"},
        {"emptyDir": {}, "name": "istio-data"},
        {
            "downwardAPI": {
                "defaultMode": 420,
                "items": [
                    {
                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels"},
                        "path": "labels",
                    },
                    {
                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.annotations"},
                        "path": "annotations",
                    },
                ],
            },
            "name": "istio-podinfo",
        },
        {
            "name": "istio-token",
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {
                        "serviceAccountToken": {
                            "audience": "istio-ca",
                            "expirationSeconds": 43200,
                            "path": "istio-token",
                        }
                    }
                ],
            },
        },
        {"configMap": {"defaultMode": 420, "name": "istio-ca-root-cert"}, "name": "istiod-ca-cert"},
        {
            "configMap": {"defaultMode": 420, "name": "istio-ca-crl", "optional": True},
            "name": "istio-ca-crl",
        },
    ]


def status_annotation(init: list[str], containers: list[str] | None, revision: str) -> str:
    """The `sidecar.istio.io/status` annotation value (same key order as the injector)."""
    return json.dumps(
        {
            "initContainers": init,
            "containers": containers,
            "volumes": ISTIO_VOLUMES,
            "imagePullSecrets": None,
            "revision": revision,
        },
        separators=(",", ":"),
    )
