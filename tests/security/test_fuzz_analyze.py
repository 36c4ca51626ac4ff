"""`meshboard analyze` on hostile input: mutated real manifests (istio's own test fixtures) and
generated YAML. Never a traceback, never a hang: exit status 0, 1 or 2, and on 2 one stderr
line naming the file (and the document when the problem is inside one).

Examples per run: ``MESHBOARD_FUZZ_EXAMPLES`` (default 200 for CI; RELIABILITY.md records a
local run with 2000). ``MESHBOARD_FUZZ_REPORT=path`` appends the counts as JSON lines.
"""

from __future__ import annotations

import io
import json
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adoption.classify.cli import main
from adoption.classify.manifests import MAX_ALIAS_EXPANSION

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "istio").rglob("*.yaml"))
SEEDS = [p.read_bytes() for p in FIXTURES]
EXAMPLES = int(os.environ.get("MESHBOARD_FUZZ_EXAMPLES", "200"))
TIME_LIMIT = 10.0  # seconds for one run of the CLI on one (small) file
COUNTS: Counter[str] = Counter()
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=os.environ.get("MESHBOARD_FUZZ_RANDOM") != "1",
)


def run(path: Path, *extra: str) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    t0 = time.monotonic()
    code = main([str(path), *extra], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue(), time.monotonic() - t0


def check(path: Path, target: str, *extra: str) -> int:
    """The CLI's contract on any input; returns the exit status."""
    COUNTS[target] += 1
    code, out, err, took = run(path, *extra)
    assert took < TIME_LIMIT, f"{target}: {took:.1f}s"
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in err and "Traceback" not in out
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("meshboard analyze: error: "), err  # not "internal error"
        assert str(path) in lines[0], err
        COUNTS[f"{target} rejected"] += 1
    else:
        assert err == "", err
        if "json" in extra:
            json.loads(out)
    return code


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    target = os.environ.get("MESHBOARD_FUZZ_REPORT")
    if target:
        with open(target, "a") as fh:
            fh.write(json.dumps({"examples_setting": EXAMPLES, **COUNTS}) + "\n")


def test_the_seeds_are_real_manifests_that_classify_cleanly(tmp_path: Path) -> None:
    assert len(FIXTURES) > 40
    for p in FIXTURES:
        code, _out, err, _ = run(p)
        assert code == 0, (p, err)


# --- byte and line mutations of the real fixtures ------------------------------------------

GARBAGE = st.sampled_from(
    [b"\x00", b"\xff\xfe", b"\xc3\x28", b"\t", b"\r", b"{", b"[", b"]:", b"&a ", b"*a", b"!!",
     b"!!python/object:os.system ", b"---\n", b"...\n", b"- ", b": ", b"'", b'"', b"\xef\xbb\xbf",
     b"\\u0000", b"%YAML 1.1\n", b"? ", b"|\n", b">-\n", b"\n  ", b"<<: *a\n"]
)  # fmt: skip


@st.composite
def byte_mutants(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["delete", "insert", "truncate", "flip", "dup", "garbage"]))
        n = len(data)
        at = draw(st.integers(0, max(n - 1, 0)))
        if op == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=20))
        elif op == "truncate":
            del data[at:]
        elif op == "flip" and n:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "dup":
            data[at:at] = data[at : at + draw(st.integers(1, 200))]
        else:
            data[at:at] = draw(GARBAGE)
    return bytes(data)


