"""Workloads: Deployment, DaemonSet, StatefulSet, ReplicaSet (selector + pod template) and Job."""

from __future__ import annotations

from typing import Any

from cozyplan.lab.kube.errors import FieldError, forbidden, invalid, required, unsupported
from cozyplan.lab.kube.selection import match_labels
from cozyplan.lab.kube.strategies.base import Column, Obj, Strategy
from cozyplan.lab.kube.strategies.pods import pod_spec_errors, pod_template_defaults


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
            pod_template_defaults(template.setdefault("spec", {}))

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        spec = obj.get("spec") or {}
        out: list[FieldError] = []
        selector = spec.get("selector")
        if not selector:
            out.append(required("spec.selector"))
        template = spec.get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        if selector and not match_labels(selector, labels):
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
        out += pod_spec_errors(template.get("spec"), "spec.template.spec")
        if old is not None and (old.get("spec") or {}).get("selector") != selector:
            out.append(invalid("spec.selector", selector, "field is immutable"))
        if old is not None and self.rt.kind == "StatefulSet":
            mutable = (
                "replicas",
                "ordinals",
                "template",
                "updateStrategy",
                "persistentVolumeClaimRetentionPolicy",
                "minReadySeconds",
                "selector",
            )

            def fixed(o: Obj) -> Obj:
                return {k: v for k, v in (o.get("spec") or {}).items() if k not in mutable}

            if fixed(old) != fixed(obj):
                out.append(
                    forbidden(
                        "spec",
                        "updates to statefulset spec for fields other than "
                        "'replicas', 'ordinals', 'template', 'updateStrategy', "
                        "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
                        "forbidden",
                    )
                )
        return out

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
        pod_template_defaults(template.setdefault("spec", {}))
        template["spec"]["restartPolicy"] = template["spec"].get("restartPolicy") or "Never"

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        spec = obj.get("spec") or {}
        tspec = (spec.get("template") or {}).get("spec") or {}
        out = pod_spec_errors(tspec, "spec.template.spec")
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
