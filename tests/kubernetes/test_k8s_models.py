"""Model rules: one source per k8s_manifest, Secret values kept apart (sensitive), checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cozyplan import registry
from cozyplan.provider import ProviderContext
from cozyplan_kubernetes import KubernetesConfig, KubernetesProvider, checks
from cozyplan_kubernetes.objects import ObjectRef
from cozyplan_kubernetes.resources.check import CheckModel, K8sCheck
from cozyplan_kubernetes.resources.manifest import K8sManifest, ManifestModel

SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db", "namespace": "demo"},
    "stringData": {"password": "s3cr3t-value"},
}


def test_secret_values_move_to_the_sensitive_field_and_back() -> None:
    m = ManifestModel(manifest=SECRET)
    assert m.manifest is not None and "stringData" not in m.manifest
    assert m.secret_data == {"stringData": {"password": "s3cr3t-value"}}
    assert m.full() == SECRET
    assert K8sManifest.schema().sensitive_at(("secret_data", "stringData", "password"))
    assert ManifestModel.model_validate(m.model_dump()) == m


def test_exactly_one_source() -> None:
    with pytest.raises(ValidationError, match="exactly one of manifest, file or content"):
        ManifestModel()
    with pytest.raises(ValidationError, match="the manifest has no kind"):
        ManifestModel(manifest={"apiVersion": "v1", "metadata": {"name": "x"}})


def test_single_document_content_is_the_manifest() -> None:
    m = ManifestModel(content="apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n")
    assert m.manifest == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}


def test_split_instances_one_per_document_taken_literally(tmp_path: Path) -> None:
    (tmp_path / "all.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: demo}\n"
        "data: {tpl: 'hello ${name}'}\n"
    )
    split = K8sManifest.split_instances({"file": "all.yaml", "force_conflicts": True}, tmp_path)
    assert split is not None
    assert list(split) == ["Namespace/demo", "ConfigMap/demo/c"]
    assert split["ConfigMap/demo/c"]["force_conflicts"] is True
    assert split["ConfigMap/demo/c"]["manifest"]["data"]["tpl"] == "hello $${name}"
    assert K8sManifest.split_instances({"manifest": SECRET}, tmp_path) is None
    with pytest.raises(ValueError, match=r"missing\.yaml"):
        K8sManifest.split_instances({"file": "missing.yaml"}, tmp_path)


def test_every_registered_check_is_a_field() -> None:
    fields = set(CheckModel.model_fields)
    assert set(checks.REGISTRY) <= fields
    for name, ctype in checks.REGISTRY.items():
        assert CheckModel.model_fields[name].annotation == ctype.params | None


def test_k8s_types_belong_to_the_kubernetes_provider() -> None:
    assert registry.provider_name_of("k8s_manifest") == "kubernetes"
    assert registry.resource_class("k8s_check") is K8sCheck
    assert registry.provider_name_of("talos_node") == "talos"


def test_an_update_is_the_same_object_unless_its_identity_changes() -> None:
    res = K8sManifest(KubernetesProvider(KubernetesConfig(namespace="apps"), ProviderContext()))
    web = ObjectRef("apps/v1", "Deployment", "web")
    assert res._same_object(web, ObjectRef("apps/v1", "Deployment", "web", "apps"))
    assert res._same_object(web, ObjectRef("apps/v1beta2", "Deployment", "web"))
    assert not res._same_object(web, ObjectRef("apps/v1", "Deployment", "web", "other"))
    assert not res._same_object(web, ObjectRef("apps/v1", "Deployment", "api"))
    assert not res._same_object(web, ObjectRef("apps/v1", "StatefulSet", "web"))
