"""What needs no API server: multi-document expansion, addresses, masking, connection settings."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cozyplan_kubernetes.client import load_configuration
from tests.conftest import Project

OBJECTS = """\
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: demo}
stringData: {password: TOPSECRET-in-a-file}
"""

SPEC = """\
version: 1
variables:
  token: {default: TOPSECRET-variable, sensitive: true}
providers:
  kubernetes: {kubeconfig_path: not-written-yet.kubeconfig}
resources:
  k8s_manifest.base:
    file: objects.yaml
  k8s_secret.app:
    name: app
    namespace: demo
    data: {token: "${var.token}"}
    depends_on: ['k8s_manifest.base["Namespace/demo"]']
"""


def test_a_fresh_plan_needs_no_server_and_makes_one_instance_per_document(
    project: Project,
) -> None:
    project.write(OBJECTS, "objects.yaml")
    project.write(SPEC)
    result = project.run("plan", "--json")
    assert result.exit_code == 0, result.output
    assert "TOPSECRET" not in result.output
    plan = json.loads(result.output)
    addresses = sorted(c["address"] for c in plan["resource_changes"])
    assert addresses == [
        "k8s_manifest.base[Namespace/demo]",
        "k8s_manifest.base[Secret/demo/db]",
        "k8s_secret.app",
    ]
    human = project.run("plan")
    assert human.exit_code == 0 and "TOPSECRET" not in human.output
    assert "secret_data = (sensitive value)" in human.output


def test_a_bad_document_is_a_spec_error_at_the_block(project: Project) -> None:
    project.write("apiVersion: v1\nkind: Namespace\nmetadata: {}\n", "objects.yaml")
    project.write(SPEC)
    result = project.run("plan")
    assert result.exit_code != 0
    assert "cozyplan.yaml:7:3: k8s_manifest.base: objects.yaml: document 1" in result.output
    assert "objects.yaml: document 1: the manifest has no metadata.name" in result.output


CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()


def kubeconfig(server: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "cozy", "cluster": {"server": server, "certificate-authority-data": CA}}
        ],
        "users": [{"name": "admin@cozy", "user": {"token": "abc"}}],
        "contexts": [{"name": "admin@cozy", "context": {"cluster": "cozy", "user": "admin@cozy"}}],
        "current-context": "admin@cozy",
    }


def test_a_remapped_server_is_still_verified_for_its_own_name(tmp_path: Path) -> None:
    cfg, user = load_configuration(
        kubeconfig("https://10.0.0.201:6443"),
        None,
        tmp_path,
        lambda service, host, port: (
            ("127.0.0.201", 40123) if service == "kubernetes" else (host, port)
        ),
    )
    assert cfg.host == "https://127.0.0.201:40123"
    assert cfg.tls_server_name == "10.0.0.201"
    assert cfg.verify_ssl and cfg.ssl_ca_cert
    assert user == "admin@cozy"


def test_an_unmapped_server_is_left_alone(tmp_path: Path) -> None:
    cfg, _ = load_configuration(
        kubeconfig("https://api.example.com:6443"), None, tmp_path, lambda s, h, p: (h, p)
    )
    assert cfg.host == "https://api.example.com:6443"
    assert not cfg.tls_server_name
