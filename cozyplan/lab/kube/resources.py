"""The API's resource types: group/version/kind, plural, scope, verbs, short names, subresources.

Built-in types are listed here; CustomResourceDefinitions add theirs at runtime (``crd.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cozyplan.lab.kube.errors import GroupResource

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: list[str] = field(default_factory=list)
    subresources: tuple[str, ...] = ()
    categories: list[str] = field(default_factory=list)
    verbs: list[str] = field(default_factory=lambda: list(VERBS))
    #: for custom resources: the CRD's version entry (schema, printer columns)
    crd_version: dict[str, Any] | None = None
    singular: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def gr(self) -> GroupResource:
        return GroupResource(self.group, self.plural)

    @property
    def custom(self) -> bool:
        return self.crd_version is not None

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    def singular_name(self) -> str:
        return self.singular or self.kind.lower()


def _rt(
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    sub: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    verbs: list[str] | None = None,
) -> ResourceType:
    return ResourceType(
        group,
        version,
        kind,
        plural,
        namespaced,
        list(short),
        sub,
        list(categories),
        list(verbs) if verbs is not None else list(VERBS),
    )


_ALL = ("all",)
BUILTINS: list[ResourceType] = [
    _rt(
        "",
        "v1",
        "Namespace",
        "namespaces",
        False,
        ("ns",),
        ("status",),
        verbs=["create", "delete", "get", "list", "patch", "update", "watch"],
    ),
    _rt("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    _rt("", "v1", "Secret", "secrets"),
    _rt("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    _rt(
        "",
        "v1",
        "Service",
        "services",
        True,
        ("svc",),
        ("status",),
        _ALL,
        verbs=["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
    ),
    _rt("", "v1", "Pod", "pods", True, ("po",), ("status", "log"), _ALL),
    _rt("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",), ("status",)),
    _rt("", "v1", "PersistentVolume", "persistentvolumes", False, ("pv",), ("status",)),
    _rt("", "v1", "Node", "nodes", False, ("no",), ("status",)),
    _rt("", "v1", "Event", "events", True, ("ev",)),
    _rt("", "v1", "Endpoints", "endpoints", True, ("ep",)),
    _rt("apps", "v1", "Deployment", "deployments", True, ("deploy",), ("status", "scale"), _ALL),
    _rt("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), ("status",), _ALL),
    _rt("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), ("status", "scale"), _ALL),
    _rt("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), ("status", "scale"), _ALL),
    _rt("batch", "v1", "Job", "jobs", True, (), ("status",), _ALL),
    _rt("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _rt("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _rt("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _rt("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _rt("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",)),
    _rt("coordination.k8s.io", "v1", "Lease", "leases"),
    _rt("events.k8s.io", "v1", "Event", "events", True, ("ev",)),
    _rt(
        "apiregistration.k8s.io",
        "v1",
        "APIService",
        "apiservices",
        False,
        (),
        ("status",),
        ("api-extensions",),
    ),
    _rt(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
        ("status",),
        ("api-extensions",),
    ),
]

#: the group versions listed by /apis, in kube-apiserver's priority order
GROUP_ORDER = [
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "batch",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "coordination.k8s.io",
    "apiextensions.k8s.io",
]
