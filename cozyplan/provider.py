"""The provider API: the only part of the engine a provider imports.

A provider is a class registered in the entry-point group ``cozyplan.providers``. It holds
its connection settings (``config_model``) and lists its resource types. Each resource type is
a ``Resource`` subclass with a Pydantic ``model`` whose ``Annotated`` markers
(``RequiresReplace``, ``Computed``, ``Sensitive``, ``Noise``; see ``cozyplan.schema``) drive the
generic diff. Authors write four small coroutines on typed models:

* ``read(current)``: the resource as it really is now, or ``None`` when it is gone;
* ``create(planned, ctx)``: make it, adopting an existing identical object instead of failing;
* ``update(prior, planned, changes, ctx)``: change in place what the schema allows;
* ``delete(prior, ctx)``: remove it; already gone is success.

The engine only ever calls the narrow protocol ``read`` / ``plan`` / ``apply``; ``plan`` and
``apply`` have generic implementations here that route to the author's hooks.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from cozyplan.diff import Change, ChangeOp, diff_attrs
from cozyplan.errors import PermanentError, PlanError, TemporaryError
from cozyplan.plan import Action
from cozyplan.schema import (
    Computed,
    Noise,
    RequiresReplace,
    ResourceSchema,
    Sensitive,
    schema_of,
)
from cozyplan.spec.view import SpecBlock, SpecProblem, SpecView
from cozyplan.values import UNKNOWN, contains_unknown, is_unknown

__all__ = [
    "UNKNOWN",
    "Action",
    "ApplyContext",
    "Change",
    "ChangeOp",
    "Computed",
    "EmptyConfig",
    "Noise",
    "PermanentError",
    "PlanError",
    "Provider",
    "ProviderContext",
    "RequiresReplace",
    "Resource",
    "ResourceSchema",
    "Sensitive",
    "SpecBlock",
    "SpecModel",
    "SpecProblem",
    "SpecView",
    "TemporaryError",
    "contains_unknown",
    "is_unknown",
    "schema_of",
]


class SpecModel(BaseModel):
    """Base for resource and provider models: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class EmptyConfig(SpecModel):
    pass


EndpointResolver = Callable[[str, str, int], tuple[str, int]]


def _identity(service: str, host: str, port: int) -> tuple[str, int]:
    return host, port


@dataclass
class ProviderContext:
    """What the engine hands a provider when it is configured.

    ``resolve_endpoint(service, host, port)`` maps an address from the spec to where to connect.
    Against real systems it returns its input; in the embedded lab it returns the loopback
    address of the simulator that plays that host. Providers must connect through it.
    """

    base_dir: Path = field(default_factory=Path.cwd)
    resolve_endpoint: EndpointResolver = _identity
    time_scale: float = 1.0
    log: Callable[[str], None] = lambda message: None
    #: in a lab run, the directory files named in the spec are written under instead
    output_root: Path | None = None
    #: the state's lineage: providers mark what they create with it, and never take over an
    #: object marked otherwise (or unmarked) unless the user says ``--adopt``/``--replace``
    lineage: str = ""

    def output_path(self, path: str | Path) -> Path:
        """Where to write (and read back) a file the spec names.

        Against real systems the path itself (relative to the spec's directory); in a lab run
        the same absolute path under ``output_root``, so a rehearsal never touches the files
        a production run writes.
        """
        p = Path(path).expanduser()
        if not p.is_absolute():
            p = self.base_dir / p
        if self.output_root is None:
            return p
        p = Path(os.path.abspath(p))
        return self.output_root / p.relative_to(p.anchor)

    def scaled(self, seconds: float) -> float:
        """A wait or poll interval scaled for rehearsals (the lab runs faster than life)."""
        return seconds * self.time_scale


class ApplyContext:
    """Per-step context for create/update/delete."""

    def __init__(
        self,
        address: str,
        checkpoint: Callable[[Mapping[str, Any]], Awaitable[None]] | None = None,
        progress: Callable[[str], None] | None = None,
        takeover: str | None = None,
    ) -> None:
        self.address = address
        self._checkpoint = checkpoint
        self._progress = progress
        #: ``adopt`` / ``replace``: the user allowed taking over an object another state (or
        #: no cozyplan) created; None: such an object must make the create fail
        self.takeover = takeover

    async def checkpoint(self, attrs: Mapping[str, Any]) -> None:
        """Durably record identity chosen mid-create (e.g. an allocated vmid) before acting.

        After a crash the engine reads the resource with these attributes and adopts it.
        """
        if self._checkpoint is not None:
            await self._checkpoint(attrs)

    def progress(self, message: str) -> None:
        if self._progress is not None:
            self._progress(message)


