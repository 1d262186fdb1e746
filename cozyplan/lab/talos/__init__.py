"""The lab's Talos nodes: a gRPC MachineService per simulated node (see simulator.py)."""

from cozyplan.lab.talos.simulator import TalosSimulator

__all__ = ["TalosSimulator"]
