"""Image Factory schematic ids, the boot/install image agreement and CozyStack's Talos settings."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cozyplan.provider import ApplyContext, PlanError
from cozyplan_talos import TalosProvider, images, machineconfig, schematic, secrets, yamlio
from cozyplan_talos.resources import TalosImageSchematic, TalosMachineConfig

COZY_INSTALLER = "ghcr.io/cozystack/cozystack/talos:v1.10.6"
VANILLA_URL = (
    f"https://factory.talos.dev/image/{schematic.VANILLA_ID}/v1.10.6/nocloud-amd64.raw.zst"
)


@pytest.mark.parametrize(
    ("exts", "args", "expected"),
    [
        # siderolabs/image-factory pkg/schematic TestID "empty" and "config1"
        ((), (), "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"),
        (
            (),
            ("noapic", "nolapic"),
            "9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c",
        ),
        # the schematic Talos's Proxmox guide gives for the qemu guest agent
        (
            ("siderolabs/qemu-guest-agent",),
            (),
            "ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515",
        ),
    ],
)
def test_schematic_id_is_the_factorys(
    exts: tuple[str, ...], args: tuple[str, ...], expected: str
) -> None:
    assert schematic.Schematic(extensions=exts, extra_kernel_args=args).id == expected


def test_cozystack_extensions_come_from_its_profile() -> None:
    exts = schematic.cozystack_extensions()
    assert {"siderolabs/drbd", "siderolabs/zfs", "siderolabs/lldpd"} <= set(exts)
    assert len(exts) == 10
    assert schematic.cozystack_schematic().id != schematic.VANILLA_ID
    assert schematic.known_extensions(schematic.cozystack_schematic().id) == exts


def test_a_name_yaml_would_quote_is_refused() -> None:
    with pytest.raises(ValueError, match="not a plain name"):
        schematic.Schematic(extensions=("true",)).serialise()
    with pytest.raises(ValueError, match="not a plain name"):
        schematic.Schematic(extensions=("siderolabs/x: y",)).serialise()


def test_resource_names_image_and_installer_of_one_schematic(tmp_path: Any) -> None:
    from cozyplan.provider import ProviderContext
    from cozyplan_talos import TalosConfig

    res = TalosImageSchematic(TalosProvider(TalosConfig(), ProviderContext(base_dir=tmp_path)))
    made = asyncio.run(res.create(res.parse({}), ApplyContext("t")))
    sid = schematic.cozystack_schematic().id
    assert made.id == sid
    assert made.image_url == f"https://factory.talos.dev/image/{sid}/v1.10.6/nocloud-amd64.qcow2"
    assert made.image_filename == f"talos-v1.10.6-{sid}-nocloud-amd64.qcow2"
    assert made.installer_image == f"factory.talos.dev/nocloud-installer/{sid}:v1.10.6"
    # what the factory's image and installer say agrees, so no warning
    assert images.warnings(made.image_url, made.installer_image, True) == []
    with pytest.raises(PlanError, match="not a plain name"):
        res.check_plan(None, {"extensions": ["no"]})


def test_vanilla_boot_image_with_cozystack_installer_warns() -> None:
    found = images.warnings(VANILLA_URL, COZY_INSTALLER, True)
    assert any("never runs the install image" in w for w in found)
    assert any("lacks siderolabs/drbd, siderolabs/zfs" in w for w in found)
    # CozyStack's own nocloud asset and installer agree
    asset = "https://github.com/cozystack/cozystack/releases/download/v0.37.2/nocloud-amd64.raw.xz"
    assert images.warnings(asset, COZY_INSTALLER, True) == []
    # a file name carrying the cozystack schematic id agrees with CozyStack's installer
    name = f"talos-v1.10.6-{schematic.cozystack_schematic().id}-nocloud-amd64.qcow2"
    assert images.warnings(name, COZY_INSTALLER, True) == []


# -- CozyStack's machine-config settings --------------------------------------------------------
@pytest.fixture(scope="module")
def bundle() -> secrets.Bundle:
    return secrets.generate()


def _render(bundle: secrets.Bundle, mtype: str = "controlplane", **kw: Any) -> dict[str, Any]:
    inp = machineconfig.Inputs("cozy", "https://10.0.0.200:6443", mtype, **kw)
    doc: dict[str, Any] = yamlio.load(machineconfig.render(bundle, inp))
    return doc


def test_controlplane_has_cozystacks_talosctl_settings(bundle: secrets.Bundle) -> None:
    doc = _render(bundle, vip="10.0.0.200", node_subnet="10.0.0.0/24")
    machine, cluster = doc["machine"], doc["cluster"]
    assert "node.kubernetes.io/exclude-from-external-load-balancers" not in machine["nodeLabels"]
    assert machine["network"]["interfaces"] == [{"interface": "eth0", "vip": {"ip": "10.0.0.200"}}]
    assert cluster["etcd"]["advertisedSubnets"] == ["10.0.0.0/24"]
    assert machine["kubelet"]["nodeIP"] == {"validSubnets": ["10.0.0.0/24"]}
    assert cluster["discovery"]["enabled"] is False
    assert machine["sysctls"]["net.ipv4.neigh.default.gc_thresh3"] == "16384"
    modules = [m["name"] for m in machine["kernel"]["modules"]]
    assert {"vfio_pci", "vfio_iommu_type1", "drbd", "zfs"} <= set(modules)
    lvm = next(f for f in machine["files"] if f["path"] == "/etc/lvm/lvm.conf")
    assert lvm["op"] == "overwrite"
    assert (
        'global_filter = [ "r|^/dev/drbd.*|", "r|^/dev/dm-.*|", "r|^/dev/zd.*|" ]' in lvm["content"]
    )


def test_worker_gets_node_subnet_but_no_vip(bundle: secrets.Bundle) -> None:
    doc = _render(bundle, "worker", vip="10.0.0.200", node_subnet="10.0.0.0/24")
    assert doc["machine"]["kubelet"]["nodeIP"] == {"validSubnets": ["10.0.0.0/24"]}
    assert "network" not in doc["machine"] or not doc["machine"]["network"].get("interfaces")
    assert "etcd" not in doc["cluster"] or "advertisedSubnets" not in doc["cluster"]["etcd"]


def test_bad_vip_and_subnets_fail_with_talos_words(bundle: secrets.Bundle) -> None:
    with pytest.raises(ValueError) as err:
        _render(bundle, vip="10.0.0.300", node_subnet="10.0.0/33")
    text = str(err.value)
    assert '[networking.os.device.vip] failed to parse "10.0.0.300" as IP address' in text
    assert 'etcd advertised subnet is not valid: "10.0.0/33"' in text
    assert 'kubelet nodeIP subnet is not valid: "10.0.0/33"' in text


def test_endpoint_without_vip_warns(tmp_path: Any) -> None:
    from cozyplan.provider import ProviderContext
    from cozyplan_talos import TalosConfig

    mc = TalosMachineConfig(TalosProvider(TalosConfig(), ProviderContext(base_dir=tmp_path)))
    base = {"cluster_name": "c", "endpoint": "https://10.0.0.201:6443"}
    assert any("no vip is set" in w for w in mc.plan_warnings(base))
    ok = {
        **base,
        "endpoint": "https://10.0.0.200:6443",
        "vip": "10.0.0.200",
        "node_subnet": "10.0.0.0/24",
    }
    assert mc.plan_warnings(ok) == []
    outside = {**ok, "vip": "10.1.0.200", "endpoint": "https://10.1.0.200:6443"}
    assert mc.plan_warnings(outside) == ["vip 10.1.0.200 is outside node_subnet 10.0.0.0/24"]
    vanilla = {**ok, "boot_image": VANILLA_URL}
    assert any("lacks siderolabs/drbd" in w for w in mc.plan_warnings(vanilla))
