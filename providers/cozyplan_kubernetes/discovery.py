"""Which kinds the server serves, per run: ``apiVersion`` + ``kind`` -> plural and scope.

One group-version document (``/api/v1``, ``/apis/apps/v1``) is fetched the first time a kind of
it is needed and kept for the run. A kind that is not served (its CRD is not Established yet)
is looked up again after ``invalidate()``, which the provider calls when it has waited for a
CRD, so a CRD and its first custom objects can be applied in one run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cozyplan.provider import PermanentError
from cozyplan_kubernetes.client import Response
from cozyplan_kubernetes.errors import Request


@dataclass(frozen=True)
class Kind:
    """A served resource type."""

    group_version: str  # "v1", "apps/v1"
    kind: str
    plural: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.group_version.rpartition("/")[0]

    def base_path(self, namespace: str | None) -> str:
        root = "/api" if "/" not in self.group_version else "/apis"
        ns = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        return f"{root}/{self.group_version}{ns}/{self.plural}"

    def path(self, name: str, namespace: str | None) -> str:
        return f"{self.base_path(namespace)}/{name}"


class NotServed(PermanentError):
    """The server does not serve this kind (missing CRD or API group)."""


Fetch = Callable[[str, Request], Response]


class Discovery:
    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._versions: dict[str, dict[str, Kind] | None] = {}

    def invalidate(self) -> None:
        """Forget everything learnt: a CRD became Established (new kinds, maybe new groups)."""
        self._versions.clear()

    def _load(self, group_version: str) -> dict[str, Kind] | None:
        if group_version in self._versions:
            return self._versions[group_version]
        root = "/api" if "/" not in group_version else "/apis"
        resp = self._fetch(
            f"{root}/{group_version}", Request("get", f"API discovery of {group_version}")
        )
        kinds: dict[str, Kind] | None = None
        if resp.status == 200:
            kinds = {}
            for res in resp.body.get("resources") or []:
                name = str(res.get("name", ""))
                if "/" in name or not res.get("kind"):
                    continue  # subresources (deployments/status)
                kinds.setdefault(
                    str(res["kind"]),
                    Kind(group_version, str(res["kind"]), name, bool(res.get("namespaced"))),
                )
        self._versions[group_version] = kinds
        return kinds

    def find(self, api_version: str, kind: str) -> Kind | None:
        kinds = self._load(api_version)
        return None if kinds is None else kinds.get(kind)

    def get(self, api_version: str, kind: str) -> Kind:
        found = self.find(api_version, kind)
        if found is not None:
            return found
        group = api_version.rpartition("/")[0]
        if self._versions.get(api_version) is None:
            hint = (
                f"the API group {group!r} is not served: is the CustomResourceDefinition "
                f"for {kind} (group {group}) installed and Established?"
                if group
                else f"the core API does not serve {api_version}"
            )
        else:
            hint = f"{api_version} is served but has no kind {kind!r}" + (
                f": is the CustomResourceDefinition for {kind} installed?" if group else ""
            )
        raise NotServed(f"{kind} ({api_version}): {hint}")


def describe(kind: str, name: str, namespace: str | None, api_version: str = "") -> str:
    where = f" in namespace {namespace}" if namespace else ""
    prefix = f"{api_version} " if api_version else ""
    return f"{prefix}{kind} {name}{where}"


def doc_get(doc: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc
