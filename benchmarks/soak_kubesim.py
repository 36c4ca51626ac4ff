"""kubesim with clusters of *mixed* sizes, for `benchmarks/soak.py`.

`python -m kubesim serve --pods N` gives every cluster the same size (``pods_target``), so the
soak runs this thin wrapper instead: the same `kubesim.__main__.main` (same HTTP server, admin
API, kubeconfig and admin-token files), with the cluster list replaced by one `ClusterSpec` per
size given in ``--sizes``::

    python -m benchmarks.soak_kubesim --sizes 200,5000,20000 --prefix soak -- \\
        serve --port 0 --kubeconfig k.yaml --admin-token-file t --seed 1

Cluster names are ``<prefix>-01``, ``<prefix>-02``, … in the order of ``--sizes``. The fleet's
snapshot cache is raised to two per cluster so that no cluster is re-rendered between polls.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import kubesim.__main__ as kubesim_main  # noqa: E402
from kubesim.fleet import Fleet  # noqa: E402
from kubesim.spec import ClusterSpec  # noqa: E402


def specs_for(sizes: list[int], prefix: str) -> list[ClusterSpec]:
    """Production-like clusters (the same variety `kubesim serve --clusters N` builds)."""
    return [
        ClusterSpec(
            name=f"{prefix}-{i + 1:02d}",
            environment="staging" if i % 3 == 2 else "production",
            pods_target=pods,
            metrics_api=i % 3 != 2,
            upgrade_day=30 + 7 * i,
            canary_day=60 + 5 * i,
        )
        for i, pods in enumerate(sizes)
    ]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, rest = argv[:cut], argv[cut + 1 :]
    p = argparse.ArgumentParser(prog="soak_kubesim")
    p.add_argument("--sizes", required=True, help="comma-separated pods per cluster")
    p.add_argument("--prefix", default="soak")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    specs = specs_for(sizes, args.prefix)
    kubesim_main.build_clusters = lambda clusters, pods, no_istio: specs  # type: ignore[assignment]
    # Fleet caches 8 (cluster, day) snapshots by default: with 20 clusters polled round-robin
    # every one would be evicted and re-rendered before its next poll (kubesim CPU, not ours).
    kubesim_main.Fleet = functools.partial(  # type: ignore[misc]
        Fleet, cache_size=max(8, 2 * len(specs))
    )
    return kubesim_main.main(rest or ["serve"])


if __name__ == "__main__":
    sys.exit(main())
