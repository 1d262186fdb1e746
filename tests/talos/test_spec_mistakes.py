"""Each Talos mistake written into a copy of the main spec fails or warns in validate/plan with
the real system's words (issue 11, "Done when")."""

from __future__ import annotations

from pathlib import Path

import pytest

from cozyplan_talos import schematic
from tests.conftest import Project

MAIN = Path(__file__).resolve().parents[2] / "specs" / "cozystack.yaml"
VANILLA = f"https://factory.talos.dev/image/{schematic.VANILLA_ID}/v1.10.6/nocloud-amd64.qcow2"


def _copy(project: Project, *edits: tuple[str, str]) -> Path:
    text = MAIN.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    spec = project.dir / "specs" / "cozystack.yaml"
    spec.parent.mkdir(exist_ok=True)
    spec.write_text(text)
    return spec


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ('vip: "${var.vip}"', "vip: 10.0.0.300"),
            '[networking.os.device.vip] failed to parse "10.0.0.300" as IP address',
        ),
        (
            ('node_subnet: "${var.node_subnet}"', "node_subnet: 10.0.0/33"),
            'etcd advertised subnet is not valid: "10.0.0/33"',
        ),
        (
            (
                "cp_addresses: {default: [10.0.0.201, 10.0.0.202",
                "cp_addresses: {default: [../../x, 10.0.0.202",
            ),
            "'../../x' is not an IP address or DNS host name",
        ),
        (
            (
                "talos_image_schematic.cozystack: {}",
                "talos_image_schematic.cozystack:\n    extensions: [siderolabs/drbd, 'yes']",
            ),
            "extension 'yes' is not a plain name",
        ),
    ],
)
def test_invalid_settings_fail_validate_or_plan(
    project: Project, edit: tuple[str, str], message: str
) -> None:
    spec = _copy(project, edit)
    out = project.sh("validate", "-f", str(spec))
    if out.returncode == 0:  # some checks need the plan (values from other resources)
        out = project.sh("plan", "-f", str(spec), "--lab", "--lab-dir", str(project.dir / "lab"))
    assert out.returncode != 0
    assert message in out.stderr, out.stdout + out.stderr


def test_vanilla_image_and_single_node_endpoint_warn_at_plan(project: Project) -> None:
    spec = _copy(
        project,
        ('url: "${talos_image_schematic.cozystack.image_url}"', f'url: "{VANILLA}"'),
        ('    vip: "${var.vip}"\n', ""),
        (
            'endpoint: {default: "https://10.0.0.200:6443"}',
            'endpoint: {default: "https://10.0.0.201:6443"}',
        ),
    )
    out = project.sh("plan", "-f", str(spec), "--lab", "--lab-dir", str(project.dir / "lab"))
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout + out.stderr
    assert "a booted disk never runs the install image" in text
    assert "lacks siderolabs/drbd, siderolabs/zfs" in text
    assert "names one address and no vip is set" in text
    # the spec as shipped plans without any of these
    clean = project.sh("plan", "-f", str(MAIN), "--lab", "--lab-dir", str(project.dir / "lab2"))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "Warning: talos_" not in clean.stdout + clean.stderr
