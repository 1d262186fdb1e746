"""Property tests: Proxmox's config strings normalise to exactly the spec's form."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cozyplan.lab.proxmox.sizes import format_size
from cozyplan_proxmox.guest import usable_ipv4
from cozyplan_proxmox.models import Disk, VmModel
from cozyplan_proxmox.normalize import canonical_size, size_bytes
from cozyplan_proxmox.qemu import disk_from_config, net_from_config

units = st.sampled_from(["K", "M", "G", "T"])


@given(st.integers(min_value=1, max_value=4096), units)
def test_size_spellings_agree(n: int, unit: str) -> None:
    spelled = f"{n}{unit}"
    assert size_bytes(canonical_size(spelled)) == size_bytes(spelled)
    # what the simulator (and PVE's format_size) writes equals the spec's canonical form
    assert canonical_size(format_size(size_bytes(spelled))) == canonical_size(spelled)


@given(
    st.integers(min_value=1, max_value=2048),
    st.integers(min_value=100, max_value=99999),
    st.dictionaries(
        st.sampled_from(["discard", "ssd", "iothread", "cache"]),
        st.sampled_from(["on", "1", "writeback"]),
        max_size=3,
    ),
)
def test_disk_config_equals_spec(gib: int, vmid: int, options: dict[str, str]) -> None:
    spec = Disk(slot="scsi0", storage="local-lvm", size=f"{gib * 1024}M", options=options)
    opts = "".join(f",{k}={v}" for k, v in options.items())
    value = f"local-lvm:vm-{vmid}-disk-0{opts},size={format_size(gib * 1024**3)}"
    assert disk_from_config("scsi0", value, spec) == spec


def test_net_and_tags_normalise() -> None:
    from cozyplan_proxmox.models import Net

    spec = Net(slot="net0", bridge="vmbr0", firewall=True, tag=20)
    assert (
        net_from_config("net0", "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1,tag=20", spec)
        == spec
    )
    model = VmModel(name="a", clone=1, tags=["Talos", "cozy", "talos"])
    assert model.tags == ["cozy", "talos"]


def test_link_local_and_loopback_are_skipped() -> None:
    reply = {
        "result": [
            {
                "name": "lo",
                "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4"}],
            },
            {
                "name": "eth0",
                "ip-addresses": [
                    {"ip-address": "169.254.3.4", "ip-address-type": "ipv4"},
                    {"ip-address": "fe80::1", "ip-address-type": "ipv6"},
                    {"ip-address": "10.0.0.5", "ip-address-type": "ipv4"},
                ],
            },
        ]
    }
    assert usable_ipv4(reply) == ["10.0.0.5"]
