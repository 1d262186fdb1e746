"""Resource models: the spec form of every field, with the schema markers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from cozyplan.provider import Computed, RequiresReplace, Sensitive, SpecModel
from cozyplan_proxmox.normalize import canonical_size, normalize_tags


def _size(value: Any) -> Any:
    if value is None or not isinstance(value, str | int):
        return value
    return canonical_size(value)


Size = Annotated[str, BeforeValidator(_size)]
Tags = Annotated[list[str], BeforeValidator(normalize_tags)]


class Disk(SpecModel):
    slot: str = Field(pattern=r"^(scsi|virtio|sata|ide)\d+$", description="e.g. scsi0")
    storage: str = Field(description="storage of the volume, e.g. local-lvm")
    size: Size | None = Field(default=None, description="e.g. 50G; only grows")
    import_from: str | None = Field(
        default=None, description="volid to import the disk from, e.g. local:import/talos.raw"
    )
    options: dict[str, str] = Field(default_factory=dict, description="discard=on, ssd=1...")


class Net(SpecModel):
    slot: str = Field(default="net0", pattern=r"^net\d+$")
    model: str = "virtio"
    bridge: str = "vmbr0"
    firewall: bool | None = None
    tag: int | None = Field(default=None, description="VLAN tag")
    macaddr: str | None = None


def _by_slot(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda item: item.slot)


Disks = Annotated[list[Disk], AfterValidator(_by_slot)]
Nets = Annotated[list[Net], AfterValidator(_by_slot)]
R = RequiresReplace()


class ImageModel(SpecModel):
    node: Annotated[str, R] = "pve"
    storage: Annotated[str, R] = "local"
    content: Annotated[Literal["import", "iso", "vztmpl"], R] = "import"
    url: Annotated[str, R]
    filename: Annotated[str, R]
    checksum: Annotated[str | None, R] = None
    checksum_algorithm: Annotated[
        Literal["md5", "sha1", "sha224", "sha256", "sha384", "sha512"] | None, R
    ] = None
    compression: Annotated[Literal["gz", "lzo", "zst", "bz2"] | None, R] = None
    volid: Annotated[str | None, Computed()] = None
    size: Annotated[int | None, Computed()] = None


class TemplateModel(SpecModel):
    node: Annotated[str, R] = "pve"
    vmid: Annotated[int, R] = Field(ge=100)
    name: Annotated[str, R]
    cores: Annotated[int, R] = 2
    sockets: Annotated[int, R] = 1
    memory: Annotated[int, R] = Field(default=2048, description="MiB")
    cpu: Annotated[str | None, R] = None
    scsihw: Annotated[str, R] = "virtio-scsi-single"
    agent: Annotated[bool, R] = False
    ostype: Annotated[str | None, R] = "l26"
    disks: Annotated[Disks, R] = Field(default_factory=list)
    net: Annotated[Nets, R] = Field(default_factory=list)
    extra: Annotated[dict[str, str], R] = Field(
        default_factory=dict, description="other qemu config keys, e.g. serial0: socket"
    )


class VmModel(SpecModel):
    node: Annotated[str, R] = "pve"
    vmid: Annotated[int | None, Computed(optional=True), R] = Field(default=None, ge=100)
    name: Annotated[str, R]
    clone: Annotated[int, R] = Field(description="vmid of the template to clone")
    full: Annotated[bool, R] = True
    storage: Annotated[str | None, R] = Field(default=None, description="full clone target")
    cores: int | None = None
    sockets: int | None = None
    memory: int | None = Field(default=None, description="MiB")
    cpu: str | None = None
    agent: bool | None = None
    disks: Disks = Field(default_factory=list)
    net: Nets = Field(default_factory=list)
    tags: Tags = Field(default_factory=list)
    ipconfig0: str | None = Field(default=None, description="cloud-init: ip=CIDR,gw=IP")
    nameserver: str | None = None
    extra: dict[str, str] = Field(default_factory=dict)
    started: bool = True
    agent_timeout: float = Field(default=60.0, description="max seconds to wait for the agent")
    ipv4_addresses: Annotated[list[str] | None, Computed(optional=True)] = None


class AclEntry(SpecModel):
    path: str = "/"
    roles: Annotated[list[str], AfterValidator(sorted)]
    propagate: bool = True


class TokenModel(SpecModel):
    userid: Annotated[str, R] = Field(description="user@realm")
    token_id: Annotated[str, R] = Field(description="token name")
    create_user: bool = Field(default=False, description="create the user when missing")
    privsep: bool = True
    comment: str = ""
    expire: int = 0
    acl: Annotated[list[AclEntry], AfterValidator(lambda v: sorted(v, key=lambda e: e.path))] = (
        Field(default_factory=list)
    )
    full_token_id: Annotated[str | None, Computed()] = None
    value: Annotated[str | None, Computed(), Sensitive()] = None
