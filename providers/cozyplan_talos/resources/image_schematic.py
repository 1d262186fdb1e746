"""``talos_image_schematic``: an Image Factory schematic id from an extension list (pure).

Users name extensions (``siderolabs/drbd``), cozyplan computes the id the factory gives that
schematic and the disk image URL, a download file name carrying the id, and the matching
installer image, so the boot image and ``machine.install.image`` cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import model_validator

from cozyplan.provider import (
    ApplyContext,
    Change,
    Computed,
    PlanError,
    Resource,
    SpecModel,
    contains_unknown,
)
from cozyplan_talos import schematic, versions
from cozyplan_talos.provider import TalosProvider

ImageFormat = Literal["qcow2", "raw.xz", "raw.zst", "raw.gz", "iso"]


class SchematicModel(SpecModel):
    #: official extensions; unset = the ten CozyStack v0.37.2 builds in (drbd, zfs, lldpd, ...)
    extensions: list[str] | None = None
    extra_kernel_args: list[str] = []
    talos_version: str = versions.COZYSTACK_TALOS_TEXT
    platform: str = "nocloud"
    arch: Literal["amd64", "arm64"] = "amd64"
    #: qcow2 by default: Proxmox decompresses downloads only for ISO content
    image_format: ImageFormat = "qcow2"
    # computed from the fields above when the model is built, so they are known at plan time
    # (other resources' plans, e.g. a download's volume id, can use them)
    id: Annotated[str | None, Computed(optional=True)] = None
    image_url: Annotated[str | None, Computed(optional=True)] = None
    #: ``talos-VERSION-ID-PLATFORM-ARCH.FORMAT``: the id in the name lets anyone (and the lab)
    #: tell what a downloaded disk image carries
    image_filename: Annotated[str | None, Computed(optional=True)] = None
    installer_image: Annotated[str | None, Computed(optional=True)] = None

    @model_validator(mode="after")
    def _outputs(self) -> SchematicModel:
        sid = _schematic(self.extensions, self.extra_kernel_args).id
        fmt, ver, plat = self.image_format, self.talos_version, self.platform
        self.id = sid
        self.image_url = schematic.image_url(sid, ver, plat, self.arch, fmt)
        self.image_filename = f"talos-{ver}-{sid}-{plat}-{self.arch}.{fmt}"
        self.installer_image = schematic.installer_image(sid, ver, plat)
        return self


def _schematic(extensions: Sequence[str] | None, args: Sequence[str]) -> schematic.Schematic:
    exts = schematic.cozystack_extensions() if extensions is None else tuple(extensions)
    return schematic.Schematic(extensions=exts, extra_kernel_args=tuple(args))


class TalosImageSchematic(Resource[TalosProvider, SchematicModel]):
    type_name = "talos_image_schematic"
    model = SchematicModel
    description = (
        "Computes an Image Factory schematic id from system extensions, with the disk image URL "
        "and the installer image of that schematic. Pure computation."
    )
    crash_marker = False  # nothing outside the state

    def check_plan(self, prior: SchematicModel | None, planned: Mapping[str, Any]) -> None:
        exts, args = planned.get("extensions"), planned.get("extra_kernel_args") or []
        if contains_unknown(exts) or contains_unknown(args):
            return
        try:
            _schematic(exts, args).serialise()
        except ValueError as exc:
            raise PlanError(str(exc)) from None

    def _computed(self, m: SchematicModel) -> SchematicModel:
        return SchematicModel.model_validate(m.model_dump())  # outputs from the inputs

    async def read(self, current: SchematicModel) -> SchematicModel | None:
        return current

    async def create(self, planned: SchematicModel, ctx: ApplyContext) -> SchematicModel:
        return self._computed(planned)

    async def update(
        self,
        prior: SchematicModel,
        planned: SchematicModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> SchematicModel:
        return self._computed(planned)

    async def delete(self, prior: SchematicModel, ctx: ApplyContext) -> None:
        return None
