"""cozyplan: a declarative, state-reconciling engine for CozyStack on Proxmox VE."""

__version__ = "0.1.0"
