"""``k8s_manifest``: any Kubernetes object, applied with server-side apply.

One object (``manifest``), or every document of a multi-document YAML ``file``/``content``: the
engine asks ``split_instances`` and makes one instance per document, addressed
``k8s_manifest.NAME[Kind/namespace/name]``.

Drift is computed on the fields the manifest sets only (``owned.project``). A Secret's ``data`` and
``stringData`` are moved into the sensitive ``secret_data`` field, so they are masked in plans,
JSON, Markdown and errors and encrypted in the state.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from cozyplan.errors import ProviderError
from cozyplan.provider import (
    ApplyContext,
    Change,
    Computed,
    Noise,
    PermanentError,
    PlanError,
    Resource,
    Sensitive,
    SpecModel,
)
from cozyplan_kubernetes.api import Api
from cozyplan_kubernetes.discovery import Kind, NotServed
from cozyplan_kubernetes.errors import ConflictError
from cozyplan_kubernetes.objects import (
    ManifestError,
    ObjectRef,
    parse_import_id,
    ref_of,
    split_documents,
)
from cozyplan_kubernetes.owned import project_object, strip_server_fields
from cozyplan_kubernetes.provider import KubernetesProvider
from cozyplan_kubernetes.waits import WaitFor, condition_check, not_ready

SECRET_FIELDS = ("data", "stringData")
CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")


def split_secret(manifest: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(manifest without secret values, the values) for a Secret; others are unchanged."""
    if manifest.get("kind") != "Secret" or not any(f in manifest for f in SECRET_FIELDS):
        return manifest, None
    public = {k: v for k, v in manifest.items() if k not in SECRET_FIELDS}
    return public, {k: manifest[k] for k in SECRET_FIELDS if k in manifest}


