"""Object identity: instance keys, import ids, multi-document YAML."""

from __future__ import annotations

import pytest

from cozyplan_kubernetes.objects import (
    ManifestError,
    ObjectRef,
    parse_import_id,
    ref_of,
    split_documents,
)


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("v1/Namespace/demo", ObjectRef("v1", "Namespace", "demo")),
        ("v1/ConfigMap/demo/settings", ObjectRef("v1", "ConfigMap", "settings", "demo")),
        ("apps/v1/Deployment/demo/web", ObjectRef("apps/v1", "Deployment", "web", "demo")),
        (
            "apiextensions.k8s.io/v1/CustomResourceDefinition/widgets.example.com",
            ObjectRef("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com"),
        ),
    ],
)
def test_import_ids(text: str, ref: ObjectRef) -> None:
    assert parse_import_id(text) == ref
    assert parse_import_id(ref.import_id) == ref


@pytest.mark.parametrize(
    "bad", ["", "Deployment/web", "apps/v1/deployment/web", "v1//x", "a/b/c/d/e/f"]
)
def test_bad_import_ids(bad: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        parse_import_id(bad)


def test_keys() -> None:
    assert ObjectRef("apps/v1", "Deployment", "web", "demo").key == "Deployment/demo/web"
    assert ObjectRef("v1", "Namespace", "demo").key == "Namespace/demo"


def test_split_documents_keys_each_object_and_skips_empty_ones() -> None:
    text = """
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
---
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: demo}}
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: b, namespace: demo}}
"""
    docs = split_documents(text, "objects.yaml")
    assert list(docs) == ["Namespace/demo", "ConfigMap/demo/a", "ConfigMap/demo/b"]


ONE = "{apiVersion: v1, kind: A, metadata: {name: x}}\n"


def test_split_documents_errors_name_the_document() -> None:
    no_kind = "{apiVersion: v1, metadata: {name: y}}\n"
    with pytest.raises(ManifestError, match=r"objects.yaml: document 2: the manifest has no kind"):
        split_documents(f"{ONE}---\n{no_kind}", "objects.yaml")
    with pytest.raises(ManifestError, match="appears twice"):
        split_documents(f"{ONE}---\n{ONE}", "f")
    with pytest.raises(ManifestError, match="not valid YAML"):
        split_documents("a: [", "f")


def test_ref_of_requires_identity() -> None:
    with pytest.raises(ManifestError, match=r"metadata.name"):
        ref_of({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
