"""Per-kind behaviour over the one generic store (as kube-apiserver's registry strategies):
defaults, validation, what the main resource and the status subresource may change, when
``metadata.generation`` moves, field selectors and the columns ``kubectl get`` prints."""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import hashlib
from typing import Any

from cozyplan.lab.kube import fieldpath as fp
from cozyplan.lab.kube import names
from cozyplan.lab.kube.errors import FieldError, forbidden, invalid, required, unsupported
from cozyplan.lab.kube.resources import ResourceType

Obj = dict[str, Any]
Column = tuple[str, str, str]  # name, type, format


class Strategy:
    """Defaults for every kind; subclasses add their kind's rules."""

    namespace_name = False  # the name must be a DNS label (not a subdomain)
    age_column = True  # tables end with the object's Age
    generation = False
    field_labels: set[str] = set()

    def __init__(self, rt: ResourceType) -> None:
        self.rt = rt
        if "status" in rt.subresources:
            self.generation = True

    # -- typing -------------------------------------------------------------------------------
    def list_types(self, path: tuple[str, ...]) -> fp.ListType:
        return fp.builtin_list_type(path)

    def supported_field_labels(self) -> set[str]:
        base = {"metadata.name"}
        if self.rt.namespaced:
            base.add("metadata.namespace")
        return base | self.field_labels

    # -- lifecycle ---------------------------------------------------------------------------
    def defaults(self, obj: Obj) -> None:
        """Fill defaulted fields (the real API's SetDefaults_* functions)."""

    def prepare_create(self, obj: Obj) -> None:
        if "status" in self.rt.subresources and not self.rt.custom:
            obj.pop("status", None)
        if self.rt.custom and "status" in self.rt.subresources:
            obj.pop("status", None)

    def prepare_update(self, old: Obj, new: Obj, subresource: str) -> None:
        if "status" not in self.rt.subresources:
            return
        if subresource == "status":
            status = new.get("status")
            keep_meta = new.get("metadata", {})
            new.clear()
            new.update(copy.deepcopy({k: v for k, v in old.items() if k != "status"}))
            if status is not None:
                new["status"] = status
            # a status writer may still change labels, annotations and finalizers? no: only
            # managedFields travel with it
            if "managedFields" in keep_meta:
                new["metadata"]["managedFields"] = keep_meta["managedFields"]
        elif "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)

    def reset_fields(self, subresource: str) -> tuple[str, ...]:
        """Top-level fields an apply to this (sub)resource may not set."""
        if "status" not in self.rt.subresources:
            return ()
        if subresource == "status":
            return ("spec",)
        return ("status",)

    def spec_changed(self, old: Obj, new: Obj) -> bool:
        def body(o: Obj) -> Obj:
            return {k: v for k, v in o.items() if k not in ("metadata", "status")}

        return body(old) != body(new)

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        return []

    # -- printing -----------------------------------------------------------------------------
    def columns(self) -> list[Column]:
        return [("Name", "string", "name")]

    def cells(self, obj: Obj) -> list[Any]:
        return [obj["metadata"]["name"]]


