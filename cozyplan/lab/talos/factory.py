"""What the lab knows of Talos images: which system extensions a booted disk image carries.

Image Factory names an image by its schematic id (sha256 of the schematic YAML as go-yaml
marshals it, siderolabs/image-factory ``pkg/schematic``); the lab recognises the vanilla
schematic and CozyStack v0.37.2's, read from the profile the talos provider ships (found by
path: the lab never imports a provider). A node runs the kernel modules its image's extensions
bring, whatever ``machine.install.image`` says: a booted disk is never reinstalled.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from functools import cache
from pathlib import Path

from ruamel.yaml import YAML

VANILLA_ID = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
#: kernel modules only a system extension provides (the rest are in Talos's kernel)
EXTENSION_MODULES = {
    "siderolabs/drbd": ("drbd", "drbd_transport_tcp"),
    "siderolabs/zfs": ("zfs", "spl"),
}
_ID = re.compile(r"(?<![0-9a-f])([0-9a-f]{64})(?![0-9a-f])")
_PROFILE = ("data", "cozystack-v0.37.2-nocloud.yaml")


def schematic_id(extensions: tuple[str, ...]) -> str:
    """The factory's id of a schematic with only official extensions."""
    if not extensions:
        text = "customization: {}\n"
    else:
        items = "".join(f"            - {e}\n" for e in extensions)
        text = "customization:\n    systemExtensions:\n        officialExtensions:\n" + items
    return hashlib.sha256(text.encode()).hexdigest()


def _cozystack_extensions() -> tuple[str, ...] | None:
    spec = importlib.util.find_spec("cozyplan_talos")  # locates, does not import
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent.joinpath(*_PROFILE)
    try:
        doc = YAML(typ="safe", pure=True).load(path.read_text())
        refs = [str(x["imageRef"]) for x in doc["input"]["systemExtensions"]]
    except (OSError, KeyError, TypeError):
        return None
    return tuple(r.split("@", 1)[0].rsplit(":", 1)[0].removeprefix("ghcr.io/") for r in refs)


@cache
def known_schematics() -> dict[str, tuple[str, ...]]:
    known: dict[str, tuple[str, ...]] = {VANILLA_ID: ()}
    cozy = _cozystack_extensions()
    if cozy is not None:
        known[schematic_id(cozy)] = cozy
    return known


def schematic_in(text: str) -> str | None:
    found = _ID.search(text)
    return found.group(1) if found else None


def extensions_of(*names: str) -> tuple[str | None, tuple[str, ...] | None]:
    """(schematic id, extensions) of the first name or URL that carries a schematic id."""
    for name in names:
        sid = schematic_in(name)
        if sid is not None:
            return sid, known_schematics().get(sid)
    return None, None


def missing_modules(extensions: tuple[str, ...], modules: list[str]) -> list[str]:
    """Modules the config loads that no extension of the image provides."""
    provided = {m for ext in extensions for m in EXTENSION_MODULES.get(ext, ())}
    needs_ext = {m for mods in EXTENSION_MODULES.values() for m in mods}
    return [m for m in modules if m in needs_ext and m not in provided]