@st.composite
def line_mutants(draw: st.DrawFn) -> bytes:
    lines = draw(st.sampled_from(SEEDS)).split(b"\n")
    for _ in range(draw(st.integers(1, 5))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "dup", "swap", "indent", "dedent", "garbage"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "indent":
            lines[i] = b"  " + lines[i]
        elif op == "dedent":
            lines[i] = lines[i].lstrip()
        else:
            lines[i] = draw(GARBAGE) + lines[i]
    return b"\n".join(lines)


@given(data=byte_mutants())
@FUZZ
def test_byte_mutated_fixtures(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "mutant.yaml"
    path.write_bytes(data)
    check(path, "bytes", "-o", "json")


@given(data=line_mutants(), output=st.sampled_from(["text", "json"]))
@FUZZ
def test_line_mutated_fixtures(tmp_path: Path, data: bytes, output: str) -> None:
    path = tmp_path / "mutant.yaml"
    path.write_bytes(data)
    check(path, "lines", "-o", output, "--fail-on", "warning")


# --- structural mutations: delete keys, swap types ------------------------------------------

SEED_DOCS = [d for raw in SEEDS for d in yaml.safe_load_all(raw) if isinstance(d, dict)]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["istio-proxy", "enabled", "true", "1.22.0", "docker.io/istio/proxyv2:1.22",
                     '{"containers":["istio-proxy"]}', "{", "100m", "1Gi", "-1", "NaN", "0x10"]),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


@st.composite
def structural_mutants(draw: st.DrawFn) -> list[Any]:
    docs = [json.loads(json.dumps(d, default=str)) for d in draw(
        st.lists(st.sampled_from(SEED_DOCS), min_size=1, max_size=4))]  # fmt: skip
    for _ in range(draw(st.integers(1, 8))):
        doc = draw(st.sampled_from(docs))
        paths = [p for p in _paths(doc) if p]
        if not paths:
            continue
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        op = draw(st.sampled_from(["delete", "replace", "replace", "wrap", "huge"]))
        if op == "delete":
            del parent[path[-1]]
        elif op == "replace":
            parent[path[-1]] = draw(values)
        elif op == "wrap":
            parent[path[-1]] = (
                [parent[path[-1]]] if draw(st.booleans()) else {"x": parent[path[-1]]}
            )
        else:
            parent[path[-1]] = "x" * draw(st.integers(1000, 20000))
    return docs


@given(docs=structural_mutants(), output=st.sampled_from(["text", "json"]))
@FUZZ
def test_structurally_mutated_fixtures(tmp_path: Path, docs: list[Any], output: str) -> None:
    path = tmp_path / "mutant.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    check(path, "structure", "-o", output, "--compat", "istioctl")
    # a valid YAML document with odd types is not an input error: it must classify (0/1)
    code, _, err, _ = run(path, "-o", output)
    assert code in (0, 1), err


KINDS = ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob",
         "Namespace", "Service", "ConfigMap", "MutatingWebhookConfiguration", "List",
         "VirtualService", "DestinationRule", "PeerAuthentication", "Sidecar",
         "Gateway"]  # fmt: skip
API = {"VirtualService": "networking.istio.io/v1", "DestinationRule": "networking.istio.io/v1",
       "Sidecar": "networking.istio.io/v1", "Gateway": "networking.istio.io/v1",
       "PeerAuthentication": "security.istio.io/v1"}  # fmt: skip


@st.composite
def generated_objects(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(KINDS))
    obj: dict[str, Any] = {"apiVersion": API.get(kind, "apps/v1"), "kind": kind}
    obj["metadata"] = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "name": values, "namespace": values,
                "labels": st.dictionaries(st.text(max_size=20), values, max_size=4) | values,
                "annotations": st.dictionaries(
                    st.sampled_from(["sidecar.istio.io/inject", "sidecar.istio.io/status",
                                     "proxy.istio.io/config", "istio.io/rev", "x"]), values,
                    max_size=3) | values,
                "ownerReferences": values,
            },
        )
    )  # fmt: skip
    obj["spec"] = draw(values)
    if draw(st.booleans()):
        obj["spec"] = {"template": {"metadata": obj["metadata"], "spec": draw(values)}}
    if kind == "List":
        obj["items"] = draw(st.lists(values, max_size=3))
    return obj


@given(docs=st.lists(generated_objects(), min_size=1, max_size=5))
@FUZZ
def test_generated_kubernetes_objects(tmp_path: Path, docs: list[dict[str, Any]]) -> None:
    path = tmp_path / "generated.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    code = check(path, "generated", "-o", "json")
    assert code == 0  # well-formed YAML of mappings always classifies


# --- hand-made hostile files ------------------------------------------------------------------


def _laughs(levels: int, fan: int = 9) -> str:
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fan) + "]")
    return "\n".join(lines)


