"""Pydantic models of the spec file's own structure (not of resource bodies)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

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


class BackendSpec(BaseModel):
    """Where the state lives (see docs/backends.md). Never a credential: connection strings come
    from the environment or ``--backend-config``."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["local", "postgres", "kubernetes"] = "local"
    schema_name: str | None = Field(
        None, alias="schema", description="postgres: schema of the default workspace"
    )
    namespace: str | None = Field(None, description="kubernetes: namespace of the Secrets")
    secret_prefix: str | None = Field(
        None, description="kubernetes: name prefix of the Secrets (default cozyplan-<stem>)"
    )
    config_path: str | None = Field(None, description="kubernetes: kubeconfig file")
    context: str | None = Field(None, description="kubernetes: kubeconfig context")
    lease_seconds: int | None = Field(None, ge=1, description="kubernetes: lock lease duration")
    encryption: str | None = Field(
        None,
        description="whole-state encryption key source: passphrase-env:NAME, "
        "key-env:NAME or key-file:PATH",
    )
    state_key_file: str | None = Field(
        None, description="file with the key of sensitive values (shared backends)"
    )

    # credentials are named so that the error points at them (file:line:col), and refused
    conn_str: None = Field(None, description="never here: COZYPLAN_PG_CONN_STR")
    password: None = Field(None, description="never here")
    dsn: None = Field(None, description="never here")
    url: None = Field(None, description="never here")

    @field_validator("conn_str", "password", "dsn", "url", mode="before")
    @classmethod
    def _no_credentials(cls, value: Any, info: ValidationInfo) -> None:
        raise ValueError(
            f"{info.field_name} must not be in the spec (it is a credential): set "
            "COZYPLAN_PG_CONN_STR or pass --backend-config conn_str=..."
        )


class SpecFile(BaseModel):
    """The top level of a spec file."""

    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    variables: dict[str, VariableSpec] = Field(default_factory=dict)
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    backend: BackendSpec | None = None
