"""Secrets and machine configs: pure computation, checked by parsing what was rendered."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from cozyplan_talos import machineconfig, patch, secrets, talosconfig, yamlio
from cozyplan_talos.pki import CertAndKey, load_private_key


@pytest.fixture(scope="module")
def bundle() -> secrets.Bundle:
    return secrets.generate()


def _render(bundle: secrets.Bundle, mtype: str = "controlplane", **kw: Any) -> dict[str, Any]:
    inp = machineconfig.Inputs("cozy", "https://10.0.0.201:6443", mtype, **kw)
    doc: dict[str, Any] = yamlio.load(machineconfig.render(bundle, inp))
    return doc


def _cert(b64: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(base64.b64decode(b64))


def test_secrets_key_types_follow_talos(bundle: secrets.Bundle) -> None:
    assert isinstance(bundle.os.private_key(), ed25519.Ed25519PrivateKey)
    for pair in (bundle.k8s, bundle.etcd, bundle.k8s_aggregator):
        assert isinstance(pair.private_key(), ec.EllipticCurvePrivateKey)
    assert isinstance(load_private_key(bundle.k8s_service_account_key), ec.EllipticCurvePrivateKey)
    assert b"ED25519 PRIVATE KEY" in bundle.os.key
    assert len(bundle.bootstrap_token) == 23 and bundle.bootstrap_token[6] == "."
    assert len(base64.b64decode(bundle.secretbox_secret)) == 32


def test_secrets_yaml_round_trip_and_rejects_broken(bundle: secrets.Bundle) -> None:
    assert secrets.Bundle.from_yaml(bundle.to_yaml()) == bundle
    broken = yamlio.load(bundle.to_yaml())
    del broken["trustdinfo"]
    broken["certs"]["os"]["crt"] = "bm90IGEgY2VydA=="
    with pytest.raises(ValueError) as err:
        secrets.Bundle.from_yaml(yamlio.dump(broken))
    assert "trustdinfo.token is required" in str(err.value)
    assert "certs.os is invalid" in str(err.value)


def test_controlplane_carries_cozystack_patches(bundle: secrets.Bundle) -> None:
    doc = _render(bundle, install_disk="/dev/vda")
    net = doc["cluster"]["network"]
    assert net["cni"] == {"name": "none"}
    assert net["podSubnets"] == ["10.244.0.0/16"]
    assert net["serviceSubnets"] == ["10.96.0.0/16"]
    assert net["dnsDomain"] == "cozy.local"
    assert doc["cluster"]["proxy"]["disabled"] is True
    assert doc["cluster"]["allowSchedulingOnControlPlanes"] is True
    modules = {m["name"] for m in doc["machine"]["kernel"]["modules"]}
    assert {"drbd", "zfs", "openvswitch"} <= modules
    assert doc["machine"]["install"] == {
        "disk": "/dev/vda",
        "image": "ghcr.io/cozystack/cozystack/talos:v1.10.6",
        "wipe": False,
    }
    assert doc["machine"]["type"] == "controlplane"
    assert doc["cluster"]["controlPlane"]["endpoint"] == "https://10.0.0.201:6443"


def test_worker_has_no_ca_keys(bundle: secrets.Bundle) -> None:
    doc = _render(bundle, "worker")
    assert doc["machine"]["type"] == "worker"
    assert doc["machine"]["ca"]["key"] == "" and doc["cluster"]["ca"]["key"] == ""
    assert "etcd" not in doc["cluster"] and "allowSchedulingOnControlPlanes" not in doc["cluster"]
    assert doc["cluster"]["network"]["cni"] == {"name": "none"}


def test_certificates_chain_to_generated_cas(bundle: secrets.Bundle) -> None:
    doc = _render(bundle)
    for path, ca in (
        (("machine", "ca"), bundle.os),
        (("cluster", "ca"), bundle.k8s),
        (("cluster", "etcd", "ca"), bundle.etcd),
        (("cluster", "aggregatorCA"), bundle.k8s_aggregator),
    ):
        node: Any = doc
        for p in path:
            node = node[p]
        cert = _cert(node["crt"])
        assert cert == ca.certificate()
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        cert.verify_directly_issued_by(cert)  # self-signed CA
    client = talosconfig.credentials(talosconfig.render(bundle, "cozy", ["10.0.0.201"], []))
    leaf = x509.load_pem_x509_certificate(client.crt)
    leaf.verify_directly_issued_by(bundle.os.certificate())
    assert isinstance(leaf.public_key(), ed25519.Ed25519PublicKey)
    orgs = [a.value for a in leaf.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)]
    assert orgs == ["os:admin"]
    assert client.ca == bundle.os.crt
    CertAndKey(client.crt, client.key).private_key()


def test_user_patches_strategic_merge(bundle: secrets.Bundle) -> None:
    doc = _render(
        bundle,
        patches=(
            "machine:\n  network:\n    hostname: cp1\n  kernel:\n    modules:\n      - name: drbd\n"
            "        parameters: [usermode_helper=disabled, x=1]\n      - name: vfio_pci\n",
            {
                "cluster": {
                    "network": {"podSubnets": ["10.200.0.0/16"]},
                    "discovery": {"$patch": "delete"},
                }
            },
        ),
    )
    assert doc["machine"]["network"]["hostname"] == "cp1"
    modules = {m["name"]: m for m in doc["machine"]["kernel"]["modules"]}
    assert "vfio_pci" in modules and "openvswitch" in modules
    assert modules["drbd"]["parameters"][-1] == "x=1"
    assert doc["cluster"]["network"]["podSubnets"] == ["10.200.0.0/16"]  # replaced, not appended
    assert "discovery" not in doc["cluster"]


@pytest.mark.parametrize(
    ("bad_patch", "message"),
    [
        ({"cluster": {"network": {"serviceSubnets": ["10.244.0.0/20"]}}}, "overlaps"),
        ({"cluster": {"network": {"cni": {"name": "weave"}}}}, "cni.name"),
        ({"cluster": {"controlPlane": {"endpoint": "http://x"}}}, "https URL"),
        ("- op: add\n  path: /x\n", "JSON patches"),
    ],
)
def test_invalid_configs_are_rejected(bundle: secrets.Bundle, bad_patch: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _render(bundle, patches=(bad_patch,))


def test_patch_merge_keeps_inputs_untouched() -> None:
    base = {"a": {"b": [1]}, "c": 1}
    out = patch.merge(base, {"a": {"b": [2]}, "c": {"$patch": "delete"}})
    assert out == {"a": {"b": [1, 2]}}
    assert base == {"a": {"b": [1]}, "c": 1}