POD = b"apiVersion: v1\nkind: Pod\n"
HOSTILE: dict[str, bytes] = {
    "billion laughs": (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: d}\nbomb:\n"
        + "\n".join("  " + line for line in _laughs(9).splitlines())
        + "\nspec:\n  containers: *a9\n"
    ).encode(),
    "laughs in labels": (
        "bomb:\n" + "\n".join("  " + line for line in _laughs(9).splitlines())
        + "\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  labels: *a9\n"
    ).encode(),
    "recursive alias": b"apiVersion: v1\nkind: List\nitems: &x [*x]\n",
    "recursive mapping": b"apiVersion: v1\nkind: Pod\nmetadata: &m {name: x, self: *m}\n",
    "deep nesting": b"apiVersion: v1\nkind: Pod\nspec: " + b"[" * 20000 + b"]" * 20000 + b"\n",
    "deep mapping": b"apiVersion: v1\nkind: Pod\nspec: " + b"{a: " * 5000 + b"1" + b"}" * 5000,
    "deep List": b'{"kind":"List","items":[' * 3000 + b"{}" + b"]}" * 3000,
    "non-utf8": b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: \xff\xfe\xc3\x28\n",
    "NUL": b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\x00b\n",
    "utf-16": "apiVersion: v1\nkind: Pod\n".encode("utf-16"),
    "invalid date": POD + b"metadata:\n  name: x\n  creationTimestamp: 2020-02-30\n",
    "explicit bad timestamp": b"apiVersion: v1\nkind: Pod\nmetadata: {name: !!timestamp nope}\n",
    "huge integer": POD + b"metadata: {name: x, generation: " + b"9" * 5000 + b"}\n",
    "python tag": b"!!python/object/apply:os.system ['echo pwned']\n",
    "binary tag": b"apiVersion: v1\nkind: Pod\nmetadata: {name: !!binary '%%%'}\n",
    "scalar document": b"just a string\n---\n42\n",
    "empty": b"",
    "only separators": b"---\n---\n...\n",
    "tabs": b"apiVersion: v1\nkind: Pod\n\tmetadata: {}\n",
    "duplicate keys": b"apiVersion: v1\nkind: Pod\nkind: Namespace\nmetadata: {name: x}\n",
    "merge key garbage": b"apiVersion: v1\nkind: Pod\nmetadata:\n  <<: 5\n",
    "huge label": b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  labels:\n    a: "
    + b"e" * (1024 * 1024) + b"\n",
    "many documents": b"---\napiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n" * 2000,
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name.replace(' ', '-')}.yaml"
    path.write_bytes(HOSTILE[name])
    code = check(path, "hostile", "-o", "json")
    if name in ("billion laughs", "laughs in labels", "recursive alias", "recursive mapping",
                "non-utf8", "NUL", "utf-16", "python tag", "scalar document", "tabs"):  # fmt: skip
        assert code == 2, name
    if name in ("invalid date", "explicit bad timestamp", "empty", "huge label", "many documents"):
        assert code == 0, name


def test_an_alias_bomb_names_its_document(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\n" + _laughs(9))
    code, _, err, took = run(path)
    assert code == 2 and took < 2.0
    assert f"{path}: document 2: invalid YAML: YAML aliases expand" in err
    assert str(MAX_ALIAS_EXPANSION) in err


def test_modest_anchors_are_still_allowed(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {kind: Namespace, metadata: {name: a, labels: &l {istio-injection: enabled}}}\n"
        "- {kind: Namespace, metadata: {name: b, labels: *l}}\n"
    )
    code, out, err, _ = run(path, "-o", "json")
    assert code == 0, err
    assert [ns["labels"] for ns in json.loads(out)["namespaces"]] == [
        {"istio-injection": "enabled"}
    ] * 2


def test_an_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as fh:
        fh.truncate(65 * 1024 * 1024)  # sparse: nothing is written or read
    code, _, err, took = run(path)
    assert code == 2 and "larger than 64 MiB" in err and took < 1.0


def test_a_directory_with_one_bad_file_names_that_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes(SEEDS[0])
    (tmp_path / "b.yaml").write_bytes(b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: \xff\n")
    code, _, err, _ = run(tmp_path)
    assert code == 2 and f"{tmp_path / 'b.yaml'}: cannot read file" in err


def test_random_bytes_files(tmp_path: Path) -> None:
    """Plain random noise (seeded), outside hypothesis, as a cheap extra corpus."""
    rng = random.Random(1234)
    path = tmp_path / "noise.yaml"
    for _ in range(max(EXAMPLES // 4, 20)):
        path.write_bytes(rng.randbytes(rng.randint(0, 400)))
        check(path, "noise")
