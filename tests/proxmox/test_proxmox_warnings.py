"""The runbook's Talos v1.8 image is flagged with the reason; the right one is not."""

from __future__ import annotations

import pytest

from cozyplan_proxmox.cozystack import image_warnings

FACTORY = "https://factory.talos.dev/image/376567988ad3/{v}/nocloud-amd64.raw.zst"


@pytest.mark.parametrize("version", ["v1.8.0", "v1.8.3", "v1.9.5"])
def test_old_talos_images_are_flagged(version: str) -> None:
    (warning,) = image_warnings(FACTORY.format(v=version), f"talos-{version}.raw")
    assert version in warning and "v1.10.6" in warning


@pytest.mark.parametrize(
    ("url", "filename"),
    [
        (FACTORY.format(v="v1.10.6"), "talos-v1.10.6-nocloud-amd64.raw"),
        (FACTORY.format(v="v1.11.0"), "talos-v1.11.0.raw"),
        ("https://cloud-images.ubuntu.com/jammy/current/jammy-1.8.img", "ubuntu-22.04.img"),
    ],
)
def test_current_or_other_images_are_not(url: str, filename: str) -> None:
    assert image_warnings(url, filename) == []
