"""`kubesim serve` as a process: kubeconfig, admin token, clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml
from kubernetes import client, config


def test_it_serves_writes_a_kubeconfig_and_stops_on_sigterm(tmp_path: Path) -> None:
    kubeconfig, admin = tmp_path / "kc", tmp_path / "admin-token"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubesim", "serve", "--port", "0", "--seed", "9", "--speed", "0",
         "--start", "2026-09-01T12:00:00Z", "--kubeconfig", str(kubeconfig),
         "--admin-token-file", str(admin), "--no-istio-cluster"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert "kubesim serving" in line, line + (proc.stderr.read() if proc.stderr else "")
        assert stat.S_IMODE(os.stat(kubeconfig).st_mode) == 0o600
        doc = yaml.safe_load(kubeconfig.read_text())
        contexts = [c["name"] for c in doc["contexts"]]
        assert contexts == ["prod-eu", "prod-us", "staging", "dev-sandbox"]
        api = config.new_client_from_config(config_file=str(kubeconfig), context="staging")
        assert client.CoreV1Api(api).list_namespace().items
        base = doc["clusters"][0]["cluster"]["server"].rsplit("/clusters/", 1)[0]
        req = urllib.request.Request(
            f"{base}/_sim/state", headers={"Authorization": f"Bearer {admin.read_text().strip()}"}
        )
        state = json.loads(urllib.request.urlopen(req).read())
        assert state["time"].startswith("2026-09-01T12:00:00") and state["seed"] == 9
    finally:
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
    assert proc.returncode == 0


def test_the_enrolment_option_reaches_every_cluster() -> None:
    from kubesim.__main__ import build_clusters, make_parser

    args = make_parser().parse_args(["serve", "--clusters", "3", "--enrolment", "complete"])
    specs = build_clusters(args.clusters, args.pods, args.no_istio_cluster, args.enrolment)
    assert [s.enrolment for s in specs] == ["complete"] * 3
    demo = build_clusters("demo", 500, False)
    assert {s.enrolment for s in demo} == {"gradual"} and {s.pods_target for s in demo} == {500}
