"""The on-disk shapes of the state snapshot and journal, checked before anything uses them.

A state file edited by hand, cut short or overwritten must give a message that names the file,
the field and what is wrong, never a ``KeyError`` deep in the engine. These models are the
checked form of what ``State.to_json`` / ``LocalStore.record`` write.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from cozyplan.errors import StateError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class PendingFile(_Strict):
    operation: Literal["create", "create-before-destroy"]
    started: float = Field(strict=False)
    attributes: dict[str, Any]
    run_id: StrictStr = ""


class ResourceFile(_Strict):
    type: StrictStr = Field(min_length=1)
    provider: StrictStr = Field(min_length=1)
    status: Literal["ready", "tainted"] = "ready"
    desired: dict[str, Any] | None = None
    observed: dict[str, Any] | None = None
    dependencies: list[StrictStr] | None = None
    #: each path names a field (never the whole object: an empty path is not written)
    sensitive_paths: list[Annotated[list[StrictStr | StrictInt], Field(min_length=1)]] | None = None
    pending: PendingFile | None = None
    deposed: list[dict[str, Any]] | None = None


class StateFile(_Strict):
    version: StrictInt
    serial: StrictInt = Field(ge=0)
    lineage: StrictStr = Field(min_length=1)
    cozyplan_version: StrictStr | None = None
    #: the last apply's timeline (``cozyplan.runlog``), checked when a report draws it
    last_run: dict[str, Any] | None = None
    #: each resource is checked by ResourceFile as it is decoded (``check``, with its address)
    resources: dict[StrictStr, Any]


class JournalHeader(_Strict):
    lineage: StrictStr = Field(min_length=1)
    base_serial: StrictInt = Field(ge=0)


class JournalEntry(_Strict):
    serial: StrictInt = Field(ge=1)
    address: StrictStr = Field(min_length=1)
    resource: ResourceFile | None


class SealedJournalEntry(_Strict):
    """A journal line of a state with whole-state encryption (see ``envelope``)."""

    serial: StrictInt = Field(ge=1)
    sealed: StrictStr = Field(min_length=1)


def check(model: type[BaseModel], data: Any, where: str = "") -> None:
    """Validate ``data`` against ``model``; raise StateError naming each bad field."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        raise StateError(describe(exc, where)) from None


def describe(exc: ValidationError, where: str = "", limit: int = 5) -> str:
    """``resources.vm.type: Field required; serial: Input should be a valid integer``.

    Only locations and messages: the offending input may be a secret and is never echoed.
    """
    parts = []
    for err in exc.errors(include_input=False, include_url=False)[:limit]:
        loc = ".".join([where] * bool(where) + [str(p) for p in err["loc"]]) or "(top level)"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)
