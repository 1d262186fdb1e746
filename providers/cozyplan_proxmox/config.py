"""The ``proxmox`` provider block."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from cozyplan.provider import Sensitive, SpecModel


class ProxmoxConfig(SpecModel):
    endpoint: str = Field(description="https://HOST:8006 of any cluster node")
    token_id: str = Field(description="API token id, user@realm!name")
    token_secret: Annotated[str, Sensitive()] = Field(description="the token's secret (UUID)")
    verify_tls: bool = True
    ca_file: str | None = Field(default=None, description="PEM CA to pin (relative to spec)")
    timeout: float = Field(default=30.0, description="seconds per HTTP request")
    clone_concurrency: int = Field(
        default=4, ge=1, description="concurrent clones per source template and target storage"
    )
    retries: int = Field(default=6, ge=0, description="retries of transient API errors")
    task_timeout: float = Field(default=1800.0, description="seconds to wait for one task")
    full_refresh: bool = Field(
        default=False,
        description="read every VM's config on refresh (default: only when the cluster-wide "
        "summary differs from state)",
    )
    max_connections: int = Field(default=16, ge=1)
