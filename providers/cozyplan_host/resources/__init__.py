"""The host provider's resource types, one module each."""

from cozyplan_host.resources.command import HostCommand
from cozyplan_host.resources.file import HostFile
from cozyplan_host.resources.git import HostGitCheckout
from cozyplan_host.resources.nexcage import HostNexCage
from cozyplan_host.resources.packages import HostPackages
from cozyplan_host.resources.systemd import HostSystemdUnit

RESOURCE_TYPES = (
    HostPackages,
    HostFile,
    HostGitCheckout,
    HostCommand,
    HostSystemdUnit,
    HostNexCage,
)

__all__ = [
    "RESOURCE_TYPES",
    "HostCommand",
    "HostFile",
    "HostGitCheckout",
    "HostNexCage",
    "HostPackages",
    "HostSystemdUnit",
]
