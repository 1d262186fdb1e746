"""CozyStack on the lab's Kubernetes API server: installer, Flux, apps API, LINSTOR, MetalLB."""

from cozyplan.lab.cozystack.simulator import CozystackSimulator

__all__ = ["CozystackSimulator"]
