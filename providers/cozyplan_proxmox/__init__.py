"""cozyplan provider ``proxmox``: Proxmox VE through proxmoxer's HTTPS backend + API token.

Resources: ``proxmox_image``, ``proxmox_vm_template``, ``proxmox_vm``, ``proxmox_api_token``.
"""

from cozyplan_proxmox.image import ImageResource
from cozyplan_proxmox.provider import ProxmoxProvider
from cozyplan_proxmox.template import TemplateResource
from cozyplan_proxmox.token import TokenResource
from cozyplan_proxmox.vm import VmResource

ProxmoxProvider.resource_types = (ImageResource, TemplateResource, VmResource, TokenResource)

__all__ = [
    "ImageResource",
    "ProxmoxProvider",
    "TemplateResource",
    "TokenResource",
    "VmResource",
]
