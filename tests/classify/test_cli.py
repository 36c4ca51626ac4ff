"""``meshboard analyze`` through ``adoption.classify.cli.main``."""

from __future__ import annotations

import collections
import io
import json
from pathlib import Path

import yaml

from adoption.classify.cli import main

from .conftest import FIXTURES


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_it_prints_istios_expected_messages_for_injection_yaml() -> None:
    code, out, err = _run(
        str(FIXTURES / "analyzers/injection.yaml"), "--compat", "istioctl", "--output", "json"
    )
    assert code == 0 and err == ""
    data = json.loads(out)
    expected = yaml.safe_load((FIXTURES / "expected.yaml").read_text())
    (case,) = [c for c in expected["test_cases"] if c["name"] == "istioInjection"]
    want = collections.Counter(
        (e["code"], e["code_name"], e["level"], e["resource"]) for e in case["expected"]
    )
    got = collections.Counter(
        (m["code"], m["code_name"], m["level"], m["resource"]) for m in data["messages"]
    )
    assert got == want
    assert all(m["origin"] == "istio" for m in data["messages"])
    assert set(data) >= {"messages", "namespaces", "workloads"}
    w = {(x["namespace"], x["name"]): x for x in data["workloads"]}
    assert w[("default", "noninjectedpod")]["state"] == "missing-proxy"
    assert {"proxy", "resilience", "kind", "reason"} <= set(w[("default", "injectedpod")])


def test_it_adds_meshboard_findings_without_compat() -> None:
    code, out, _ = _run(str(FIXTURES / "analyzers/injection.yaml"), "-o", "json")
    origins = {m["origin"] for m in json.loads(out)["messages"]}
    assert origins == {"istio", "meshboard"}


def test_it_prints_text_like_istioctl() -> None:
    code, out, _ = _run(str(FIXTURES / "analyzers/injection.yaml"), "--compat", "istioctl")
    assert "Warning [IST0103] (Pod default/noninjectedpod)" in out
    assert "Info [IST0102] (Namespace bar)" in out


def test_it_exits_non_zero_with_fail_on() -> None:
    path = str(FIXTURES / "analyzers/injection.yaml")
    assert _run(path, "--fail-on", "warning")[0] == 1
    assert _run(path, "--fail-on", "error", "--compat", "istioctl")[0] == 0
    assert _run(str(FIXTURES / "analyzers/image-auto.yaml"), "--fail-on", "error")[0] == 1


def test_it_classifies_a_directory_of_workload_templates() -> None:
    code, out, _ = _run(str(FIXTURES / "inject"), "-o", "json")
    assert code == 0
    workloads = json.loads(out)["workloads"]
    assert len(workloads) > 5  # *.yaml inputs only (.injected files are not manifests)
    assert {w["state"] for w in workloads} <= {"not-enrolled", "opted-out", "ineligible", "meshed"}


def test_it_reports_bad_yaml_with_file_and_document(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n"
        "kind: Pod\nmetadata: [unclosed\n"
    )
    code, out, err = _run(str(bad))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{bad}: document 2: invalid YAML" in err


def test_it_reports_non_object_documents(tmp_path: Path) -> None:
    bad = tmp_path / "scalar.yaml"
    bad.write_text("just a string\n")
    code, _, err = _run(str(bad))
    assert code == 2 and "document 1: not a Kubernetes object" in err


def test_it_reports_unreadable_files(tmp_path: Path) -> None:
    code, _, err = _run(str(tmp_path / "missing.yaml"))
    assert code == 2 and "missing.yaml: cannot read file" in err and "Traceback" not in err


def test_it_returns_usage_errors_instead_of_exiting() -> None:
    assert _run("--output", "xml", "x.yaml")[0] == 2
