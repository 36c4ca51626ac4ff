"""Settings come from the environment, fail loudly, and are production-safe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "MESHBOARD_ENV": "production",
    "SECRET_KEY": "x7Lq!v9#pR2wT8zK4mN6bC1dF3gH5jY0uE-aS_oIqWeRtYuIoPaSdFgHjKl",
    "ALLOWED_HOSTS": "meshboard.example.com",
    "DATABASE_URL": "postgres://meshboard@db.example.com:5432/meshboard",
    "REDIS_URL": "redis://redis.example.com:6379/0",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    drop = (
        "MESHBOARD_",
        "SECRET_KEY",
        "DEBUG",
        "DATABASE_URL",
        "REDIS_URL",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_passes_check_deploy_with_production_settings() -> None:
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_refuses_production_without_secrets() -> None:
    env = {"MESHBOARD_ENV": "production"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    for name in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"):
        assert name in result.stderr


def test_it_fails_loudly_on_a_bad_boolean() -> None:
    result = _manage("check", env={"DEBUG": "treu", "DATABASE_URL": PRODUCTION_ENV["DATABASE_URL"]})
    assert result.returncode != 0 and "DEBUG" in result.stderr


def test_it_refuses_a_non_postgres_database() -> None:
    result = _manage("check", env={"DATABASE_URL": "mysql://u@h/db"})
    assert result.returncode != 0 and "PostgreSQL only" in result.stderr


def test_it_documents_every_setting_in_env_example() -> None:
    import re

    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    source = (ROOT / "meshboard" / "settings.py").read_text()
    used = set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', source))
    assert used - documented == set()


def test_it_describes_the_compose_stack() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "postgres", "redis", "migrate", "kubesim"} <= set(services)
    image = services["web"]["image"]
    assert all(services[s]["image"] == image for s in ("worker", "beat", "migrate"))
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "redis-cli" in " ".join(services["redis"]["healthcheck"]["test"])
    for s in ("web", "worker", "beat"):
        deps = services[s]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["migrate"]["condition"] == "service_completed_successfully"
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1
    assert "healthz" in " ".join(services["web"]["healthcheck"]["test"])
    # the back-filled demo runs after the clusters are registered
    assert services["demo"]["command"] == ["demo"]
    demo_after = services["demo"]["depends_on"]["register-clusters"]["condition"]
    assert demo_after == "service_completed_successfully"


def test_it_builds_the_image_the_way_the_readme_installs() -> None:
    """No Docker engine here: check that the Dockerfile's steps match the README's install
    (same project, no embedded extra) and that every role the compose file uses exists."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "pip install -e '.[embedded]'" in readme
    assert "RUN pip install .\n" in dockerfile  # the same project, without the embedded servers
    for path in ("meshboard", "adoption", "kubesim", "templates", "static", "manage.py"):
        assert f"COPY {path}" in dockerfile, path
    assert "USER 10001" in dockerfile and "collectstatic" in dockerfile
    start = (ROOT / "deploy" / "docker" / "start").read_text()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    roles = {s["command"][0] for s in compose["services"].values() if s.get("command")}
    for role in roles - {"python"}:
        assert f"  {role})" in start, role
