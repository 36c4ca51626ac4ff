"""Static checks of the Helm chart in deploy/helm/meshboard (no helm binary on this machine).

The chart is rendered by tests/deploy/render.py (a Go-template subset that fails on anything
it does not implement), then every manifest is validated against the Kubernetes OpenAPI
schemas shipped by `kubernetes-validate` (strict: unknown fields are errors).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from .render import Rendered, TemplateError, go_float, merge_values, parse, render_chart

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "meshboard"
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
DEFAULTS = yaml.safe_load((CHART / "values.yaml").read_text())
K8S_VERSIONS = ("1.30", "1.34")
KUBECONFIG_DIR = "/etc/meshboard/kubeconfigs"

FULL: dict[str, Any] = {
    "image": {"repository": "registry.example.com/platform/meshboard", "tag": "0.1.0-rc1"},
    "imagePullSecrets": [{"name": "regcred"}],
    "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}},
    "secrets": {"existingSecret": "meshboard-prod"},
    "settings": {
        "allowedHosts": ["meshboard.internal"],
        "csrfTrustedOrigins": ["https://meshboard.example.com"],
        "extraSystemNamespaces": ["cattle-system", "gatekeeper-system"],
        "kubeReadTimeout": 12.5,
    },
    "extraEnv": [{"name": "SENTRY_ENVIRONMENT", "value": "prod"}],
    "clusters": {
        "kubeconfigSecrets": [
            {"name": "prod-eu", "secretName": "kubeconfig-prod-eu", "key": "kubeconfig"},
            {"name": "prod-us", "secretName": "kubeconfig-prod-us"},
        ]
    },
    "web": {
        "podAnnotations": {"prometheus.io/scrape": "true"},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "tools"}],
    },
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
        "hosts": [
            {"host": "meshboard.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]},
            {"host": "mesh.example.org", "paths": [{"path": "/", "pathType": "Prefix"}]},
        ],
        "tls": [{"secretName": "meshboard-tls", "hosts": ["meshboard.example.com"]}],
    },
}
BYO_SERVICE_ACCOUNT: dict[str, Any] = {
    "serviceAccount": {"create": False, "name": "platform-reader"},
    "rbac": {"create": False},
    "migrations": {"enabled": False},
    "fullnameOverride": "mb",
}
SCENARIOS: dict[str, dict[str, Any]] = {"default": {}, "full": FULL, "byo-sa": BYO_SERVICE_ACCOUNT}

ALLOWED_RULES = {
    "": {"namespaces", "pods", "services", "configmaps"},
    "apps": {"deployments", "statefulsets", "daemonsets", "replicasets"},
    "batch": {"jobs", "cronjobs"},
    "admissionregistration.k8s.io": {"mutatingwebhookconfigurations"},
    "networking.istio.io": {
        "virtualservices",
        "destinationrules",
        "gateways",
        "serviceentries",
        "sidecars",
    },
    "security.istio.io": {"peerauthentications", "authorizationpolicies"},
    "metrics.k8s.io": {"pods"},
}


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def scenario(request: pytest.FixtureRequest) -> tuple[str, Rendered]:
    return request.param, render_chart(CHART, SCENARIOS[request.param])


@pytest.fixture(scope="module")
def default() -> Rendered:
    return render_chart(CHART)


@pytest.fixture(scope="module")
def full() -> Rendered:
    return render_chart(CHART, FULL)


def one(r: Rendered, kind: str, name_suffix: str = "") -> dict[str, Any]:
    found = [
        m for m in r.manifests if m["kind"] == kind and m["metadata"]["name"].endswith(name_suffix)
    ]
    assert len(found) == 1, f"expected one {kind} *{name_suffix}, got {len(found)}"
    return found[0]


def pod_specs(r: Rendered) -> dict[str, dict[str, Any]]:
    return {
        m["metadata"]["name"]: m["spec"]["template"]["spec"]
        for m in r.manifests
        if m["kind"] in ("Deployment", "Job")
    }


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def config(r: Rendered) -> dict[str, str]:
    return one(r, "ConfigMap")["data"]


# --- (1) values and schema ---------------------------------------------------------------------


def test_schema_is_draft7_and_values_yaml_validates() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.Draft7Validator(SCHEMA).validate(DEFAULTS)
    for values in SCENARIOS.values():
        jsonschema.Draft7Validator(SCHEMA).validate(merge_values(DEFAULTS, values))


BAD_VALUES = {
    "rbac.create not a boolean": {"rbac": {"create": "yes"}},
    "beat replicas are not configurable": {"beat": {"replicaCount": 2}},
    "plaintext secret in values": {"secrets": {"secretKey": "hunter2"}},
    "unknown top-level key": {"databaseUrl": "postgres://u:p@db/meshboard"},
    "kubeconfig secret without secretName": {
        "clusters": {"kubeconfigSecrets": [{"name": "prod", "key": "kubeconfig"}]}
    },
    "kubeconfig name escaping the directory": {
        "clusters": {"kubeconfigSecrets": [{"name": "../../etc/passwd", "secretName": "k"}]}
    },
    "log level typo": {"settings": {"logLevel": "VERBOSE"}},
    "beat tick out of range": {"settings": {"beatTickSeconds": 0}},
    "page size as a string": {"settings": {"kubePageSize": "500"}},
    "bad pull policy": {"image": {"pullPolicy": "Sometimes"}},
    "root allowed": {"podSecurityContext": {"runAsNonRoot": False}},
    "privilege escalation": {"containerSecurityContext": {"allowPrivilegeEscalation": True}},
    "ingress enabled without hosts": {"ingress": {"enabled": True, "hosts": []}},
    "comma in an allowed host": {"settings": {"allowedHosts": ["a.example.com,b.example.com"]}},
}


@pytest.mark.parametrize("bad", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_schema_rejects_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(SCHEMA).validate(merge_values(DEFAULTS, bad))


def test_render_refuses_values_that_fail_the_schema() -> None:
    # Like `helm template`: values are checked against values.schema.json first.
    with pytest.raises(jsonschema.ValidationError):
        render_chart(CHART, {"rbac": {"create": "yes"}})


# --- (2) real Kubernetes schemas ---------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_validates_against_kubernetes_openapi(
    scenario: tuple[str, Rendered], version: str
) -> None:
    name, rendered = scenario
    assert rendered.manifests
    for manifest in rendered.manifests:
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = "/".join(map(str, exc.path))
            pytest.fail(f"[{name}] {manifest['kind']} {where}: {exc.message}")


def test_rendered_kinds(default: Rendered, full: Rendered) -> None:
    kinds = sorted(m["kind"] for m in default.manifests)
    assert kinds == sorted(
        ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Deployment"]
        + ["Deployment", "Job", "Service", "ServiceAccount"]
    )
    assert sorted(m["kind"] for m in full.manifests) == sorted([*kinds, "Ingress"])
    byo = render_chart(CHART, BYO_SERVICE_ACCOUNT)
    assert sorted(m["kind"] for m in byo.manifests) == sorted(
        ["ConfigMap", "Deployment", "Deployment", "Deployment", "Service"]
    )
    for spec in pod_specs(byo).values():
        assert spec.get("serviceAccountName") in (None, "platform-reader")


def test_standard_labels_everywhere(scenario: tuple[str, Rendered]) -> None:
    _, rendered = scenario
    for m in rendered.manifests:
        labels = m["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "meshboard"
        assert labels["app.kubernetes.io/instance"] == "meshboard"
        assert labels["app.kubernetes.io/version"] == "0.1.0"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/component"]
        assert labels["helm.sh/chart"] == "meshboard-0.1.0"
        if m["kind"] == "Deployment":
            selector = m["spec"]["selector"]["matchLabels"]
            assert selector.items() <= m["spec"]["template"]["metadata"]["labels"].items()
            assert "app.kubernetes.io/version" not in selector  # selectors are immutable


# --- (3) RBAC ----------------------------------------------------------------------------------


def test_cluster_role_is_read_only_and_minimal(default: Rendered) -> None:
    role = one(default, "ClusterRole")
    granted: dict[str, set[str]] = {}
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule  # no nonResourceURLs
        assert set(rule["verbs"]) <= {"get", "list"}, rule
        assert "*" not in rule["apiGroups"] + rule["resources"]
        for group in rule["apiGroups"]:
            granted.setdefault(group, set()).update(rule["resources"])
    assert granted == ALLOWED_RULES
    assert not any("secrets" in res or "/" in r for res in granted.values() for r in res)

    binding = one(default, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    sa = one(default, "ServiceAccount")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": "meshboard"}
    ]
    assert sa["automountServiceAccountToken"] is False
    worker = one(default, "Deployment", "-worker")["spec"]["template"]["spec"]
    assert worker["serviceAccountName"] == sa["metadata"]["name"]


# --- (4) beat ----------------------------------------------------------------------------------


def test_beat_is_a_single_recreated_replica(default: Rendered) -> None:
    beat = one(default, "Deployment", "-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    container = beat["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["beat"]
    # deploy/docker/start writes the schedule to /tmp/celerybeat-schedule: /tmp is an emptyDir.
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    volumes = {v["name"]: v for v in beat["spec"]["template"]["spec"]["volumes"]}
    assert volumes[tmp["name"]] == {"name": tmp["name"], "emptyDir": {}}


# --- (5) security contexts ---------------------------------------------------------------------


def test_every_container_is_locked_down(scenario: tuple[str, Rendered]) -> None:
    _, rendered = scenario
    specs = pod_specs(rendered)
    assert specs
    for name, spec in specs.items():
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True
        assert pod_sc["runAsUser"] == 10001 and pod_sc["fsGroup"] == 10001
        assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}
        volumes = {v["name"]: v for v in spec["volumes"]}
        for c in spec["containers"] + spec.get("initContainers", []):
            sc = c["securityContext"]
            assert sc.get("runAsNonRoot", pod_sc["runAsNonRoot"]) is True, name
            assert sc.get("runAsUser", pod_sc["runAsUser"]) != 0, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in sc["capabilities"] and not sc.get("privileged"), name
            tmp = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert tmp and "emptyDir" in volumes[tmp[0]["name"]], name
            assert c["resources"]["requests"] and c["resources"]["limits"]["memory"], name


def test_secrets_are_mounted_files_never_values(full: Rendered) -> None:
    assert not [m for m in full.manifests if m["kind"] == "Secret"]
    data = config(full)
    assert not {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} & set(data)
    for name, spec in pod_specs(full).items():
        c = spec["containers"][0]
        env = env_of(c)
        assert not {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} & set(env), name
        mount = next(m for m in c["volumeMounts"] if m["name"] == "secrets")
        assert mount["readOnly"] is True
        for var in ("SECRET_KEY_FILE", "DATABASE_URL_FILE", "REDIS_URL_FILE"):
            assert env[var].startswith(mount["mountPath"] + "/"), (name, var)
        secret = {v["name"]: v for v in spec["volumes"]}["secrets"]["secret"]
        assert secret["secretName"] == "meshboard-prod"
        assert {i["path"] for i in secret["items"]} == {"secret-key", "database-url", "redis-url"}


# --- (6) web probes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "host"),
    [
        ({}, "meshboard-web"),
        (FULL, "meshboard.example.com"),
        ({"web": {"probeHost": "probe.internal"}}, "probe.internal"),
    ],
    ids=["default", "first-ingress-host", "probeHost"],
)
def test_web_probes_hit_health_endpoints_with_an_allowed_host(
    values: dict[str, Any], host: str
) -> None:
    rendered = render_chart(CHART, values)
    web = one(rendered, "Deployment", "-web")["spec"]["template"]["spec"]["containers"][0]
    live, ready = web["livenessProbe"]["httpGet"], web["readinessProbe"]["httpGet"]
    assert live["path"] == "/healthz" and ready["path"] == "/readyz"
    assert live["port"] == ready["port"] == "http"
    assert {"name": "http", "containerPort": 8000, "protocol": "TCP"} in web["ports"]
    for probe in (live, ready):
        assert probe["httpHeaders"] == [{"name": "Host", "value": host}]
    assert host in config(rendered)["ALLOWED_HOSTS"].split(",")


def test_worker_liveness_pings_its_own_celery_node(default: Rendered) -> None:
    worker = one(default, "Deployment", "-worker")["spec"]["template"]["spec"]["containers"][0]
    command = worker["livenessProbe"]["exec"]["command"]
    assert command[:2] == ["sh", "-c"]
    assert command[2].startswith("celery -A meshboard inspect ping -d celery@$HOSTNAME")


def test_ingress_routes_every_host_to_the_web_service(full: Rendered) -> None:
    ingress = one(full, "Ingress")
    service = one(full, "Service")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == FULL["ingress"]["tls"]
    assert [r["host"] for r in ingress["spec"]["rules"]] == [
        "meshboard.example.com",
        "mesh.example.org",
    ]
    for rule in ingress["spec"]["rules"]:
        backend = rule["http"]["paths"][0]["backend"]["service"]
        assert backend == {"name": service["metadata"]["name"], "port": {"name": "http"}}
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "web"
    hosts = config(full)["ALLOWED_HOSTS"]
    assert hosts == "meshboard.example.com,mesh.example.org,meshboard.internal"


# --- (7) migrations ----------------------------------------------------------------------------


def test_migrations_run_as_a_pre_install_pre_upgrade_hook(default: Rendered) -> None:
    job = one(default, "Job", "-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["automountServiceAccountToken"] is False
    # The hook runs before the chart's ConfigMap/ServiceAccount exist: no reference to them.
    assert "serviceAccountName" not in spec
    container = spec["containers"][0]
    assert container["args"] == ["migrate"] and "envFrom" not in container
    env = env_of(container)
    assert {k: env[k] for k in config(default)} == config(default)


# --- (8) credentials: kubeconfigs and service-account tokens ----------------------------------


def test_worker_mounts_kubeconfig_secrets_read_only(full: Rendered) -> None:
    worker = one(full, "Deployment", "-worker")["spec"]["template"]["spec"]
    mounts = [m for m in worker["containers"][0]["volumeMounts"] if m["name"] == "kubeconfigs"]
    assert mounts == [{"name": "kubeconfigs", "mountPath": KUBECONFIG_DIR, "readOnly": True}]
    volume = {v["name"]: v for v in worker["volumes"]}["kubeconfigs"]
    sources = [s["secret"] for s in volume["projected"]["sources"]]
    assert sources == [
        {"name": "kubeconfig-prod-eu", "items": [{"key": "kubeconfig", "path": "prod-eu"}]},
        {"name": "kubeconfig-prod-us", "items": [{"key": "kubeconfig", "path": "prod-us"}]},
    ]
    assert config(full)["MESHBOARD_CREDENTIALS_DIRS"] == KUBECONFIG_DIR
    assert worker["automountServiceAccountToken"] is True
    # No other pod sees the kubeconfigs.
    for name, spec in pod_specs(full).items():
        if not name.endswith("-worker"):
            assert "kubeconfigs" not in {v["name"] for v in spec["volumes"]}, name
    assert "register_clusters --kubeconfig /etc/meshboard/kubeconfigs/prod-eu" in full.notes


def test_only_the_worker_gets_a_service_account_token(scenario: tuple[str, Rendered]) -> None:
    _, rendered = scenario
    for name, spec in pod_specs(rendered).items():
        expected = name.endswith("-worker")
        assert spec["automountServiceAccountToken"] is expected, name


def test_no_kubeconfig_volume_by_default(default: Rendered) -> None:
    worker = one(default, "Deployment", "-worker")["spec"]["template"]["spec"]
    assert "kubeconfigs" not in {v["name"] for v in worker["volumes"]}
    assert "in_cluster" in default.notes


# --- settings: the ConfigMap is accepted by meshboard's own settings module ------------------


def test_configmap_settings_load_in_meshboard_settings(full: Rendered, tmp_path: Path) -> None:
    data = config(full)
    assert all(isinstance(v, str) for v in data.values())
    assert data["MESHBOARD_ENV"] == "production" and data["DEBUG"] == "false"
    assert data["SECURE_HSTS_SECONDS"] == "31536000"  # not Helm's float64 "3.1536e+07"
    assert data["MESHBOARD_KUBE_READ_TIMEOUT"] == "12.5"
    worker = one(full, "Deployment", "-worker")["spec"]["template"]["spec"]["containers"][0]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESHBOARD_", "DJANGO_"))}
    env.update(data)
    for var, value in {
        "SECRET_KEY_FILE": "x" * 50,
        "DATABASE_URL_FILE": "postgres://meshboard:pw@db:5432/meshboard",
        "REDIS_URL_FILE": "redis://redis:6379/0",
    }.items():
        path = tmp_path / Path(env_of(worker)[var]).name
        path.write_text(value)
        env[var] = str(path)
    probe = (
        "import json; from meshboard import settings as s; print(json.dumps({'hosts': "
        "s.ALLOWED_HOSTS, 'dirs': s.MESHBOARD_CREDENTIALS_DIRS, 'hsts': s.SECURE_HSTS_SECONDS, "
        "'db': s.DATABASES['default']['HOST'], 'read': s.MESHBOARD_KUBE_READ_TIMEOUT, "
        "'system': s.MESHBOARD_EXTRA_SYSTEM_NAMESPACES}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env | {"PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == {
        "hosts": ["meshboard.example.com", "mesh.example.org", "meshboard.internal"],
        "dirs": [KUBECONFIG_DIR],
        "hsts": 31536000,
        "db": "db",
        "read": 12.5,
        "system": ["cattle-system", "gatekeeper-system"],
    }


# --- the renderer itself -----------------------------------------------------------------------


def _tpl(src: str, dot: Any = None) -> str:
    from .render import Engine

    defines: dict[str, Any] = {}
    tree = parse(src, defines)
    return Engine(defines).execute(tree, dot)


def test_renderer_matches_go_template_semantics() -> None:
    assert _tpl("a  {{- 1 -}}  \n b") == "a1b"
    assert _tpl("{{ if .x }}X{{ else if .y }}Y{{ else }}Z{{ end }}", {"x": 0, "y": ""}) == "Z"
    assert _tpl("{{ if .x }}X{{ else if .y }}Y{{ else }}Z{{ end }}", {"x": [], "y": "1"}) == "Y"
    assert _tpl("{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}", {"b": 2, "a": 1}) == (
        "a=1;b=2;"
    )
    assert _tpl("{{ range .l }}{{ . }}{{ else }}empty{{ end }}", {"l": []}) == "empty"
    assert _tpl('{{ with .m }}{{ .k }}{{ end }}{{ $.top | default "d" }}', {"m": {"k": "v"}}) == (
        "vd"
    )
    assert _tpl('{{ $x := "a" }}{{ if true }}{{ $x = "b" }}{{ end }}{{ $x }}') == "b"
    assert _tpl("{{ (first .l).h | quote }}{{/* note */}}", {"l": [{"h": "x"}]}) == '"x"'
    assert _tpl('{{ printf "%s-%d" "a" 3 | trunc 3 }}') == "a-3"
    assert _tpl("{{ toYaml . | nindent 2 }}", {"b": [1], "a": "x"}) == "\n  a: x\n  b:\n  - 1"
    assert _tpl("{{ .missing }}", {}) == ""
    # Helm's float64 values: big numbers print in exponent form unless piped through int.
    assert go_float(31536000.0) == "3.1536e+07" and go_float(240.0) == "240"
    assert go_float(12.5) == "12.5" and go_float(0.0001) == "0.0001"


@pytest.mark.parametrize(
    "src",
    ["{{ lookup .x }}", "{{ if .x }}", "{{ end }}", "{{ .a.b }}", "{{ tpl .x . }}", "{{ .l }}"],
)
def test_renderer_fails_loudly_outside_its_subset(src: str) -> None:
    with pytest.raises(TemplateError):
        _tpl(src, {"a": None, "l": [1]})