ConfigT = TypeVar("ConfigT", bound=BaseModel)
ProviderT = TypeVar("ProviderT", bound="Provider[Any]")
ModelT = TypeVar("ModelT", bound=BaseModel)


class Provider(Generic[ConfigT]):
    """A family of resource types sharing one connection configuration."""

    name: ClassVar[str]
    #: resource types named ``PREFIX_...`` with a prefix other than ``name`` (``k8s``)
    type_prefix: ClassVar[str | None] = None
    config_model: ClassVar[type[BaseModel]] = EmptyConfig
    resource_types: ClassVar[Sequence[type[Resource[Any, Any]]]] = ()
    #: modules the provider imports on first use rather than with itself (a client library
    #: needed only to connect): a warm command server (``cozyplan server``) imports them ahead
    lazy_modules: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: ConfigT, ctx: ProviderContext) -> None:
        self.config = config
        self.ctx = ctx

    async def close(self) -> None:
        """Release connections. Called once after the run."""

    def config_warnings(self) -> list[str]:
        """Settings that work but weaken something (e.g. TLS not verified), shown once with
        the plan."""
        return []

    @classmethod
    def validate_spec(cls, spec: SpecView) -> list[SpecProblem]:
        """Checks across resources, at ``validate`` time (talks to nothing).

        Called once per spec for each provider whose resources the spec uses; ``spec`` shows
        every resource block of the spec (any provider's), as written, with static values
        where they are known without planning. Each problem is reported with its file:line.
        """
        return []


@dataclass
class PlanResult:
    action: Action
    changes: list[Change]


