"""Built-in ``local`` and ``null`` providers: Terraform's local_file, null_resource, local-exec."""

from cozyplan_local.provider import LocalProvider, NullProvider

__all__ = ["LocalProvider", "NullProvider"]
