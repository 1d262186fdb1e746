"""Provider configuration: the hosts, and defaults applied to every host that lacks a field."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator

from cozyplan.provider import Sensitive, SpecModel

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"


def _check_host_key(value: str | None) -> str | None:
    if value is not None:
        import asyncssh  # only a spec that pins a host key pays for it

        try:
            asyncssh.import_public_key(value)
        except (asyncssh.KeyImportError, ValueError):
            raise ValueError(
                "host_key must be an OpenSSH public key line, e.g. 'ssh-ed25519 AAAA...' "
                "(see /etc/ssh/ssh_host_ed25519_key.pub on the host)"
            ) from None
    return value


class HostOptions(SpecModel):
    """Connection settings a host may set; unset ones come from ``defaults``."""

    port: Annotated[int | None, Field(ge=1, le=65535)] = None
    user: str | None = None
    private_key_file: str | None = None
    private_key: Annotated[str | None, Sensitive()] = None
    known_hosts_file: str | None = None
    host_key: str | None = None
    sudo: bool | None = None
    connect_timeout: Annotated[float | None, Field(gt=0)] = None
    command_timeout: Annotated[float | None, Field(gt=0)] = None

    _host_key = field_validator("host_key")(_check_host_key)


class HostSettings(HostOptions):
    address: str


class HostProviderConfig(SpecModel):
    """``hosts``: name -> settings; ``defaults``: settings for every host that lacks them."""

    hosts: dict[str, HostSettings] = Field(default_factory=dict)
    defaults: HostOptions = Field(default_factory=HostOptions)


@dataclass(frozen=True)
class ResolvedHost:
    """One host's effective settings (host fields, then defaults, then built-in defaults)."""

    name: str
    address: str
    port: int
    user: str
    private_key_file: Path | None
    private_key: str | None
    known_hosts_file: Path
    host_key: str | None
    sudo: bool
    connect_timeout: float
    command_timeout: float


def resolve_host(config: HostProviderConfig, name: str, base_dir: Path) -> ResolvedHost:
    host = config.hosts[name]
    d = config.defaults

    def pick(field: str) -> object:
        value = getattr(host, field)
        return getattr(d, field) if value is None else value

    def path(value: object) -> Path | None:
        if value is None:
            return None
        p = Path(os.path.expanduser(str(value)))
        return p if p.is_absolute() else base_dir / p

    key_file = path(pick("private_key_file"))
    # how the host key is verified is chosen as a pair: the host's own, else the defaults'
    verify = host if (host.host_key or host.known_hosts_file) else d
    known = path(verify.known_hosts_file or DEFAULT_KNOWN_HOSTS)
    assert known is not None
    return ResolvedHost(
        name=name,
        address=host.address,
        port=int(pick("port") or 22),  # type: ignore[call-overload]
        user=str(pick("user") or "root"),
        private_key_file=key_file,
        private_key=pick("private_key"),  # type: ignore[arg-type]
        known_hosts_file=known,
        host_key=verify.host_key,
        sudo=bool(pick("sudo")),
        connect_timeout=float(pick("connect_timeout") or 15.0),  # type: ignore[arg-type]
        command_timeout=float(pick("command_timeout") or 600.0),  # type: ignore[arg-type]
    )
