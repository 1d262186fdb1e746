"""Pods and pod templates: defaults and validation shared by pods and the workloads."""

from __future__ import annotations

from typing import Any

from cozyplan.lab.kube import names
from cozyplan.lab.kube.errors import FieldError, forbidden, invalid, required
from cozyplan.lab.kube.jsoncopy import copy_json
from cozyplan.lab.kube.strategies.base import Column, Obj, Strategy


def pod_template_defaults(spec: Obj) -> None:
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


def pod_spec_errors(spec: Any, path: str) -> list[FieldError]:
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
        pod_template_defaults(spec)
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)

    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        out = pod_spec_errors(obj.get("spec"), "spec")
        if old is not None:

            def images(o: Obj) -> Obj:
                s = copy_json(o.get("spec") or {})
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

    def wide_columns(self) -> list[Column]:
        return [
            ("IP", "string", ""),
            ("Node", "string", ""),
            ("Nominated Node", "string", ""),
            ("Readiness Gates", "string", ""),
        ]

    def wide_cells(self, obj: Obj) -> list[Any]:
        st, spec = obj.get("status") or {}, obj.get("spec") or {}
        return [st.get("podIP", "<none>"), spec.get("nodeName", "<none>"), "<none>", "<none>"]