def age(obj: Obj) -> str:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    then = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    secs = max(0, int((dt.datetime.now(dt.UTC) - then).total_seconds()))
    if secs < 120:
        return f"{secs}s"
    mins = secs // 60
    if mins < 10:
        return f"{mins}m{secs % 60}s" if secs % 60 else f"{mins}m"
    if mins < 180:
        return f"{mins}m"
    hours = mins // 60
    if hours < 8:
        return f"{hours}h{mins % 60}m" if mins % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def _pod_template_defaults(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for c in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        if not isinstance(c, dict):
            continue
        image = str(c.get("image", ""))
        tag = image.rsplit("/", 1)[-1]
        latest = ":" not in tag or tag.endswith(":latest")
        c.setdefault("imagePullPolicy", "Always" if latest and "@" not in image else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
        for p in c.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")


def _pod_spec_errors(spec: Any, path: str) -> list[FieldError]:
    if not isinstance(spec, dict):
        return [required(path)]
    containers = spec.get("containers")
    if not containers:
        return [required(f"{path}.containers")]
    out: list[FieldError] = []
    seen: set[str] = set()
    for i, c in enumerate(containers):
        cpath = f"{path}.containers[{i}]"
        name = c.get("name") if isinstance(c, dict) else None
        if not name:
            out.append(required(f"{cpath}.name"))
        elif name in seen:
            out.append(FieldError("Duplicate", f"{cpath}.name", name, has_value=True))
        else:
            seen.add(str(name))
            out += [invalid(f"{cpath}.name", name, m) for m in names.dns1123_label(str(name))]
        if not (isinstance(c, dict) and c.get("image")):
            out.append(required(f"{cpath}.image"))
    return out


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


class WorkloadStrategy(Strategy):
    """Deployment, DaemonSet, StatefulSet, ReplicaSet: selector + pod template."""

    def defaults(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        kind = self.rt.kind
        if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
            spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        if kind == "Deployment":
            spec.setdefault(
                "strategy",
                {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
                },
            )
            spec.setdefault("progressDeadlineSeconds", 600)
        elif kind == "DaemonSet":
            spec.setdefault(
                "updateStrategy",
                {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            )
        elif kind == "StatefulSet":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault(
                "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
            )
        template = spec.get("template")
        if isinstance(template, dict):
            template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
            _pod_template_defaults(template.setdefault("spec", {}))

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        spec = obj.get("spec") or {}
        out: list[FieldError] = []
        selector = spec.get("selector")
        if not selector:
            out.append(required("spec.selector"))
        template = spec.get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        if selector and not self._matches(selector, labels):
            out.append(
                invalid(
                    "spec.template.metadata.labels",
                    labels,
                    "`selector` does not match template `labels`",
                )
            )
        replicas = spec.get("replicas")
        if isinstance(replicas, int) and replicas < 0:
            out.append(invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
        out += _pod_spec_errors(template.get("spec"), "spec.template.spec")
        if old is not None and (old.get("spec") or {}).get("selector") != selector:
            out.append(invalid("spec.selector", selector, "field is immutable"))
        return out

    @staticmethod
    def _matches(selector: Obj, labels: Obj) -> bool:
        from cozyplan.lab.kube.selection import match_labels

        return match_labels(selector, labels)

    def columns(self) -> list[Column]:
        if self.rt.kind == "Deployment":
            return [
                ("Name", "string", "name"),
                ("Ready", "string", ""),
                ("Up-to-date", "string", ""),
                ("Available", "string", ""),
            ]
        if self.rt.kind == "DaemonSet":
            return [
                ("Name", "string", "name"),
                ("Desired", "integer", ""),
                ("Current", "integer", ""),
                ("Ready", "integer", ""),
                ("Up-to-date", "integer", ""),
                ("Available", "integer", ""),
            ]
        if self.rt.kind == "ReplicaSet":
            return [
                ("Name", "string", "name"),
                ("Desired", "integer", ""),
                ("Current", "integer", ""),
                ("Ready", "integer", ""),
            ]
        return [("Name", "string", "name"), ("Ready", "string", "")]

    def cells(self, obj: Obj) -> list[Any]:
        st, spec, name = obj.get("status") or {}, obj.get("spec") or {}, obj["metadata"]["name"]
        if self.rt.kind == "Deployment":
            return [
                name,
                f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
                st.get("updatedReplicas", 0),
                st.get("availableReplicas", 0),
            ]
        if self.rt.kind == "DaemonSet":
            return [
                name,
                st.get("desiredNumberScheduled", 0),
                st.get("currentNumberScheduled", 0),
                st.get("numberReady", 0),
                st.get("updatedNumberScheduled", 0),
                st.get("numberAvailable", 0),
            ]
        if self.rt.kind == "ReplicaSet":
            return [
                name,
                spec.get("replicas", 1),
                st.get("replicas", 0),
                st.get("readyReplicas", 0),
            ]
        return [name, f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}"]


class JobStrategy(Strategy):
    def defaults(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        template = spec.setdefault("template", {})
        uid = obj["metadata"].get("uid", "")
        if uid and not spec.get("manualSelector"):
            name = obj["metadata"].get("name", "")
            labels = {
                "batch.kubernetes.io/controller-uid": uid,
                "controller-uid": uid,
                "batch.kubernetes.io/job-name": name,
                "job-name": name,
            }
            spec.setdefault(
                "selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
            )
            template.setdefault("metadata", {}).setdefault("labels", {}).update(labels)
        _pod_template_defaults(template.setdefault("spec", {}))
        template["spec"]["restartPolicy"] = template["spec"].get("restartPolicy") or "Never"

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        spec = obj.get("spec") or {}
        tspec = (spec.get("template") or {}).get("spec") or {}
        out = _pod_spec_errors(tspec, "spec.template.spec")
        policy = tspec.get("restartPolicy")
        if policy not in ("OnFailure", "Never"):
            out.append(
                unsupported("spec.template.spec.restartPolicy", policy, ["OnFailure", "Never"])
            )
        if old is not None and (old.get("spec") or {}).get("template") != spec.get("template"):
            out.append(invalid("spec.template", spec.get("template"), "field is immutable"))
        return out

    def columns(self) -> list[Column]:
        return [("Name", "string", "name"), ("Status", "string", ""), ("Completions", "string", "")]

    def cells(self, obj: Obj) -> list[Any]:
        st = obj.get("status") or {}
        done = any(
            c.get("type") == "Complete" and c.get("status") == "True"
            for c in st.get("conditions", [])
        )
        spec = obj.get("spec") or {}
        return [
            obj["metadata"]["name"],
            "Complete" if done else "Running",
            f"{st.get('succeeded', 0)}/{spec.get('completions', 1)}",
        ]


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


class PodStrategy(Strategy):
    field_labels = {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    }

    def defaults(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        _pod_template_defaults(spec)
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)

    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        out = _pod_spec_errors(obj.get("spec"), "spec")
        if old is not None:

            def images(o: Obj) -> Obj:
                s = copy.deepcopy(o.get("spec") or {})
                for c in s.get("containers") or []:
                    c.pop("image", None)
                s.pop("activeDeadlineSeconds", None)
                if not (old.get("spec") or {}).get("nodeName"):
                    s.pop("nodeName", None)  # the scheduler's binding
                s.pop("tolerations", None)
                return s

            if images(old) != images(obj):
                out.append(
                    forbidden(
                        "spec",
                        "pod updates may not change fields other than `spec.containers[*].image`,"
                        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                        "`spec.tolerations` (only additions to existing tolerations),"
                        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                        "previously negative)",
                    )
                )
        return out

    def columns(self) -> list[Column]:
        return [
            ("Name", "string", "name"),
            ("Ready", "string", ""),
            ("Status", "string", ""),
            ("Restarts", "string", ""),
        ]

    def cells(self, obj: Obj) -> list[Any]:
        st = obj.get("status") or {}
        statuses = st.get("containerStatuses") or []
        total = len((obj.get("spec") or {}).get("containers") or [])
        ready = sum(1 for c in statuses if c.get("ready"))
        restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
        reason = st.get("reason") or st.get("phase", "")
        for c in statuses:
            waiting = (c.get("state") or {}).get("waiting")
            if waiting and waiting.get("reason"):
                reason = waiting["reason"]
        return [obj["metadata"]["name"], f"{ready}/{total}", reason, restarts]


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


class PvcStrategy(Strategy):
    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Pending"}

    def defaults(self, obj: Obj) -> None:
        obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        spec = obj.get("spec") or {}
        out = []
        if not spec.get("accessModes"):
            out.append(required("spec.accessModes"))
        if not ((spec.get("resources") or {}).get("requests") or {}).get("storage"):
            out.append(required("spec.resources[storage]"))
        return out

    def columns(self) -> list[Column]:
        return [
            ("Name", "string", "name"),
            ("Status", "string", ""),
            ("Volume", "string", ""),
            ("StorageClass", "string", ""),
        ]

    def cells(self, obj: Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        return [
            obj["metadata"]["name"],
            (obj.get("status") or {}).get("phase", ""),
            spec.get("volumeName", ""),
            spec.get("storageClassName", ""),
        ]


class PvStrategy(Strategy):
    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Available"}

    def defaults(self, obj: Obj) -> None:
        obj.setdefault("spec", {}).setdefault("persistentVolumeReclaimPolicy", "Retain")
        obj["spec"].setdefault("volumeMode", "Filesystem")


class StorageClassStrategy(Strategy):
    def defaults(self, obj: Obj) -> None:
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        out = []
        if not obj.get("provisioner"):
            out.append(required("provisioner"))
        if old is not None:
            for f in ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"):
                if old.get(f) != obj.get(f):
                    detail = "updates to " + f + " are forbidden."
                    out.append(forbidden(f, detail))
        return out

    def columns(self) -> list[Column]:
        return [
            ("Name", "string", "name"),
            ("Provisioner", "string", ""),
            ("ReclaimPolicy", "string", ""),
            ("VolumeBindingMode", "string", ""),
        ]

    def cells(self, obj: Obj) -> list[Any]:
        name = obj["metadata"]["name"]
        ann = obj["metadata"].get("annotations") or {}
        if ann.get("storageclass.kubernetes.io/is-default-class") == "true":
            name += " (default)"
        return [
            name,
            obj.get("provisioner"),
            obj.get("reclaimPolicy"),
            obj.get("volumeBindingMode"),
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


_BY_KIND: dict[tuple[str, str], type[Strategy]] = {
    ("", "Namespace"): NamespaceStrategy,
    ("", "ConfigMap"): ConfigMapStrategy,
    ("", "Secret"): SecretStrategy,
    ("", "Service"): ServiceStrategy,
    ("", "Pod"): PodStrategy,
    ("", "Node"): NodeStrategy,
    ("", "PersistentVolumeClaim"): PvcStrategy,
    ("", "PersistentVolume"): PvStrategy,
    ("", "Event"): EventStrategy,
    ("apps", "Deployment"): WorkloadStrategy,
    ("apps", "DaemonSet"): WorkloadStrategy,
    ("apps", "StatefulSet"): WorkloadStrategy,
    ("apps", "ReplicaSet"): WorkloadStrategy,
    ("batch", "Job"): JobStrategy,
    ("storage.k8s.io", "StorageClass"): StorageClassStrategy,
}


def strategy_for(rt: ResourceType) -> Strategy:
    if rt.custom:
        from cozyplan.lab.kube.crd import CustomStrategy

        return CustomStrategy(rt)
    if rt.group == "apiextensions.k8s.io":
        from cozyplan.lab.kube.crd import CrdStrategy

        return CrdStrategy(rt)
    return _BY_KIND.get((rt.group, rt.kind), Strategy)(rt)
