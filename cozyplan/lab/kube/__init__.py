"""The lab's Kubernetes API server (one per bootstrapped cluster)."""

from cozyplan.lab.kube.simulator import KubeSimulator

__all__ = ["KubeSimulator"]
