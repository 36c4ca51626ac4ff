"""Running kubesim in a background thread for tests: `with running_kubesim() as sim: ...`."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kubesim.clock import SimClock
from kubesim.faults import Fault
from kubesim.fleet import Fleet
from kubesim.kubeconfig import context_name, write_kubeconfig
from kubesim.server import KubeSim, RequestRecord, serve


@dataclass
class Sim:
    """Handle on a running simulator."""

    app: KubeSim
    url: str
    kubeconfig_path: Path

    @property
    def fleet(self) -> Fleet:
        return self.app.fleet

    @property
    def cluster_names(self) -> list[str]:
        return self.app.fleet.cluster_names

    @property
    def admin_token(self) -> str:
        return self.app.admin_token

    @property
    def request_log(self) -> list[RequestRecord]:
        return self.app.request_log

    def token(self, cluster: str) -> str:
        return self.app.tokens[cluster]

    def context(self, cluster: str) -> str:
        return context_name(cluster)

    def cluster_url(self, cluster: str) -> str:
        return f"{self.url}/clusters/{cluster}"

    def now(self) -> datetime:
        return self.app.clock.now()

    def set_time(self, at: datetime) -> None:
        self.app.set_time(at)

    def set_speed(self, speed: float) -> None:
        self.app.set_speed(speed)

    def add_fault(self, fault: str, **kw: Any) -> Fault:
        return self.app.add_fault(fault, **kw)

    def clear_faults(self) -> None:
        self.app.clear_faults()


@contextmanager
def running_kubesim(
    fleet: Fleet | None = None,
    *,
    speed: float = 0.0,
    start: datetime | None = None,
    continue_ttl: float = 300.0,
    host: str = "127.0.0.1",
    port: int = 0,
    kubeconfig_dir: str | Path | None = None,
) -> Iterator[Sim]:
    """Serve `fleet` (default: the demo fleet, seed 42) on a free port until the block exits.

    The clock starts at `start` (default: fleet epoch + 60 days) and runs at `speed`
    (0 = frozen, the default for tests).
    """
    fleet = fleet or Fleet(42)
    clock = SimClock(start or fleet.start_of_day(60), speed=speed)
    app = KubeSim(fleet, clock=clock, continue_ttl=continue_ttl)
    server = serve(app, host, port)
    url = f"http://{host}:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, name="kubesim", daemon=True)
    thread.start()
    tmp = tempfile.TemporaryDirectory(prefix="kubesim-") if kubeconfig_dir is None else None
    directory = Path(tmp.name if tmp else str(kubeconfig_dir))
    try:
        path = write_kubeconfig(directory / "kubeconfig", url, app.tokens)
        yield Sim(app=app, url=url, kubeconfig_path=path)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        if tmp:
            tmp.cleanup()