class ManifestModel(SpecModel):
    manifest: dict[str, Any] | None = Field(None, description="one Kubernetes object")
    file: str | None = Field(
        None, description="a (multi-document) YAML file; one instance per object"
    )
    content: str | None = Field(None, description="(multi-document) YAML text")
    #: a Secret's data/stringData (moved here from the manifest: never printed)
    secret_data: Annotated[dict[str, Any] | None, Sensitive()] = None
    force_conflicts: bool = Field(False, description="take over fields another field manager owns")
    deletion_propagation: Literal["Background", "Foreground", "Orphan"] = "Background"
    delete_timeout: float = Field(300.0, gt=0, description="seconds to wait for finalizers")
    wait_for: WaitFor | None = None
    #: false while the live object does not satisfy wait_for (drift; apply waits again)
    ready: bool = True
    uid: Annotated[str | None, Computed(), Noise()] = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        content = data.get("content")
        if isinstance(content, str) and "${" not in content and data.get("manifest") is None:
            docs = split_documents(content, "content")
            if len(docs) != 1:
                raise ValueError(
                    f"content has {len(docs)} objects: a multi-document value must be known "
                    "when planning (literal content or file) to make one instance per object"
                )
            data["manifest"], data["content"] = next(iter(docs.values())), None
        manifest = data.get("manifest")
        if isinstance(manifest, dict):
            public, secret = split_secret(manifest)
            if secret is not None:
                data["manifest"] = public
                data["secret_data"] = {**(data.get("secret_data") or {}), **secret}
        return data

    @model_validator(mode="after")
    def _one_source(self) -> ManifestModel:
        given = [n for n in ("manifest", "file", "content") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("set exactly one of manifest, file or content")
        if self.manifest is not None:
            try:
                ref_of(self.manifest)
            except ManifestError as exc:
                raise ValueError(str(exc)) from None
        return self

    def full(self) -> dict[str, Any]:
        """The object to apply: the manifest with its secret values put back."""
        if self.manifest is None:
            raise PermanentError(
                "this k8s_manifest has no single object: a multi-document file or content "
                "is expanded into one instance per object when the spec is planned"
            )
        return {**copy.deepcopy(self.manifest), **copy.deepcopy(self.secret_data or {})}


class K8sManifest(Resource[KubernetesProvider, ManifestModel]):
    type_name = "k8s_manifest"
    model = ManifestModel
    description = (
        "Any Kubernetes object (or each object of a multi-document YAML), server-side applied; "
        "drift only on the fields the manifest sets."
    )
    import_unknowable = ("manifest", "secret_data")
    #: applying again is idempotent: an object whose wait timed out is not recreated
    taint_on_failed_create = False

    # -- instances from a multi-document file -----------------------------------------------
    @classmethod
    def split_instances(
        cls, body: Mapping[str, Any], base_dir: Path
    ) -> dict[str, dict[str, Any]] | None:
        """One body per object of ``file`` (or literal ``content``) with several documents."""
        source = body.get("file")
        text = None
        if isinstance(source, str) and "${" not in source:
            path = Path(source).expanduser()
            path = path if path.is_absolute() else base_dir / path
            try:
                text = path.read_text()
            except OSError as exc:
                raise ValueError(f"file {source}: {exc.strerror or exc}") from None
        elif isinstance(body.get("content"), str) and "${" not in body["content"]:
            source, text = "content", body["content"]
        if text is None:
            return None
        docs = split_documents(text, str(source))
        if not docs:
            raise ValueError(f"{source} has no objects")
        rest = {k: v for k, v in body.items() if k not in ("file", "content")}
        return {key: {**rest, "manifest": _literal(doc)} for key, doc in docs.items()}

    # -- helpers ------------------------------------------------------------------------------
    async def _api(self) -> Api:
        return await self.provider.api()

    def _namespace(self, kind: Kind, ref: ObjectRef) -> str | None:
        if not kind.namespaced:
            if ref.namespace:
                raise PermanentError(
                    f"{ref.kind} {ref.name} is cluster-scoped: remove metadata.namespace"
                )
            return None
        return ref.namespace or self.provider.config.namespace

    def _same_object(self, old: ObjectRef, new: ObjectRef) -> bool:
        """Same group, kind, name and namespace (an omitted namespace is the default one)."""
        default = self.provider.config.namespace
        return (old.api_version.rpartition("/")[0], old.kind, old.name) == (
            new.api_version.rpartition("/")[0],
            new.kind,
            new.name,
        ) and (old.namespace or default) == (new.namespace or default)

    def check_plan(self, prior: ManifestModel | None, planned: Mapping[str, Any]) -> None:
        if planned.get("ready") is False:
            raise PlanError("ready is reported by the provider; leave it unset", field="ready")

    async def _apply(
        self, planned: ManifestModel, ctx: ApplyContext, *, force: bool = False
    ) -> ManifestModel:
        try:
            return await self._apply_unscrubbed(planned, ctx, force or planned.force_conflicts)
        except ProviderError as exc:
            raise scrubbed(exc, secret_texts(planned.secret_data)) from None

    async def _apply_unscrubbed(
        self, planned: ManifestModel, ctx: ApplyContext, force: bool
    ) -> ManifestModel:
        api = await self._api()
        obj = planned.full()
        ref = ref_of(obj)
        crd_wait = self.provider.budget(self.provider.config.crd_wait)
        kind = await api.kind_when_served(ref.api_version, ref.kind, crd_wait)
        namespace = self._namespace(kind, ref)
        if namespace:
            obj["metadata"]["namespace"] = namespace
        live = await api.apply(kind, obj, force=force)
        if (ref.api_version, ref.kind) == CRD:
            # dependents may use the new kinds at once: wait until served, then re-discover
            await api.wait(
                kind,
                ref.name,
                None,
                lambda o: condition_check("Established")(o) if o else "not found",
                timeout=crd_wait,
                what="is not Established",
                progress=ctx.progress,
            )
            api.discovery.invalidate()
        wait = planned.wait_for
        if wait is not None:
            found = await api.wait(
                kind,
                ref.name,
                namespace,
                lambda o: "; ".join(not_ready(wait, o)) or None if o else "the object is gone",
                timeout=self.provider.budget(wait.timeout),
                what="is not ready",
                progress=ctx.progress,
            )
            live = found or live
        return planned.model_copy(update={"ready": True, "uid": live["metadata"].get("uid")})

    # -- the four hooks -----------------------------------------------------------------------
    async def read(self, current: ManifestModel) -> ManifestModel | None:
        api = await self._api()
        desired = current.full()
        ref = ref_of(desired)
        try:
            kind = await api.kind(ref.api_version, ref.kind)
        except NotServed:
            return None  # its CRD is gone, so is the object
        live = await api.get(kind, ref.name, self._namespace(kind, ref))
        if live is None:
            return None
        projected = project_object(desired, live)
        public, secret = split_secret(projected)
        return current.model_copy(
            update={
                "manifest": public,
                "secret_data": secret,
                "ready": not not_ready(current.wait_for, live),
                "uid": (live.get("metadata") or {}).get("uid"),
            }
        )

    async def create(self, planned: ManifestModel, ctx: ApplyContext) -> ManifestModel:
        return await self._apply(planned, ctx)  # server-side apply adopts an existing object

    async def update(
        self,
        prior: ManifestModel,
        planned: ManifestModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> ManifestModel:
        if not self._same_object(ref_of(prior.full()), ref_of(planned.full())):
            await self.delete(prior, ctx)  # another object: the old one goes
            return await self._apply(planned, ctx)
        try:
            return await self._apply(planned, ctx)
        except ConflictError as exc:
            # drift: someone else (kubectl edit, another controller) changed fields cozyplan
            # set, and so became their manager. Setting them back is what healing drift means;
            # a field new to the manifest still needs force_conflicts.
            fields = [f for owned in exc.managers.values() for f in owned]
            if not all(field_in(prior.full(), f) for f in fields):
                raise
            ctx.progress(
                "taking back "
                + "; ".join(f"{', '.join(fs)} from {m!r}" for m, fs in exc.managers.items())
            )
            return await self._apply(planned, ctx, force=True)

    async def delete(self, prior: ManifestModel, ctx: ApplyContext) -> None:
        api = await self._api()
        ref = ref_of(prior.full())
        try:
            kind = await api.kind(ref.api_version, ref.kind)
        except NotServed:
            return  # the kind is gone: so is the object
        namespace = self._namespace(kind, ref)
        if await api.delete(kind, ref.name, namespace, prior.deletion_propagation) is None:
            return

        def remaining(obj: dict[str, Any] | None) -> str | None:
            if obj is None:
                return None
            finalizers = (obj.get("metadata") or {}).get("finalizers") or []
            if finalizers:
                return f"waiting for finalizers {', '.join(finalizers)}"
            return "waiting for the object to go away"

        await api.wait(
            kind,
            ref.name,
            namespace,
            remaining,
            timeout=self.provider.budget(prior.delete_timeout),
            what="was not deleted",
            progress=ctx.progress,
        )
        if (ref.api_version, ref.kind) == CRD:
            api.discovery.invalidate()

    async def import_resource(self, import_id: str) -> ManifestModel | None:
        ref = parse_import_id(import_id)
        api = await self._api()
        kind = await api.kind(ref.api_version, ref.kind)
        live = await api.get(kind, ref.name, self._namespace(kind, ref))
        if live is None:
            return None
        manifest = strip_server_fields(live)
        manifest.setdefault("apiVersion", ref.api_version)
        manifest.setdefault("kind", ref.kind)
        return ManifestModel(manifest=manifest, uid=(live.get("metadata") or {}).get("uid"))


def field_in(obj: Any, field: str) -> bool:
    """Whether a managed-fields path (``.spec.template.spec.containers[name="web"].image``) is
    set in ``obj``. A list item selector counts as set when the list is."""
    for part in field.lstrip(".").split("."):
        key = part.split("[", 1)[0]
        if not isinstance(obj, dict) or key not in obj:
            return False
        obj = obj[key]
        if "[" in part:
            return True
    return True


def secret_texts(value: Any) -> set[str]:
    """Every secret value as text, plain and base64-encoded (as a server may echo either)."""
    out: set[str] = set()
    if isinstance(value, dict):
        for v in value.values():
            out |= secret_texts(v)
    elif isinstance(value, str) and len(value) >= 4:
        out.add(value)
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            out.add(base64.b64decode(value, validate=True).decode())
        out.add(base64.b64encode(value.encode()).decode())
    return {t for t in out if len(t) >= 4}


def scrubbed(exc: ProviderError, secrets: set[str]) -> ProviderError:
    """``exc`` with every secret value in its message replaced."""
    for secret in sorted(secrets, key=len, reverse=True):
        exc.message = exc.message.replace(secret, "(sensitive value)")
        if exc.detail:
            exc.detail = exc.detail.replace(secret, "(sensitive value)")
    exc.args = (exc.message,)
    return exc


def _literal(value: Any) -> Any:
    """A file's text is taken as written: ``${`` in it is not a reference (escaped ``$${``)."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: _literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literal(v) for v in value]
    return value
