"""Pydantic models of the spec file's own structure (not of resource bodies)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

META_KEYS = ("for_each", "count", "depends_on", "lifecycle")


class VariableSpec(BaseModel):
    """A value given from outside the spec: environment, file, or default (in that order)."""

    model_config = ConfigDict(extra="forbid")
    env: str | None = Field(None, description="environment variable to read")
    file: str | None = Field(None, description="file whose content (stripped) is the value")
    default: Any = Field(None, description="value when neither env nor file gives one")
    sensitive: bool = Field(False, description="never print this value")
    description: str = ""


class LifecycleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    create_before_destroy: bool | None = None
    prevent_destroy: bool = False
    ignore_changes: list[str] = Field(default_factory=list)


class SpecFile(BaseModel):
    """The top level of a spec file."""

    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    variables: dict[str, VariableSpec] = Field(default_factory=dict)
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = Field(default_factory=dict)
