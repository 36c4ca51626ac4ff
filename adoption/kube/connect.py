"""Build one `ApiClient` per cluster (never the process-global default configuration)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from .errors import KubeConfigError

IN_CLUSTER = "in_cluster"
KUBECONFIG = "kubeconfig"
TOKEN = "token"


@dataclass(frozen=True)
class ClusterConnection:
    """How to reach one cluster. Holds file *paths*, never secret values."""

    method: str
    kubeconfig_path: str = ""
    context: str = ""
    api_url: str = ""
    token_file: str = ""
    ca_file: str = ""
    allowed_dirs: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.method == KUBECONFIG:
            return f"kubeconfig {self.kubeconfig_path} context {self.context or '(current)'}"
        if self.method == TOKEN:
            return f"{self.api_url} with token file {self.token_file}"
        return "in-cluster service account"


def _check_path(path: str, what: str, allowed_dirs: tuple[str, ...]) -> Path:
    p = Path(path).expanduser()
    if allowed_dirs:
        resolved = p.resolve()
        if not any(resolved.is_relative_to(Path(d).resolve()) for d in allowed_dirs):
            raise KubeConfigError(f"{what} {path} is outside MESHBOARD_CREDENTIALS_DIRS")
    if not p.is_file():
        raise KubeConfigError(f"{what} {path} does not exist or is not a file")
    if not os.access(p, os.R_OK):
        raise KubeConfigError(f"{what} {path} is not readable by the worker")
    return p


def _client(cfg: client.Configuration) -> client.ApiClient:
    # No hidden retries in urllib3 (its default retries every connect/read error 3 times, which
    # multiplies every timeout by 4): `listing.call_with_retries` is the one retry loop, bounded,
    # with backoff, counted in the poll's stats.
    cfg.retries = False
    return client.ApiClient(cfg)


def build_api_client(conn: ClusterConnection) -> client.ApiClient:
    """Return an `ApiClient` for the cluster or raise `KubeConfigError` with a clear reason."""
    try:
        if conn.method == KUBECONFIG:
            path = _check_path(conn.kubeconfig_path, "kubeconfig", conn.allowed_dirs)
            cfg = client.Configuration()
            # persist_config=False: never write refreshed credentials back into the (read-only,
            # mounted) kubeconfig file.
            config.load_kube_config(
                config_file=str(path),
                context=conn.context or None,
                client_configuration=cfg,
                persist_config=False,
            )
            return _client(cfg)
        if conn.method == IN_CLUSTER:
            cfg = client.Configuration()
            config.load_incluster_config(client_configuration=cfg)
            return _client(cfg)
        if conn.method == TOKEN:
            if not conn.api_url:
                raise KubeConfigError("no API URL configured")
            token_path = _check_path(conn.token_file, "token file", conn.allowed_dirs)
            token = token_path.read_text(encoding="utf-8").strip()
            if not token:
                raise KubeConfigError(f"token file {conn.token_file} is empty")
            cfg = client.Configuration(host=conn.api_url.rstrip("/"))
            cfg.api_key = {"authorization": token}
            cfg.api_key_prefix = {"authorization": "Bearer"}
            if conn.ca_file:
                cfg.ssl_ca_cert = str(_check_path(conn.ca_file, "CA file", conn.allowed_dirs))
            return _client(cfg)
    except KubeConfigError:
        raise
    except ConfigException as exc:
        # ConfigException texts name contexts and files, not credentials.
        raise KubeConfigError(f"invalid {conn.describe()}: {exc}") from None
    except (OSError, ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError) as exc:
        # e.g. a kubeconfig that is not YAML or lacks sections; keep only the exception type.
        raise KubeConfigError(f"unusable {conn.describe()}: {type(exc).__name__}") from None
    raise KubeConfigError(f"unknown connection method {conn.method!r}")
