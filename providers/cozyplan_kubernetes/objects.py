"""Object identity: instance keys (``Kind/namespace/name``), import ids, multi-document YAML."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError


@dataclass(frozen=True)
class ObjectRef:
    api_version: str
    kind: str
    name: str
    namespace: str | None = None

    @property
    def key(self) -> str:
        """The instance key of one document: ``Kind/namespace/name`` (``Kind/name`` if cluster-
        scoped)."""
        return "/".join(p for p in (self.kind, self.namespace, self.name) if p)

    @property
    def import_id(self) -> str:
        return "/".join(p for p in (self.api_version, self.kind, self.namespace, self.name) if p)


class ManifestError(ValueError):
    """A manifest that is not a Kubernetes object."""


def ref_of(obj: Any) -> ObjectRef:
    if not isinstance(obj, dict):
        raise ManifestError(f"a manifest must be a map, got {type(obj).__name__}")
    meta = obj.get("metadata")
    missing = [
        f
        for f, v in (
            ("apiVersion", obj.get("apiVersion")),
            ("kind", obj.get("kind")),
            ("metadata.name", meta.get("name") if isinstance(meta, dict) else None),
        )
        if not isinstance(v, str) or not v
    ]
    if missing:
        raise ManifestError(f"the manifest has no {', '.join(missing)}")
    assert isinstance(meta, dict)
    ns = meta.get("namespace")
    return ObjectRef(obj["apiVersion"], obj["kind"], meta["name"], str(ns) if ns else None)


def parse_import_id(text: str) -> ObjectRef:
    """``[group/]version/Kind/[namespace/]name``: ``v1/Namespace/demo``,
    ``apps/v1/Deployment/demo/web``, ``v1/ConfigMap/demo/settings``."""
    parts = [p for p in text.strip().split("/")]
    if any(not p for p in parts) or len(parts) < 3:
        raise ValueError(
            "expected [group/]version/Kind/[namespace/]name, e.g. apps/v1/Deployment/demo/web"
        )
    # the kind is the first capitalised part after the version
    for i, part in enumerate(parts[1:3], start=1):
        if part[:1].isupper():
            api_version = "/".join(parts[:i])
            rest = parts[i + 1 :]
            if len(rest) == 1:
                return ObjectRef(api_version, part, rest[0])
            if len(rest) == 2:
                return ObjectRef(api_version, part, rest[1], rest[0])
            break
    raise ValueError(
        "expected [group/]version/Kind/[namespace/]name, e.g. apps/v1/Deployment/demo/web"
    )


def split_documents(text: str, source: str) -> dict[str, dict[str, Any]]:
    """Every object of a multi-document YAML text, by instance key (empty documents skipped)."""
    yaml = YAML(typ="safe", pure=True)
    try:
        docs = list(yaml.load_all(io.StringIO(text)))
    except YAMLError as exc:
        raise ManifestError(f"{source}: not valid YAML: {exc}") from None
    out: dict[str, dict[str, Any]] = {}
    for index, doc in enumerate(docs, start=1):
        if doc is None:
            continue
        if isinstance(doc, dict) and doc.get("kind", "").endswith("List") and "items" in doc:
            items = doc["items"]
        else:
            items = [doc]
        for item in items:
            try:
                ref = ref_of(item)
            except ManifestError as exc:
                raise ManifestError(f"{source}: document {index}: {exc}") from None
            if ref.key in out:
                raise ManifestError(f"{source}: document {index}: {ref.key} appears twice")
            out[ref.key] = item
    return out
