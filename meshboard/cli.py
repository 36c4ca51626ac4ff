"""The ``meshboard`` command.

- ``meshboard quickstart``: embedded Postgres + Redis (when DATABASE_URL/REDIS_URL are unset),
  the kubesim fleet, migrations, a demo login, then web + Celery worker + beat under honcho.
  Ctrl-C stops every process it started.
- ``meshboard analyze FILE_OR_DIR...``: classify Kubernetes manifests like ``istioctl analyze``.
- anything else is a Django management command (``meshboard migrate``, ``meshboard shell``...).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _secret_file(path: Path, nbytes: int = 24) -> str:
    if not path.exists():
        path.write_text(secrets.token_urlsafe(nbytes), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def quickstart(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="meshboard quickstart", description=quickstart.__doc__)
    parser.add_argument(
        "--data-dir", default=os.environ.get("MESHBOARD_DATA_DIR", "meshboard-data")
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--speed",
        type=float,
        default=1440.0,
        help="simulated seconds per real second (default: a day per minute)",
    )
    parser.add_argument("--interval", type=int, default=30, help="poll interval per cluster (s)")
    args = parser.parse_args(argv)

    if not _port_free(args.host, args.port):
        print(f"error: {args.host}:{args.port} is already in use; pass --port", file=sys.stderr)
        return 2
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meshboard.settings")
    os.environ.setdefault("SECRET_KEY", _secret_file(data_dir / "secret-key", 48))
    os.environ.setdefault("MESHBOARD_BEAT_TICK_SECONDS", "10")

    from meshboard.embedded import ensure_services

    print(f"meshboard quick start — data in {data_dir}", flush=True)
    services = ensure_services(data_dir)
    kubesim_proc: subprocess.Popen[bytes] | None = None
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", interactive=False, verbosity=0)
        password = _secret_file(data_dir / "admin-password", 12)
        _ensure_admin("admin", password)

        kubeconfig = data_dir / "kubeconfig"
        kubeconfig.unlink(missing_ok=True)
        kubesim_proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kubesim",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(_free_port()),
                "--seed",
                str(args.seed),
                "--speed",
                str(args.speed),
                "--kubeconfig",
                str(kubeconfig),
            ],
            cwd=BASE_DIR,
        )
        deadline = time.monotonic() + 60
        while not kubeconfig.exists():
            if kubesim_proc.poll() is not None or time.monotonic() > deadline:
                print("error: kubesim did not start", file=sys.stderr)
                return 1
            time.sleep(0.2)
        call_command("register_clusters", kubeconfig=str(kubeconfig), interval=args.interval)

        url = f"http://{args.host}:{args.port}/"
        print(
            f"\n  meshboard is starting on {url}\n  log in as  admin / {password}\n"
            "  (password kept in "
            + str(data_dir / "admin-password")
            + "); Ctrl-C stops everything\n",
            flush=True,
        )
        return _run_processes(args, data_dir)
    finally:
        if kubesim_proc is not None and kubesim_proc.poll() is None:
            kubesim_proc.send_signal(signal.SIGTERM)
            try:
                kubesim_proc.wait(10)
            except subprocess.TimeoutExpired:
                kubesim_proc.kill()
        services.stop()


def _ensure_admin(username: str, password: str) -> None:
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username=username)
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()


def _run_processes(args: argparse.Namespace, data_dir: Path) -> int:
    from honcho.manager import Manager

    env = dict(os.environ)
    py = sys.executable
    schedule = data_dir / "celerybeat-schedule"
    manager = Manager()
    manager.add_process(
        "web",
        f"{py} -m gunicorn meshboard.wsgi --bind {args.host}:{args.port} --workers 2 --threads 4 "
        "--access-logfile - --graceful-timeout 5",
        env=env,
        cwd=str(BASE_DIR),
    )
    manager.add_process(
        "worker",
        f"{py} -m celery -A meshboard worker --loglevel INFO --concurrency 2",
        env=env,
        cwd=str(BASE_DIR),
    )
    manager.add_process(
        "beat",
        f"{py} -m celery -A meshboard beat --loglevel INFO --schedule {schedule}",
        env=env,
        cwd=str(BASE_DIR),
    )
    manager.loop()
    return int(manager.returncode or 0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "quickstart":
        return quickstart(argv[1:])
    if argv and argv[0] == "analyze":
        from adoption.classify.cli import main as analyze

        return analyze(argv[1:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meshboard.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["meshboard", *argv])
    return 0


if __name__ == "__main__":
    sys.exit(main())