class Resource(abc.ABC, Generic[ProviderT, ModelT]):
    """Base class of one resource type; see the module docstring for the contract."""

    type_name: ClassVar[str]
    model: ClassVar[type[BaseModel]]
    #: replace by creating the new object before deleting the old one
    create_before_destroy: ClassVar[bool] = False
    #: help shown by ``cozyplan schema`` and in docs
    description: ClassVar[str] = ""
    #: record a durable crash marker before create, so a crash mid-create is adopted on the
    #: next run. Only a resource whose create touches nothing outside the state may opt out.
    crash_marker: ClassVar[bool] = True
    #: fields an import cannot read back from the real system (e.g. the template a VM was
    #: cloned from); ``cozyplan import`` takes them from the spec instead
    import_unknowable: ClassVar[tuple[str, ...]] = ()
    #: a create that failed is replaced next time (Terraform's taint). False: the object it
    #: left is adopted and updated in place (a server-side apply that only timed out waiting)
    taint_on_failed_create: ClassVar[bool] = True
    #: read again when a dependency changed during an apply, even though its own spec did not
    #: (a health check of what was just applied), and update it if it now differs
    reread_after_dependencies: ClassVar[bool] = False

    def __init__(self, provider: ProviderT) -> None:
        self.provider = provider

    @classmethod
    def schema(cls) -> ResourceSchema:
        return schema_of(cls.model)

    @classmethod
    def split_instances(
        cls, body: Mapping[str, Any], base_dir: Path
    ) -> dict[str, dict[str, Any]] | None:
        """Several instances from one block without ``for_each``/``count`` (e.g. one per
        document of a multi-document YAML file): instance key -> that instance's body, or None
        for the usual single instance. Called when the spec is expanded, before any resource is
        read; raise ValueError for bad input (shown at the block's position)."""
        return None

    # -- hooks for provider authors ---------------------------------------------------------
    @abc.abstractmethod
    async def read(self, current: ModelT) -> ModelT | None:
        """The object as it really is, or None when it no longer exists."""

    @abc.abstractmethod
    async def create(self, planned: ModelT, ctx: ApplyContext) -> ModelT:
        """Create (or adopt) the object; return it with computed fields filled."""

    async def update(
        self, prior: ModelT, planned: ModelT, changes: Sequence[Change], ctx: ApplyContext
    ) -> ModelT:
        """Change the object in place. The default cannot: declare RequiresReplace instead."""
        raise PermanentError(
            f"{self.type_name} cannot be updated in place "
            f"(changed: {', '.join(c.path_str for c in changes)})"
        )

    @abc.abstractmethod
    async def delete(self, prior: ModelT, ctx: ApplyContext) -> None:
        """Delete the object; succeed when it is already gone."""

    def check_plan(self, prior: ModelT | None, planned: Mapping[str, Any]) -> None:
        """Reject at plan time a change that can never succeed (raise PlanError).

        ``planned`` is the desired attributes; values not known yet are ``UNKNOWN``.
        """

    def plan_warnings(self, planned: Mapping[str, Any]) -> list[str]:
        """Things that will work but are probably a mistake (shown with the plan).

        ``planned`` is the desired attributes with the computed ones (from the refreshed
        object; ``UNKNOWN`` on create); values not known yet are ``UNKNOWN``.
        """
        return []

    async def check_create(self, planned: Mapping[str, Any], takeover: str | None) -> list[str]:
        """Before apply: what a create would meet. Raise PlanError when it finds an object
        it may not take over (``takeover`` None); return notes when it will adopt or replace
        one. ``planned`` may hold ``UNKNOWN`` values.
        """
        return []

    def update_notes(
        self, prior: Mapping[str, Any], planned: Mapping[str, Any], changes: Sequence[Change]
    ) -> list[str]:
        """What an in-place update will do beyond the diff (e.g. "requires reboot").

        Called for planned updates; the notes are shown with the plan's warnings.
        """
        return []

    async def import_resource(self, import_id: str) -> ModelT | None:
        """Read an existing object by its import id (``cozyplan import ADDR ID``)."""
        raise PermanentError(f"{self.type_name} does not support import")

    # -- the protocol the engine calls ------------------------------------------------------
    def parse(self, attrs: Mapping[str, Any]) -> ModelT:
        return self.model.model_validate(dict(attrs))  # type: ignore[return-value]

    @staticmethod
    def dump(obj: BaseModel) -> dict[str, Any]:
        return obj.model_dump(mode="json")

    async def read_attrs(self, attrs: Mapping[str, Any]) -> dict[str, Any] | None:
        found = await self.read(self.parse(attrs))
        return None if found is None else self.dump(found)

    def plan(
        self,
        prior: Mapping[str, Any] | None,
        desired: Mapping[str, Any],
        *,
        ignore: Sequence[str] = (),
        sensitive_paths: Sequence[tuple[str | int, ...]] = (),
    ) -> list[Change]:
        """Generic diff from prior to desired, plus the resource's own plan checks."""
        prior_model = None
        if prior is not None:
            try:
                prior_model = self.parse(prior)
            except ValueError:
                prior_model = None
        self.check_plan(prior_model, desired)
        return diff_attrs(
            prior, desired, self.schema(), ignore=ignore, sensitive_paths=sensitive_paths
        )

    async def apply(
        self,
        action: Action,
        prior: Mapping[str, Any] | None,
        planned: Mapping[str, Any] | None,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> dict[str, Any] | None:
        """Route one planned change to create/update/delete; return the new attributes."""
        if action is Action.DELETE:
            assert prior is not None
            await self.delete(self.parse(prior), ctx)
            return None
        assert planned is not None
        model = self.parse(planned)
        if action is Action.CREATE:
            return self.dump(await self.create(model, ctx))
        if action is Action.UPDATE:
            assert prior is not None
            return self.dump(await self.update(self.parse(prior), model, changes, ctx))
        if action is Action.DELETE_THEN_CREATE:
            if prior is not None:
                await self.delete(self.parse(prior), ctx)
            return self.dump(await self.create(model, ctx))
        if action is Action.CREATE_THEN_DELETE:
            created = self.dump(await self.create(model, ctx))
            if prior is not None:
                await self.delete(self.parse(prior), ctx)
            return created
        raise PermanentError(f"cannot apply action {action.value}")


def merge_computed(
    schema: ResourceSchema,
    desired: Mapping[str, Any],
    prior: Mapping[str, Any] | None,
    *,
    updating: bool = False,
) -> dict[str, Any]:
    """The planned attributes: desired settable fields, computed ones from prior or UNKNOWN.

    ``prior=None`` (create, replace): every computed field not set in the spec is unknown.
    ``updating``: computed fields declared ``Computed(stable=False)`` become unknown too.
    """
    out = dict(desired)
    for name, spec in schema.fields.items():
        if not spec.computed:
            continue
        if spec.settable and out.get(name) is not None:
            continue
        if prior is None or (updating and not spec.stable):
            out[name] = UNKNOWN
        else:
            out[name] = prior.get(name)
    return out
