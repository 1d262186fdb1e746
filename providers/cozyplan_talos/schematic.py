"""Image Factory schematics: the id of an extension list, and the image and installer it names.

The Image Factory (siderolabs/image-factory ``pkg/schematic``) identifies a schematic by the
sha256 of its YAML as go-yaml marshals the ``Schematic`` struct: 4-space indents, sequences
indented under their key, empty fields omitted, ``customization`` always present (so the
vanilla schematic is ``sha256("customization: {}\\n")``). Field order is the struct's:
``extraKernelArgs`` before ``systemExtensions.officialExtensions``. Extensions keep the order
given (the id depends on it, as the factory's does).

A disk image that has booted counts as installed (Talos ``Installed()`` finds its META
partition), so ``machine.install.image`` never replaces the boot image's extensions: the image
a VM boots from must already carry them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from cozyplan_talos import yamlio

FACTORY = "factory.talos.dev"
VANILLA_ID = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
#: CozyStack v0.37.2's image profile (packages/core/installer/images/talos/profiles/)
COZYSTACK_PROFILE = "cozystack-v0.37.2-nocloud.yaml"
#: what CozyStack's installer image and nocloud asset are built from
COZYSTACK_INSTALLER = "ghcr.io/cozystack/cozystack/talos"

#: names go-yaml writes without quotes (no YAML 1.1/1.2 keyword, number or indicator)
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./=,:+-]*$")
_KEYWORDS = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"}
_ID = re.compile(r"\b([0-9a-f]{64})\b")
_FACTORY_IMAGE = re.compile(
    r"^https://" + re.escape(FACTORY) + r"/image/([0-9a-f]{64})/(v[0-9][^/]*)/([^/]+)$"
)
_FACTORY_INSTALLER = re.compile(
    re.escape(FACTORY) + r"/(?:[a-z0-9-]+-)?installer(?:-secureboot)?/([0-9a-f]{64}):(v\S+)$"
)


def _plain(value: str, what: str) -> str:
    if not _PLAIN.match(value) or value.lower() in _KEYWORDS or value.endswith(":"):
        raise ValueError(
            f"{what} {value!r} is not a plain name (letters, digits and ._/=,:+- only)"
        )
    return value


@dataclass(frozen=True)
class Schematic:
    extensions: tuple[str, ...] = ()
    extra_kernel_args: tuple[str, ...] = ()

    def serialise(self) -> str:
        """The YAML the Image Factory hashes (go-yaml ``Marshal`` of its struct)."""
        custom: list[str] = []
        if self.extra_kernel_args:
            custom.append("    extraKernelArgs:")
            custom += [f"        - {_plain(a, 'kernel argument')}" for a in self.extra_kernel_args]
        if self.extensions:
            custom.append("    systemExtensions:")
            custom.append("        officialExtensions:")
            custom += [f"            - {_plain(e, 'extension')}" for e in self.extensions]
        if not custom:
            return "customization: {}\n"
        return "customization:\n" + "\n".join(custom) + "\n"

    @property
    def id(self) -> str:
        return hashlib.sha256(self.serialise().encode()).hexdigest()


def image_url(schematic_id: str, version: str, platform: str, arch: str, fmt: str) -> str:
    """The factory's disk image, e.g. ``.../image/ID/v1.10.6/nocloud-amd64.qcow2``."""
    return f"https://{FACTORY}/image/{schematic_id}/{version}/{platform}-{arch}.{fmt}"


def installer_image(schematic_id: str, version: str, platform: str) -> str:
    """The factory installer for the same schematic (Talos >= 1.10 names the platform)."""
    return f"{FACTORY}/{platform}-installer/{schematic_id}:{version}"


def factory_image(url: str) -> tuple[str, str] | None:
    """(schematic id, Talos version) of a factory disk image URL, else None."""
    found = _FACTORY_IMAGE.match(url.strip())
    return (found.group(1), found.group(2)) if found else None


def factory_installer(image: str) -> tuple[str, str] | None:
    """(schematic id, Talos version) of a factory installer reference, else None."""
    found = _FACTORY_INSTALLER.search(image.strip())
    return (found.group(1), found.group(2)) if found else None


def id_in(text: str) -> str | None:
    """A schematic id embedded in a file name or URL (cozyplan names downloads with it)."""
    found = _ID.search(text)
    return found.group(1) if found else None


@cache
def cozystack_extensions() -> tuple[str, ...]:
    """The official extensions CozyStack v0.37.2 builds into its nocloud image, in its order.

    Read from CozyStack's own profile (``ghcr.io/siderolabs/drbd:9.2.14-v1.10.6@sha256:...``
    becomes ``siderolabs/drbd``), never retyped.
    """
    text = resources.files("cozyplan_talos.data").joinpath(COZYSTACK_PROFILE).read_text()
    doc = yamlio.load(text)
    names = []
    for item in doc["input"]["systemExtensions"]:
        ref = str(item["imageRef"]).split("@", 1)[0].rsplit(":", 1)[0]
        names.append(ref.removeprefix("ghcr.io/"))
    return tuple(names)


def cozystack_schematic() -> Schematic:
    return Schematic(extensions=cozystack_extensions())


def known_extensions(schematic_id: str) -> tuple[str, ...] | None:
    """Extensions of a schematic cozyplan can name without asking the factory."""
    if schematic_id == VANILLA_ID:
        return ()
    if schematic_id == cozystack_schematic().id:
        return cozystack_extensions()
    return None
