"""The sentinel test: a unique bearer token planted in the kubeconfig (and a unique SECRET_KEY)
must never show up in logs, pages, CSV exports, snapshot rows or exception texts, whatever the
poll's outcome."""

from __future__ import annotations

import logging
import os
import secrets
import traceback
from pathlib import Path

import pytest
import yaml
from django.test import Client

from adoption import collect, kube
from adoption.models import AuthMethod, Cluster, Snapshot

from ._support import EXPORTS, body_of, make_target

pytestmark = pytest.mark.django_db(transaction=False)

TOKEN = "sentinel-token-" + secrets.token_hex(12)
WRONG = "sentinel-wrong-" + secrets.token_hex(12)
SECRET_KEY = "sentinel-secret-key-" + secrets.token_hex(24)
SENTINELS = (TOKEN, WRONG, SECRET_KEY)


def _needles() -> list[str]:
    """Each sentinel, and its distinctive random half (a truncated or re-encoded leak)."""
    out = []
    for s in SENTINELS:
        out += [s, s[-16:]]
    return out


def _leaks(where: str, text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [f"{where}: contains {n[:20]}…" for n in _needles() if n in text]


def _fast() -> kube.ListOptions:
    o = collect.list_options()
    o.sleep = lambda _s: None
    return o


def _exc_texts(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), "".join(traceback.format_exception(exc))])


@pytest.fixture
def planted(sim, tmp_path: Path):
    """Cluster 0 reads with the sentinel token; cluster 1 with a wrong (sentinel) token;
    cluster 2 through the token-file method with the sentinel token."""
    names = sim.cluster_names
    sim.app.tokens[names[0]] = TOKEN
    sim.app.tokens[names[2]] = TOKEN
    from kubesim.kubeconfig import write_kubeconfig

    good = write_kubeconfig(tmp_path / "good", sim.url, {n: sim.app.tokens[n] for n in names})
    bad = write_kubeconfig(tmp_path / "bad", sim.url, {names[1]: WRONG})
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    assert TOKEN in good.read_text() and WRONG in bad.read_text()
    ok = Cluster.objects.create(
        name=names[0], kubeconfig_path=str(good), context=names[0], poll_interval=60
    )
    wrong = Cluster.objects.create(
        name=names[1], kubeconfig_path=str(bad), context=names[1], poll_interval=60
    )
    by_file = Cluster.objects.create(
        name=names[2],
        auth_method=AuthMethod.TOKEN,
        api_url=sim.cluster_url(names[2]),
        token_file=str(token_file),
        poll_interval=60,
    )
    return ok, wrong, by_file


def test_no_credential_reaches_logs_pages_exports_rows_or_errors(
    sim, planted, caplog, capfd, settings, django_user_model
) -> None:
    from adoption.tasks import poll_cluster

    ok, wrong, by_file = planted
    settings.SECRET_KEY = SECRET_KEY
    settings.DEBUG = False
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "kubernetes", "adoption", "celery", "django", "redis"):
        caplog.set_level(logging.DEBUG, logger=name)
    texts: dict[str, str] = {}

    # 1. successful polls (kubeconfig and token file), one of them through the Celery task
    assert collect.snapshot_cluster(ok, opts=_fast()).status == "ok"
    result = poll_cluster.apply(args=(by_file.pk,))
    assert result.successful() and result.get() == "ok", result.traceback
    # 2. a poll with a wrong token: the API server answers 401
    snap = collect.snapshot_cluster(wrong, opts=_fast())
    assert snap.status == "failed" and "401" in snap.error
    with pytest.raises(kube.KubeAuthError) as info:
        collect.read_cluster(wrong, _fast())
    texts["exception 401 (wrong token)"] = _exc_texts(info.value)
    # 3. the right token, but the server answers 401 anyway (revoked)
    sim.add_fault("401", cluster=ok.name, count=-1)
    with pytest.raises(kube.KubeAuthError) as info:
        collect.read_cluster(ok, _fast())
    texts["exception 401 (revoked)"] = _exc_texts(info.value)
    assert collect.snapshot_cluster(ok, opts=_fast()).status == "failed"
    sim.clear_faults()
    # 4. a malformed list body, on both auth methods
    for c in (ok, by_file):
        sim.add_fault("malformed", cluster=c.name, resource="pods", count=-1)
        with pytest.raises(kube.KubeError) as malformed:
            collect.read_cluster(c, _fast())
        texts[f"exception malformed {c.auth_method}"] = _exc_texts(malformed.value)
        assert collect.snapshot_cluster(c, opts=_fast()).status == "failed"
        sim.clear_faults()
    # 5. the failed task path too (401 on the task's own poll)
    result = poll_cluster.apply(args=(wrong.pk,))
    assert result.successful() and result.get() == "failed", result.traceback
    assert Snapshot.objects.filter(status="failed").count() >= 4
    assert Snapshot.objects.filter(status="ok").count() >= 2

    # 6. every page a viewer and an admin can open about these clusters and snapshots
    make_target()
    root = Client()
    root.force_login(django_user_model.objects.create_superuser("root", password="root-pw-123"))
    urls = ["/", "/clusters/", "/targets/", "/waivers/", "/metrics", "/admin/"]
    urls += [f"/clusters/{c.name}/" for c in (ok, wrong, by_file)]
    urls += [f"/admin/adoption/cluster/{c.pk}/change/" for c in (ok, wrong, by_file)]
    urls += ["/admin/adoption/cluster/", "/admin/adoption/snapshot/"]
    urls += [f"/admin/adoption/snapshot/{s.pk}/change/" for s in Snapshot.objects.all()]
    urls += [f"/api/v1/clusters/{c.name}/" for c in (ok, wrong, by_file)] + ["/api/v1/clusters/"]
    urls += list(EXPORTS.values())
    for url in urls:
        response = root.get(url)
        assert response.status_code == 200, (url, response.status_code)
        body = body_of(response)
        texts[f"page {url}"] = body.decode("utf-8", "replace")
        texts[f"headers {url}"] = str(response.headers) + str(response.cookies)
    for snap in Snapshot.objects.all():
        texts[f"snapshot {snap.pk} error"] = snap.error
        texts[f"snapshot {snap.pk} gaps"] = str(snap.gaps)
        texts[f"snapshot {snap.pk} row"] = repr(Snapshot.objects.filter(pk=snap.pk).values()[0])
    for c in Cluster.objects.all():
        texts[f"cluster {c.name} row"] = repr(Cluster.objects.filter(pk=c.pk).values()[0])

    out, err = capfd.readouterr()
    texts["stdout"], texts["stderr"] = out, err
    texts["log records"] = "\n".join(
        f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
    )
    # the log capture really ran at DEBUG, including urllib3's connection log
    assert any(r.name.startswith("urllib3") and r.levelno == logging.DEBUG for r in caplog.records)
    assert sum(len(t) for t in texts.values()) > 100_000, "the pages really rendered"
    leaks = [leak for where, text in texts.items() for leak in _leaks(where, text)]
    assert leaks == []


