"""The ConfigMap cozy-system/cozystack from typed keys, and the guest device of a data disk."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from cozyplan_cozystack.configmap import CozystackConfigMap, known_keys, unknown_key_problems
from cozyplan_cozystack.devices import guest_device


def test_data_is_what_cozystack_reads() -> None:
    cm = CozystackConfigMap.model_validate(
        {
            "bundle-name": "paas-full",
            "root-host": "example.org",
            "api-server-endpoint": "https://10.0.0.201:6443",
            "bundle-enable": ["nfs-driver", "velero"],
            "bundle-disable": "metallb, kubevirt",  # the ConfigMap's own comma form
            "telemetry-enabled": "false",
            "cpu-allocation-ratio": 10,
            "values-cilium": {"cilium": {"debug": True}},
        }
    )
    data = cm.data()
    assert data["bundle-enable"] == "nfs-driver,velero"
    assert data["bundle-disable"] == "metallb,kubevirt"
    assert data["telemetry-enabled"] == "false"
    assert data["cpu-allocation-ratio"] == "10"
    assert yaml.safe_load(data["values-cilium"]) == {"cilium": {"debug": True}}
    assert "cluster-domain" not in data  # unset: the bundle's default cozy.local applies
    assert cm.effective_cluster_domain() == "cozy.local"
    assert all(isinstance(v, str) for v in data.values())


def test_typed_values_are_checked() -> None:
    with pytest.raises(ValidationError, match="https URL"):
        CozystackConfigMap.model_validate({"api-server-endpoint": "10.0.0.201:6443"})
    with pytest.raises(ValidationError, match="not an IPv4 CIDR"):
        CozystackConfigMap.model_validate({"ipv4-pod-cidr": "10.244.0.0/33"})


def test_unknown_keys_name_the_fix() -> None:
    problems = dict(unknown_key_problems({"bundle": "x", "root_host": "y", "values-x": {}}))
    assert "the key is `bundle-name`" in problems["bundle"]
    assert "did you mean `root-host`?" in problems["root_host"]
    assert "values-x" not in problems
    assert "bundle-name" in known_keys() and "values-x" not in known_keys()


def test_guest_device_of_a_slot() -> None:
    disks = [{"slot": "scsi0"}, {"slot": "scsi1"}]
    assert guest_device(disks, "scsi1") == "/dev/sdb"
    assert guest_device([{"slot": "virtio0"}, {"slot": "virtio2"}], "virtio2") == "/dev/vdb"
    with pytest.raises(ValueError, match="has no disk scsi1"):
        guest_device([{"slot": "scsi0"}], "scsi1")
