"""``meshboard analyze FILE_OR_DIR... [--output text|json] [--compat istioctl] [--fail-on LEVEL]``.

Classifies manifests offline: Namespaces, Pods, workloads (a workload's pod template
stands for the pods it would create), Services, Istio resources, injector ConfigMaps and
MutatingWebhookConfigurations.  ``--compat istioctl`` keeps only the messages
``istioctl analyze`` would print (``origin == "istio"``).  Exit status: 0, 1 when a
message reaches ``--fail-on``, 2 on bad usage or unreadable/invalid input (one line on
stderr naming the file and document, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import datetime
from typing import Any, TextIO

from .cluster import classify_cluster
from .manifests import ManifestError, load_paths
from .model import LEVEL_RANK, ClassifyOptions, ClusterResult, Diagnostic

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meshboard analyze",
        description="Classify Kubernetes manifests for Istio mesh membership and report "
        "istioctl-analyze compatible diagnostics.",
    )
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    parser.add_argument("--output", "-o", choices=("text", "json"), default="text")
    parser.add_argument(
        "--compat",
        choices=("istioctl",),
        default=None,
        help="only the messages istioctl analyze would print",
    )
    parser.add_argument(
        "--fail-on",
        choices=("info", "warning", "error"),
        default=None,
        help="exit 1 when a message at or above this level is reported",
    )
    return parser


def _sorted(messages: list[Diagnostic]) -> list[Diagnostic]:
    return sorted(
        messages, key=lambda m: (-LEVEL_RANK.get(m.level, 0), m.code, m.resource, m.message)
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def render_json(result: ClusterResult, messages: list[Diagnostic]) -> str:
    payload = {
        "messages": [m.as_dict() for m in messages],
        "namespaces": [_jsonable(asdict(ns)) for ns in result.namespaces],
        "workloads": [
            {
                "kind": w.kind,
                "namespace": w.namespace,
                "name": w.name,
                "state": w.state,
                "reason": w.reason,
                "pods_total": w.pods_total,
                "pods_meshed": w.pods_meshed,
                "pods_by_state": w.pods_by_state,
                "injection_expected": w.injection_expected,
                "labels": w.labels,
                "proxy": _jsonable(w.proxy_dict()),
                "resilience": w.resilience_dict(),
                "diagnostics": w.diagnostics,
                "missing_since": _jsonable(w.missing_since),
            }
            for w in result.workloads
        ],
        "control_planes": result.control_planes,
    }
    return json.dumps(payload, indent=2, sort_keys=False)


def render_text(result: ClusterResult, messages: list[Diagnostic], compat: bool) -> str:
    lines = [
        f"{m.level} [{m.code}] ({m.resource}) {m.message}"
        + ("" if m.origin == "istio" else " [meshboard]")
        for m in messages
    ]
    if not messages:
        lines.append("\u2714 No validation issues found.")
    if not compat:
        lines.append("")
        lines.append("Workloads:")
        for w in result.workloads:
            lines.append(
                f"  {w.kind} {w.namespace}/{w.name}: {w.state} ({w.pods_meshed}/{w.pods_total} "
                f"pods in mesh, mode {w.mesh_mode}) — {w.reason}"
            )
    return "\n".join(lines)


def main(
    argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Entry point; returns the exit status instead of calling ``sys.exit``."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # argparse already printed usage
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        objs = load_paths(args.paths)
    except ManifestError as exc:
        print(f"meshboard analyze: error: {exc}", file=err)
        return EXIT_USAGE
    try:
        result = classify_cluster(objs, ClassifyOptions(template_pods=True))
        messages = result.messages
        if args.compat == "istioctl":
            messages = [m for m in messages if m.origin == "istio"]
        messages = _sorted(messages)
        if args.output == "json":
            text = render_json(result, messages)
        else:
            text = render_text(result, messages, args.compat is not None)
    except (RecursionError, MemoryError):
        print("meshboard analyze: error: input nested too deeply or too large", file=err)
        return EXIT_USAGE
    except Exception as exc:  # a classifier bug on odd input: one line, not a traceback
        files = " ".join(args.paths)
        print(
            f"meshboard analyze: internal error classifying {files}: {type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:200]}",
            file=err,
        )
        return EXIT_USAGE
    print(text, file=out)
    if args.fail_on is not None:
        threshold = LEVEL_RANK[args.fail_on.capitalize()]
        if any(LEVEL_RANK.get(m.level, 0) >= threshold for m in messages):
            return EXIT_FAIL
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
