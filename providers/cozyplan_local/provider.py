from __future__ import annotations

from cozyplan.provider import EmptyConfig, Provider
from cozyplan_local.command import LocalCommand
from cozyplan_local.file import LocalFile
from cozyplan_local.null import NullResource


class LocalProvider(Provider[EmptyConfig]):
    """Files and commands on the machine running cozyplan."""

    name = "local"
    config_model = EmptyConfig
    resource_types = (LocalFile, LocalCommand)


class NullProvider(Provider[EmptyConfig]):
    """``null_resource``: nothing real, only triggers and an id (Terraform's null provider)."""

    name = "null"
    config_model = EmptyConfig
    resource_types = (NullResource,)
