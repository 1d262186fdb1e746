"""cozyplan provider ``host``: preparing hosts over SSH (asyncssh), including NexCage.

Resources: ``host_packages``, ``host_file``, ``host_git_checkout``, ``host_command``,
``host_systemd_unit``, ``host_nexcage``. See docs/providers/host.md.
"""

from cozyplan_host.provider import HostProvider
from cozyplan_host.resources import RESOURCE_TYPES

HostProvider.resource_types = RESOURCE_TYPES

__all__ = ["HostProvider"]
