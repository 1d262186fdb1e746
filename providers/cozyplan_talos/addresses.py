"""A node address is an IP address or a DNS host name, nothing else (never a path)."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")


def check(value: str) -> str:
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if len(value) <= 253 and _HOSTNAME.match(value):
        return value
    raise ValueError(f"{value!r} is not an IP address or DNS host name")


#: a Talos node's address as the cluster knows it
NodeAddress = Annotated[str, AfterValidator(check)]
