"""Core kinds: Namespace, ConfigMap, Secret, Service, Node, Event."""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from cozyplan.lab.kube.errors import FieldError, forbidden, invalid, required, unsupported
from cozyplan.lab.kube.strategies.base import Column, Obj, Strategy, age


class NamespaceStrategy(Strategy):
    namespace_name = True
    field_labels = {"status.phase"}

    def defaults(self, obj: Obj) -> None:
        name = obj["metadata"].get("name", "")
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name

    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Active"}
        obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]

    def spec_changed(self, old: Obj, new: Obj) -> bool:
        return False

    def columns(self) -> list[Column]:
        return [("Name", "string", "name"), ("Status", "string", "")]

    def cells(self, obj: Obj) -> list[Any]:
        return [obj["metadata"]["name"], obj.get("status", {}).get("phase", "")]


class ConfigMapStrategy(Strategy):
    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        if old is None or not old.get("immutable"):
            return []
        out = []
        for field in ("data", "binaryData"):
            if old.get(field) != obj.get(field):
                out.append(forbidden(field, "field is immutable when `immutable` is set"))
        if not obj.get("immutable"):
            out.append(forbidden("immutable", "field is immutable when `immutable` is set"))
        return out

    def columns(self) -> list[Column]:
        return [("Name", "string", "name"), ("Data", "string", "")]

    def cells(self, obj: Obj) -> list[Any]:
        return [
            obj["metadata"]["name"],
            len(obj.get("data") or {}) + len(obj.get("binaryData") or {}),
        ]


class SecretStrategy(Strategy):
    field_labels = {"type"}

    def defaults(self, obj: Obj) -> None:
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.setdefault("data", {})
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode()).decode()

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        out = []
        for k, v in (obj.get("data") or {}).items():
            try:
                base64.b64decode(str(v), validate=True)
            except (binascii.Error, ValueError):
                out.append(invalid(f"data[{k}]", "<secret contents redacted>", "illegal base64"))
        if old is not None and old.get("type") != obj.get("type"):
            out.append(invalid("type", obj.get("type"), "field is immutable"))
        if old is not None and old.get("immutable") and old.get("data") != obj.get("data"):
            out.append(forbidden("data", "field is immutable when `immutable` is set"))
        return out

    def columns(self) -> list[Column]:
        return [("Name", "string", "name"), ("Type", "string", ""), ("Data", "string", "")]

    def cells(self, obj: Obj) -> list[Any]:
        return [obj["metadata"]["name"], obj.get("type", ""), len(obj.get("data") or {})]


class ServiceStrategy(Strategy):
    namespace_name = True

    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {"loadBalancer": {}}

    def defaults(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                p.setdefault("targetPort", p.get("port"))
        if spec["type"] != "ExternalName" and not spec.get("clusterIP"):
            digest = hashlib.sha256(
                f"{obj['metadata'].get('namespace')}/{obj['metadata'].get('name')}".encode()
            ).digest()
            ip = f"10.96.{digest[0]}.{max(1, digest[1] % 255)}"
            spec["clusterIP"], spec["clusterIPs"] = ip, [ip]

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        spec = obj.get("spec") or {}
        types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
        out = []
        if spec.get("type") not in types:
            out.append(unsupported("spec.type", spec.get("type"), types))
        if (
            spec.get("type") != "ExternalName"
            and not spec.get("ports")
            and spec.get("clusterIP") != "None"
        ):
            out.append(required("spec.ports"))
        if old is not None:
            old_ip = (old.get("spec") or {}).get("clusterIP")
            if old_ip and spec.get("clusterIP") != old_ip:
                out.append(
                    invalid("spec.clusterIPs[0]", spec.get("clusterIP"), "may not change once set")
                )
        return out

    def columns(self) -> list[Column]:
        return [
            ("Name", "string", "name"),
            ("Type", "string", ""),
            ("Cluster-IP", "string", ""),
            ("External-IP", "string", ""),
            ("Port(s)", "string", ""),
        ]

    def cells(self, obj: Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress)
        if not external:
            external = "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"
        ports = ",".join(
            f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []
        )
        return [
            obj["metadata"]["name"],
            spec.get("type"),
            spec.get("clusterIP", ""),
            external,
            ports or "<none>",
        ]


class NodeStrategy(Strategy):
    field_labels = {"spec.unschedulable"}
    age_column = False  # NAME STATUS ROLES AGE VERSION

    def columns(self) -> list[Column]:
        return [
            ("Name", "string", "name"),
            ("Status", "string", ""),
            ("Roles", "string", ""),
            ("Age", "string", ""),
            ("Version", "string", ""),
        ]

    def cells(self, obj: Obj) -> list[Any]:
        st = obj.get("status") or {}
        ready: Obj = next((c for c in st.get("conditions", []) if c.get("type") == "Ready"), {})
        status = "Ready" if ready.get("status") == "True" else "NotReady"
        labels = obj["metadata"].get("labels") or {}
        roles = ",".join(
            sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
        )
        version = (st.get("nodeInfo") or {}).get("kubeletVersion", "")
        return [obj["metadata"]["name"], status, roles or "<none>", age(obj), version]

    def wide_columns(self) -> list[Column]:
        return [
            ("Internal-IP", "string", ""),
            ("External-IP", "string", ""),
            ("OS-Image", "string", ""),
            ("Kernel-Version", "string", ""),
            ("Container-Runtime", "string", ""),
        ]

    def wide_cells(self, obj: Obj) -> list[Any]:
        st = obj.get("status") or {}
        ips = {a.get("type"): a.get("address") for a in st.get("addresses") or []}
        info = st.get("nodeInfo") or {}
        return [
            ips.get("InternalIP", "<none>"),
            ips.get("ExternalIP", "<none>"),
            info.get("osImage", ""),
            info.get("kernelVersion", ""),
            info.get("containerRuntimeVersion", ""),
        ]


class EventStrategy(Strategy):
    field_labels = {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    }

    age_column = False

    def columns(self) -> list[Column]:
        return [
            ("Last Seen", "string", ""),
            ("Type", "string", ""),
            ("Reason", "string", ""),
            ("Object", "string", ""),
            ("Message", "string", ""),
        ]

    def cells(self, obj: Obj) -> list[Any]:
        involved = obj.get("involvedObject") or {}
        last = {
            "metadata": {
                "creationTimestamp": obj.get("lastTimestamp")
                or obj["metadata"].get("creationTimestamp")
            }
        }
        return [
            age(last),
            obj.get("type", ""),
            obj.get("reason", ""),
            f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
            obj.get("message", ""),
        ]