def test_the_sentinel_check_would_see_a_leak(sim, planted) -> None:
    """Control: the kubeconfig holds the sentinel, so a leak of it would be detected."""
    ok, _, _ = planted
    text = Path(ok.kubeconfig_path).read_text()
    assert yaml.safe_load(text)["users"][0]["user"]["token"] == TOKEN
    assert _leaks("kubeconfig", text)


def test_a_broken_kubeconfig_error_never_quotes_the_token(tmp_path: Path) -> None:
    """Invalid kubeconfigs that hold a token: the KubeConfigError names the file, not secrets."""
    base = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": TOKEN}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }
    variants: dict[str, object] = {
        "users as mapping": base | {"users": {"u": {"token": TOKEN}}},
        "user as string": base | {"users": [{"name": "u", "user": TOKEN}]},
        "missing context": base | {"current-context": "absent"},
        "token file missing": base | {"users": [{"name": "u", "user": {"tokenFile": TOKEN}}]},
        "bad client key": base
        | {
            "users": [
                {"name": "u", "user": {"client-key-data": TOKEN, "client-certificate-data": TOKEN}}
            ]
        },
        "not yaml": f"{TOKEN}: [",
        "token key in a list": f"users: [{TOKEN}]",
    }
    seen = 0
    for name, content in variants.items():
        path = tmp_path / name.replace(" ", "-")
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
        conn = kube.ClusterConnection(method="kubeconfig", kubeconfig_path=str(path))
        try:
            api = kube.build_api_client(conn)
            try:
                kube.discover(
                    api, kube.ListOptions(connect_timeout=1, read_timeout=1, max_retries=0)
                )
            finally:
                api.close()
        except kube.KubeError as exc:
            seen += 1
            assert _leaks(name, _exc_texts(exc)) == [], name
    assert seen == len(variants)


def test_a_server_url_with_userinfo_is_redacted_in_errors(tmp_path: Path) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"http://reader:{TOKEN}@127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    api = kube.build_api_client(
        kube.ClusterConnection(method="kubeconfig", kubeconfig_path=str(path))
    )
    with pytest.raises(kube.KubeError) as info:
        kube.discover(api, kube.ListOptions(connect_timeout=1, read_timeout=1, max_retries=0))
    assert _leaks("error", _exc_texts(info.value)) == []


DB_PASSWORD = "sentinel-dbpw-" + secrets.token_hex(10)
REDIS_PASSWORD = "sentinel-redispw-" + secrets.token_hex(10)


def test_service_passwords_stay_out_of_probe_and_error_output() -> None:
    """Postgres and Redis down, their URLs carrying sentinel passwords: /readyz, /healthz and
    a page (500) never print them, in the response or on stderr (subprocess, see
    test_degradation for the same run's status codes)."""
    from .test_degradation import run_with_unreachable_services

    out = run_with_unreachable_services(
        db_url=f"postgres://meshboard:{DB_PASSWORD}@127.0.0.1:1/meshboard",
        redis_url=f"redis://:{REDIS_PASSWORD}@127.0.0.1:1/0",
    )
    assert out["readyz"]["status"] == 500 and out["page"]["status"] == 500
    blob = str(out) + out["stderr"]
    assert "Traceback" in out["stderr"], "the 500 was logged (so the check looked at a real log)"
    assert DB_PASSWORD not in blob and REDIS_PASSWORD not in blob
    assert DB_PASSWORD[-10:] not in blob and REDIS_PASSWORD[-10:] not in blob
    assert os.environ.get("DATABASE_URL", "x") not in (DB_PASSWORD,)
