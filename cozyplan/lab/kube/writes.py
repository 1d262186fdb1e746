"""Writes: create, replace, the patch types and server-side apply, scale, delete."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from aiohttp import web

from cozyplan.lab.kube import crd, managed, patch
from cozyplan.lab.kube.errors import (
    FieldError,
    StatusError,
    bad_request,
    invalid_object,
    method_not_allowed,
    not_found,
    required,
    unsupported_media,
)
from cozyplan.lab.kube.http import (
    TRUE,
    WARNINGS,
    Handlers,
    Obj,
    Target,
    decode_body,
    dry_run,
    json_response,
    manager_for,
)

#: kinds whose registry answers a DELETE with the deleted object, not a Status
_RETURNS_DELETED = {
    ("", "pods"),
    ("", "persistentvolumeclaims"),
    ("", "persistentvolumes"),
    ("", "services"),
    ("", "serviceaccounts"),
    ("storage.k8s.io", "storageclasses"),
}


class Writes(Handlers):
    def _admit(self, request: web.Request, t: Target, body: Obj) -> Obj:
        """Field validation (``fieldValidation``), then the kind's admission (CR schemas)."""
        if t.rt.custom:
            directive = request.query.get("fieldValidation", "Warn")
            if directive not in ("Ignore", "Warn", "Strict"):
                raise bad_request(
                    f'fieldValidation: Unsupported value: "{directive}": supported values: '
                    '"Ignore", "Strict", "Warn"'
                )
            crd.check_fields(t.rt, body, directive, WARNINGS.get())
        return self.cluster.admit(t.rt, body)

    def _body_object(self, t: Target, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise bad_request("the body of the request could not be decoded as an object")
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if kind and kind != t.rt.kind and not t.subresource:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({t.rt.api_version})"
                if api_version != t.rt.api_version
                else f"the kind in the data ({kind}) does not match the expected kind ({t.rt.kind})"
            )
        return body

    async def create(self, request: web.Request, t: Target) -> web.Response:
        if t.namespace is None and t.rt.namespaced:
            raise method_not_allowed()
        body = self._body_object(t, decode_body(await request.read(), request.content_type))
        obj = self._admit(request, t, body)
        created = self.store.create(
            t.rt, t.namespace or "", obj, manager_for(request), dry_run=dry_run(request)
        )
        return json_response(201, self.out(t, created))

    async def replace(self, request: web.Request, t: Target) -> web.Response:
        body = self._body_object(t, decode_body(await request.read(), request.content_type))
        ns = t.namespace or ""
        if t.subresource == "scale":
            return await self._write_scale(request, t, body)
        if t.subresource == "finalize":
            current = self.store.get(t.rt, ns, t.name)
            finalizers = (body.get("spec") or {}).get("finalizers") or []
            self.store.finalize_namespace(t.name, list(finalizers))
            current.setdefault("spec", {})["finalizers"] = finalizers
            return json_response(200, current)
        body = self._admit(request, t, body)
        if self.store.find(t.rt, ns, t.name) is None:
            raise not_found(t.rt.gr, t.name)
        updated = self.store.update(
            t.rt,
            ns,
            t.name,
            body,
            manager_for(request),
            subresource=t.subresource,
            dry_run=dry_run(request),
        )
        return json_response(200, self.out(t, updated))

    async def patch(self, request: web.Request, t: Target) -> web.Response:
        ctype = request.content_type
        if ctype not in patch.PATCH_TYPES or (ctype == patch.STRATEGIC and t.rt.custom):
            types = [p for p in patch.PATCH_TYPES if not (t.rt.custom and p == patch.STRATEGIC)]
            raise unsupported_media(types)
        force = request.query.get("force") in TRUE
        if force and ctype != patch.APPLY_YAML:
            raise invalid_object(
                "meta.k8s.io",
                "PatchOptions",
                "",
                [
                    FieldError(
                        "Forbidden", "force", detail="may not be specified for non-apply patch"
                    )
                ],
            )
        body = decode_body(await request.read(), "yaml" if ctype == patch.APPLY_YAML else "json")
        ns = t.namespace or ""
        dry = dry_run(request)
        strategy = self.cluster.strategy(t.rt)
        if ctype == patch.APPLY_YAML:
            return self._apply(request, t, body, force, dry)
        live = self.store.get(t.rt, ns, t.name)
        if t.subresource == "scale":
            scale = self._scale(t, live)
            return await self._write_scale(request, t, patch.merge_patch(scale, body))
        if ctype == patch.MERGE_PATCH:
            new = patch.merge_patch(live, body)
        elif ctype == patch.JSON_PATCH:
            new = patch.json_patch(live, body)
        else:
            new = patch.strategic_merge_patch(live, body, strategy.list_types)
        new = self._admit(request, t, new)
        updated = self.store.update(
            t.rt,
            ns,
            t.name,
            new,
            manager_for(request),
            subresource=t.subresource,
            dry_run=dry,
        )
        return json_response(200, self.out(t, updated))

    def _apply(
        self, request: web.Request, t: Target, body: Any, force: bool, dry: bool
    ) -> web.Response:
        manager = request.query.get("fieldManager", "")
        if not manager:
            raise invalid_object(
                "meta.k8s.io",
                "PatchOptions",
                "",
                [required("fieldManager", "is required for apply patch")],
            )
        if not isinstance(body, dict):
            raise bad_request("the body of the request could not be decoded as an object")
        if not body.get("kind"):
            raise bad_request(f"Object 'Kind' is missing in '{json.dumps(body)}'")
        if body.get("apiVersion") != t.rt.api_version or body.get("kind") != t.rt.kind:
            raise bad_request(
                f"the API version in the data ({body.get('apiVersion')}) does not match the "
                f"expected API version ({t.rt.api_version})"
                if body.get("apiVersion") != t.rt.api_version
                else f"the kind in the data ({body.get('kind')}) does not match the expected "
                f"kind ({t.rt.kind})"
            )
        meta = body.get("metadata") or {}
        if meta.get("name") not in (None, t.name):
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the "
                f"URL ({t.name})"
            )
        ns = t.namespace or ""
        strategy = self.cluster.strategy(t.rt)
        if t.rt.custom:
            crd.check_apply(t.rt, body, ns, t.name)
        live = self.store.find(t.rt, ns, t.name)
        merged = managed.apply(
            live,  # read only: apply merges over its own copy
            body,
            manager,
            force=force,
            list_types=strategy.list_types,
            reset=strategy.reset_fields(t.subresource),
            subresource=t.subresource,
        )
        merged.setdefault("metadata", {})["name"] = t.name
        merged = self.cluster.admit(t.rt, merged)
        if live is None:
            if t.subresource:
                raise not_found(t.rt.gr, t.name)
            created = self.store.create(t.rt, ns, merged, manager, dry_run=dry, apply_fields=True)
            return json_response(201, self.out(t, created))
        merged["metadata"]["resourceVersion"] = (body.get("metadata") or {}).get(
            "resourceVersion"
        ) or live["metadata"]["resourceVersion"]
        updated = self.store.update(
            t.rt,
            ns,
            t.name,
            merged,
            manager,
            subresource=t.subresource,
            dry_run=dry,
            apply_fields=True,
        )
        return json_response(200, self.out(t, updated))

    def _scale(self, t: Target, obj: Obj) -> Obj:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        selector = ",".join(
            f"{k}={v}" for k, v in ((spec.get("selector") or {}).get("matchLabels") or {}).items()
        )
        meta = obj["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": spec.get("replicas", 0)},
            "status": {"replicas": status.get("replicas", 0), "selector": selector},
        }

    async def _write_scale(self, request: web.Request, t: Target, scale: Any) -> web.Response:
        ns = t.namespace or ""
        live = self.store.get(t.rt, ns, t.name)
        replicas = ((scale or {}).get("spec") or {}).get("replicas")
        if not isinstance(replicas, int):
            raise bad_request("spec.replicas: Required value")
        live["spec"]["replicas"] = replicas
        rv = ((scale or {}).get("metadata") or {}).get("resourceVersion")
        live["metadata"]["resourceVersion"] = rv or live["metadata"]["resourceVersion"]
        updated = self.store.update(
            t.rt,
            ns,
            t.name,
            live,
            manager_for(request),
            subresource="scale",
            dry_run=dry_run(request),
        )
        return json_response(200, self._scale(t, updated))

    async def _delete_options(self, request: web.Request) -> Obj:
        options: Obj = {}
        raw = await request.read()
        if raw:
            got = decode_body(raw, request.content_type or "json")
            if isinstance(got, dict):
                options = got
        for key in ("propagationPolicy", "gracePeriodSeconds", "orphanDependents"):
            if key in request.query:
                options[key] = request.query[key]
        if str(options.get("orphanDependents")).lower() == "true":
            options.setdefault("propagationPolicy", "Orphan")
        policy = options.get("propagationPolicy")
        if policy not in (None, "Orphan", "Foreground", "Background"):
            raise invalid_object(
                "meta.k8s.io",
                "DeleteOptions",
                "",
                [
                    FieldError(
                        "Unsupported",
                        "propagationPolicy",
                        policy,
                        'supported values: "Foreground", "Background", "Orphan", nil',
                        True,
                    )
                ],
            )
        return options

    async def delete(self, request: web.Request, t: Target) -> web.Response:
        options = await self._delete_options(request)
        pre = options.get("preconditions") or {}
        obj, gone = self.store.delete(
            t.rt,
            t.namespace or "",
            t.name,
            propagation=options.get("propagationPolicy") or self.cluster.default_propagation(t.rt),
            precondition_uid=pre.get("uid"),
            precondition_rv=pre.get("resourceVersion"),
            dry_run=dry_run(request),
        )
        if gone and not t.rt.custom and (t.rt.group, t.rt.plural) not in _RETURNS_DELETED:
            details: Obj = {"name": t.name}
            if t.rt.group:
                details["group"] = t.rt.group
            details.update(kind=t.rt.plural, uid=obj["metadata"].get("uid"))
            return json_response(
                200,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": details,
                },
            )
        return json_response(200, self.out(t, obj))

    async def delete_collection(self, request: web.Request, t: Target) -> web.Response:
        options = await self._delete_options(request)
        items = self._select(request, t)
        deleted = []
        for obj in items:
            meta = obj["metadata"]
            with contextlib.suppress(StatusError):
                got, _ = self.store.delete(
                    t.rt,
                    meta.get("namespace", ""),
                    meta["name"],
                    propagation=options.get("propagationPolicy"),
                    dry_run=dry_run(request),
                )
                deleted.append(self.out(t, got))
        return json_response(200, self._list_body(t.rt, deleted, str(self.store.rv), None))

    # -- lists, tables, watches ----------------------------------------------------------------
