"""kubesim: a Kubernetes API simulator with a seeded, evolving fleet of Istio clusters.

The meshboard app never imports this package; it connects through the kubeconfig kubesim writes.
"""

from kubesim.fleet import Fleet
from kubesim.spec import ClusterSpec, TruthRow, demo_clusters

__all__ = ["ClusterSpec", "Fleet", "TruthRow", "demo_clusters"]
