"""Writing a kubeconfig with one context per simulated cluster."""

from __future__ import annotations

import os
from pathlib import Path

import yaml


def context_name(cluster: str) -> str:
    """Context (and kubeconfig cluster) name of a simulated cluster: the cluster's own name."""
    return cluster


def user_name(cluster: str) -> str:
    return f"{cluster}-reader"


def kubeconfig_dict(base_url: str, tokens: dict[str, str]) -> dict[str, object]:
    base = base_url.rstrip("/")
    names = list(tokens)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "current-context": context_name(names[0]) if names else "",
        "clusters": [
            {"name": context_name(n), "cluster": {"server": f"{base}/clusters/{n}"}} for n in names
        ],
        "users": [{"name": user_name(n), "user": {"token": tokens[n]}} for n in names],
        "contexts": [
            {"name": context_name(n), "context": {"cluster": context_name(n), "user": user_name(n)}}
            for n in names
        ],
    }


def write_kubeconfig(path: str | os.PathLike[str], base_url: str, tokens: dict[str, str]) -> Path:
    """Write the kubeconfig with mode 0600 (it holds the bearer tokens)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(kubeconfig_dict(base_url, tokens), fh, sort_keys=False)
    os.chmod(p, 0o600)
    return p
