"""The capmox resources offline: field checks, validation against the spec, privilege
warnings, the objects they write, and which provider owns the types."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from cozyplan import registry
from cozyplan.cli.app import main as cli_main
from cozyplan_capmox import objects, privileges
from cozyplan_capmox.models import AclEntry, ClusterModel, CredentialsModel, CsiModel
from cozyplan_capmox.resources.cluster import ProxmoxClusterResource
from cozyplan_capmox.resources.csi import ProxmoxCsi

EXAMPLE = Path(__file__).parents[2] / "specs" / "examples" / "capmox.yaml"
CRED = {"url": "https://10.0.0.1:8006", "token": "capmox@pve!capmox", "secret": "s3cret"}


def test_credentials_url_must_not_end_in_api2_json() -> None:
    with pytest.raises(ValidationError, match="capmox appends /api2/json itself"):
        CredentialsModel.model_validate({**CRED, "url": "https://10.0.0.1:8006/api2/json"})


@pytest.mark.parametrize("key", ["token_id", "token_secret"])
def test_credentials_reject_the_runbooks_keys(key: str) -> None:
    with pytest.raises(ValidationError, match=f"unknown key '{key}'"):
        CredentialsModel.model_validate({**CRED, key: "x"})


def test_credentials_token_must_be_a_full_token_id() -> None:
    with pytest.raises(ValidationError, match="user@realm!tokenid"):
        CredentialsModel.model_validate({**CRED, "token": "capmox"})


def test_credentials_secret_always_says_insecure() -> None:
    """capmox treats an unset ``insecure`` as true: cozyplan always writes it."""
    m = CredentialsModel.model_validate({**CRED, "root_ca": "PEM"})
    data = {k: base64.b64decode(v).decode() for k, v in objects.credentials(m)["data"].items()}
    assert data == {
        "url": "https://10.0.0.1:8006",
        "token": "capmox@pve!capmox",
        "secret": "s3cret",
        "insecure": "false",
        "root_ca": "PEM",
    }


def test_csi_url_must_end_in_api2_json() -> None:
    with pytest.raises(ValidationError, match="must end in /api2/json"):
        CsiModel.model_validate(
            {"region": "r", "url": "https://h:8006", "token_id": "a@pve!b", "token_secret": "x"}
        )


def test_csi_config_and_storage_class() -> None:
    m = CsiModel.model_validate(
        {
            "region": "pve-lab",
            "url": "https://10.0.0.1:8006/api2/json",
            "token_id": "csi@pve!csi",
            "token_secret": "x",
            "nodes": {"cozy-cp1": {"zone": "pve"}},
            "storage_classes": {"proxmox-lvm": {"storage": "local-lvm", "ssd": True}},
        }
    )
    objs = {o["kind"] + "/" + o["metadata"]["name"]: o for o in objects.csi_objects(m)}
    config = yaml.safe_load(
        base64.b64decode(objs["Secret/proxmox-csi-plugin"]["data"]["config.yaml"]).decode()
    )
    assert config == {
        "clusters": [
            {
                "url": "https://10.0.0.1:8006/api2/json",
                "insecure": False,
                "token_id": "csi@pve!csi",
                "token_secret": "x",
                "region": "pve-lab",
            }
        ]
    }
    sc = objs["StorageClass/proxmox-lvm"]
    assert sc["provisioner"] == "csi.proxmox.sinextra.dev"
    assert sc["parameters"] == {
        "csi.storage.k8s.io/fstype": "ext4",
        "storage": "local-lvm",
        "ssd": "true",
    }
    ns = objs["Namespace/csi-proxmox"]["metadata"]["labels"]
    assert ns["pod-security.kubernetes.io/enforce"] == "privileged"
    labels = objects.node_labels(m, "cozy-cp1")["metadata"]["labels"]
    assert labels == {
        "topology.kubernetes.io/region": "pve-lab",
        "topology.kubernetes.io/zone": "pve",
    }


def test_machine_template_has_the_agentless_checks() -> None:
    m = ClusterModel.model_validate(
        {
            "name": "w",
            "control_plane_endpoint": "10.0.0.201:6443",
            "allowed_nodes": ["pve"],
            "ipv4_addresses": ["10.0.0.100-10.0.0.120"],
            "gateway": "10.0.0.1",
            "dns_servers": ["10.0.0.1"],
            "credentials": "capmox-system/capmox-credentials",
            "workers": {"replicas": 2, "source_node": "pve", "template_id": 9100},
        }
    )
    by_kind = {o["kind"]: o for o in objects.cluster_objects(m)}
    spec = by_kind["ProxmoxMachineTemplate"]["spec"]["template"]["spec"]
    assert spec["checks"] == {"skipQemuGuestAgent": True, "skipCloudInitStatus": True}
    assert spec["templateID"] == 9100
    assert by_kind["MachineDeployment"]["spec"]["replicas"] == 2
    assert by_kind["Cluster"]["spec"]["infrastructureRef"]["kind"] == "ProxmoxCluster"
    assert by_kind["ProxmoxCluster"]["spec"]["credentialsRef"] == {
        "name": "capmox-credentials",
        "namespace": "capmox-system",
    }


def test_the_capmox_provider_owns_the_proxmox_cluster_types() -> None:
    assert registry.provider_name_of("proxmox_cluster") == "capmox"
    assert registry.provider_name_of("proxmox_csi") == "capmox"
    assert registry.provider_name_of("proxmox_vm") == "proxmox"


# ---- privileges ----------------------------------------------------------------------------
FULL = [AclEntry(path="/", roles=["PVEVMAdmin", "PVEDatastoreAdmin", "PVESDNUser", "PVEAuditor"])]


def _cluster_planned(acl: list[AclEntry]) -> dict[str, object]:
    return {
        "token_acl": [a.model_dump() for a in acl],
        "workers": {
            "template_id": 9100,
            "source_node": "pve",
            "storage": "local-lvm",
            "bridge": "vmbr0",
        },
    }


def test_no_warning_for_a_token_that_can_do_everything() -> None:
    res = ProxmoxClusterResource.__new__(ProxmoxClusterResource)
    assert res.plan_warnings(_cluster_planned(FULL)) == []


def test_a_token_without_sdn_use_is_warned_with_proxmoxs_message() -> None:
    acl = [AclEntry(path="/", roles=["PVEVMAdmin", "PVEDatastoreAdmin", "PVEAuditor"])]
    res = ProxmoxClusterResource.__new__(ProxmoxClusterResource)
    warnings = res.plan_warnings(_cluster_planned(acl))
    assert len(warnings) == 1
    assert "Permission check failed (/sdn/zones/localnetwork/vmbr0, SDN.Use)" in warnings[0]


def test_a_deeper_acl_entry_replaces_what_is_inherited() -> None:
    """AccessControl::roles: NoAccess on /vms/9100 takes away VM.Clone given on /."""
    acl = [*FULL, AclEntry(path="/vms/9100", roles=["NoAccess"])]
    missing = privileges.missing(acl, privileges.capmox_needs(9100, None, "vmbr0", "pve"))
    assert [(n.path, n.privilege) for n in missing] == [("/vms/9100", "VM.Clone")]


def test_csi_needs_datastore_allocate() -> None:
    acl = [AclEntry(path="/", roles=["PVEVMAdmin", "PVEDatastoreUser"])]
    res = ProxmoxCsi.__new__(ProxmoxCsi)
    warnings = res.plan_warnings(
        {"token_acl": [a.model_dump() for a in acl], "storage_classes": {"x": {"storage": "lvm"}}}
    )
    assert any("Datastore.Allocate on /storage/lvm" in w for w in warnings)


# ---- validate ------------------------------------------------------------------------------
def _validate(tmp_path: Path, text: str) -> str:
    from click.testing import CliRunner

    (tmp_path / "spec.yaml").write_text(textwrap.dedent(text))
    result = CliRunner().invoke(cli_main, ["validate", "-f", str(tmp_path / "spec.yaml")])
    return result.output


def test_the_example_is_valid(tmp_path: Path) -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(cli_main, ["validate", "-f", str(EXAMPLE)])
    assert result.exit_code == 0, result.output


def test_validate_reports_a_retyped_template_id_and_pool_overlaps(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    text = text.replace(
        'template_id: "${proxmox_vm_template.talos.vmid}"', "template_id: 9100"
    ).replace("ipv4_addresses: [10.0.0.100-10.0.0.120]", "ipv4_addresses: [10.0.0.160-10.0.0.210]")
    text = text.replace('zone: "${proxmox_vm.cp[cp1].node}"', "zone: pve")
    out = _validate(tmp_path, text)
    assert "workers.template_id" in out and "not a retyped number" in out
    assert "contains the node address proxmox_vm.cp[cp1] 10.0.0.201" in out
    assert "overlaps the MetalLB pool 10.0.0.150-10.0.0.180" in out
    assert "nodes.cozy-cp1.zone" in out and "do not retype it" in out
