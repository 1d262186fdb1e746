"""Does the image a node boots from carry what its config expects? (plan warnings)

Talos treats a booted disk image as installed (``v1alpha1_state.go`` ``Installed()`` finds the
META partition), so the sequencer skips the install phase and ``machine.install.image`` is
only used by a later ``talosctl upgrade``: the extensions a node runs are the boot image's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cozyplan_talos import schematic

#: CozyStack publishes its nocloud disk image with each release (hack/upload-assets.sh)
_COZYSTACK_ASSET = re.compile(
    r"github\.com/cozystack/cozystack/releases/download/(v[^/]+)/nocloud-amd64\.raw\.xz$"
)
#: what CozyStack's kernel modules (machine.kernel.modules) need from the image
REQUIRED_FOR_COZYSTACK = ("siderolabs/drbd", "siderolabs/zfs")


@dataclass(frozen=True)
class ImageContents:
    """What an image reference tells: its schematic id (if any) and extensions (if known)."""

    label: str
    schematic_id: str | None
    extensions: tuple[str, ...] | None


def boot_contents(image: str) -> ImageContents:
    if _COZYSTACK_ASSET.search(image):
        return ImageContents(
            "CozyStack's nocloud image",
            schematic.cozystack_schematic().id,
            schematic.cozystack_extensions(),
        )
    found = schematic.factory_image(image)
    sid = found[0] if found else schematic.id_in(image)
    if sid is None:
        return ImageContents(image, None, None)
    return ImageContents(f"schematic {sid[:12]}", sid, schematic.known_extensions(sid))


def install_contents(image: str) -> ImageContents:
    repo = image.split("@", 1)[0].rsplit(":", 1)[0]
    if repo == schematic.COZYSTACK_INSTALLER:
        return ImageContents(
            "CozyStack's installer",
            schematic.cozystack_schematic().id,
            schematic.cozystack_extensions(),
        )
    found = schematic.factory_installer(image)
    if found is not None:
        sid = found[0]
        return ImageContents(f"schematic {sid[:12]}", sid, schematic.known_extensions(sid))
    if repo == "ghcr.io/siderolabs/installer":
        return ImageContents("the vanilla installer", schematic.VANILLA_ID, ())
    return ImageContents(image, None, None)


def _names(exts: tuple[str, ...]) -> str:
    return ", ".join(e.removeprefix("siderolabs/") for e in exts) or "no extensions"


def warnings(boot_image: str, install_image: str, cozystack: bool) -> list[str]:
    boot = boot_contents(boot_image)
    inst = install_contents(install_image)
    out: list[str] = []
    differ = (
        boot.schematic_id is not None
        and inst.schematic_id is not None
        and boot.schematic_id != inst.schematic_id
    )
    if differ:
        out.append(
            f"install_image {install_image} ({inst.label}: "
            f"{_names(inst.extensions) if inst.extensions is not None else 'unknown extensions'})"
            f" disagrees with the boot image {boot_image} ({boot.label}: "
            f"{_names(boot.extensions) if boot.extensions is not None else 'unknown extensions'})"
            "; a booted disk never runs the install image (Talos counts it as installed), so "
            "the node keeps the boot image's extensions until `talosctl upgrade`: boot an image "
            "of the same schematic (talos_image_schematic computes both)"
        )
    if cozystack and boot.extensions is not None:
        missing = [e for e in REQUIRED_FOR_COZYSTACK if e not in boot.extensions]
        if missing:
            out.append(
                f"the boot image {boot_image} ({boot.label}) lacks {', '.join(missing)}: "
                "CozyStack loads the drbd and zfs kernel modules (LINSTOR), which Talos then "
                "cannot find; boot CozyStack's image or a schematic with its extensions"
            )
    return out
