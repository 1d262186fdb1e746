"""Resource models: the spec form of every field, with the schema markers."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from cozyplan.provider import Computed, Noise, RequiresReplace, Sensitive, SpecModel
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


CONTENT_DIRS = {"import": "import", "iso": "iso", "vztmpl": "vztmpl"}
# pve-storage: UPLOAD_IMPORT_EXT_RE_1, ISO_EXT_RE_0, VZTMPL_EXT_RE_1 (and their messages)
_FILENAME_RE = {
    "import": (
        re.compile(r"[a-zA-Z0-9\-.+=_]+\.(ova|qcow2|raw|vmdk)$"),
        "invalid filename or wrong extension",
    ),
    "iso": (re.compile(r"[^/]+\.(iso|img)$", re.IGNORECASE), "wrong file extension"),
    "vztmpl": (re.compile(r"[^/]+\.tar\.(gz|xz|zst|bz2)$"), "wrong file extension"),
}


_PACKED = (".xz", ".gz", ".zst", ".bz2", ".lzo")


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
    compression: Annotated[Literal["gz", "lzo", "zst", "bz2"] | None, R] = Field(
        default=None, description="decompress after download: Proxmox does this only for iso"
    )
    volid: Annotated[str | None, Computed(optional=True)] = Field(
        default=None, description="STORAGE:CONTENT/FILENAME, known at plan time"
    )
    size: Annotated[int | None, Computed()] = None

    @model_validator(mode="after")
    def _as_proxmox_accepts(self) -> ImageModel:
        """What ``download-url`` refuses, refused at validate time in Proxmox's words."""
        if self.compression and self.content != "iso":
            raise ValueError(
                f"decompression not supported for {self.content} (Proxmox VE decompresses "
                "only iso downloads: download an uncompressed .raw/.qcow2 image instead)"
            )
        pattern, message = _FILENAME_RE[self.content]
        if self.filename and not pattern.search(self.filename):
            fix = ""
            if self.content == "import" and self.filename.endswith(_PACKED):
                fix = (
                    ": Proxmox VE stores an import download as fetched (it decompresses only "
                    "iso, and never xz), so a compressed image cannot be imported; download the "
                    "uncompressed .raw or .qcow2 (the Talos Image Factory serves both)"
                )
            raise ValueError(f"filename: {message} (content {self.content}){fix}")
        if (self.checksum is None) != (self.checksum_algorithm is None):
            raise ValueError("checksum and checksum_algorithm go together")
        volid = f"{self.storage}:{CONTENT_DIRS[self.content]}/{self.filename}"
        if self.volid is not None and self.volid != volid:
            raise ValueError(f"volid is always {volid} for this storage, content and filename")
        self.volid = volid
        return self


class TemplateModel(SpecModel):
    node: Annotated[str, R] = "pve"
    vmid: Annotated[int, R] = Field(ge=100)
    name: Annotated[str, R]
    cores: Annotated[int, R] = 2
    sockets: Annotated[int, R] = 1
    memory: Annotated[int, R] = Field(default=2048, description="MiB")
    cpu: Annotated[str | None, R] = Field(
        default="host", description="CPU type; unset means kvm64, on which Talos never boots"
    )
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
    cpu: str | None = Field(default="host", description="CPU type (null: keep the template's)")
    agent: bool | None = None
    disks: Disks = Field(default_factory=list)
    net: Nets = Field(default_factory=list)
    tags: Tags = Field(default_factory=list)
    ipconfig0: str | None = Field(default=None, description="cloud-init: ip=CIDR,gw=IP")
    nameserver: str | None = None
    cloudinit: bool | None = Field(
        default=None,
        description="a cloud-init drive (ipconfig0/nameserver reach the guest only through "
        "one); default: attached when ipconfig0 or nameserver is set",
    )
    cloudinit_storage: str | None = Field(
        default=None, description="storage of the cloud-init drive (default: the VM's disks')"
    )
    extra: dict[str, str] = Field(default_factory=dict)
    started: bool = True
    reboot: Literal["after_change", "never"] = Field(
        default="after_change",
        description="a running VM takes memory/cores/cpu changes only on a reboot: reboot it "
        "(one VM at a time) after the change, or leave the change pending",
    )
    agent_timeout: float = Field(default=60.0, description="max seconds to wait for the agent")
    ipv4_addresses: Annotated[list[str] | None, Computed(optional=True)] = None
    pending: Annotated[list[str], Computed(), Noise()] = Field(
        default_factory=list, description="config keys waiting for a reboot"
    )

    @model_validator(mode="after")
    def _cloudinit_default(self) -> VmModel:
        if self.cloudinit is None and (self.ipconfig0 or self.nameserver):
            self.cloudinit = True
        return self


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
