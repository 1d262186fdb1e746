"""How the lab's capmox and proxmox-csi controllers reach Proxmox VE: the real HTTPS API with
the API token from their Secret, through proxmoxer (as their Go clients do upstream).

The address in the Secret is the one the spec gives (``https://10.0.0.1:8006``); the lab maps
it to the Proxmox simulator's loopback endpoint. TLS is verified against ``root_ca`` unless the
Secret says ``insecure``. Missing privileges fail as on a real PVE: the simulator evaluates the
token's ACL (privilege separation included) and answers ``403 Permission check failed``.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException

from cozyplan.lab.framework import LabWorld


class PveError(RuntimeError):
    """A failed Proxmox call, worded as the Go clients report it: ``<status> <reason>: <msg>``."""


class PveUnreachable(PveError):
    pass


class Pve:
    def __init__(
        self,
        world: LabWorld,
        url: str,
        token: str,
        secret: str,
        *,
        insecure: bool,
        root_ca: str | None,
    ) -> None:
        parsed = urlparse(url)
        host, port = parsed.hostname or "", parsed.port or 8006
        real = world.lookup_endpoint("proxmox", host, port)
        if real is None:
            raise PveUnreachable(f'Get "{url}/api2/json/version": dial tcp {host}:{port}: no route')
        verify: bool | str = not insecure
        if root_ca and not insecure:
            ca_dir = world.dir / "cozystack" / "pve-ca"
            ca_dir.mkdir(parents=True, exist_ok=True)
            path = ca_dir / (hashlib.sha256(root_ca.encode()).hexdigest()[:16] + ".pem")
            if not path.exists():
                path.write_text(root_ca)
            verify = str(Path(path))
        user, _, name = token.partition("!")
        self.api = ProxmoxAPI(
            real[0],
            port=real[1],
            user=user,
            token_name=name,
            token_value=secret,
            verify_ssl=verify,
            timeout=10,
            backend="https",
        )

    def _call(self, method: str, path: str, params: dict[str, Any]) -> Any:
        try:
            return getattr(self.api(path), method)(**params)
        except ResourceException as exc:
            raise PveError(f"{exc.status_code} {exc.status_message}: {exc.content}") from None
        except Exception as exc:  # TLS, connection: the Go client's transport errors
            raise PveUnreachable(str(exc)) from None

    async def get(self, path: str, **params: Any) -> Any:
        return await asyncio.to_thread(self._call, "get", path, params)

    async def post(self, path: str, **params: Any) -> Any:
        return await asyncio.to_thread(self._call, "post", path, params)

    async def put(self, path: str, **params: Any) -> Any:
        return await asyncio.to_thread(self._call, "put", path, params)

    async def delete(self, path: str, **params: Any) -> Any:
        return await asyncio.to_thread(self._call, "delete", path, params)

    async def task_done(self, node: str, upid: str) -> str | None:
        """None while running, else the task's exit status (``OK`` or the error)."""
        status = await self.get(f"nodes/{node}/tasks/{upid}/status")
        if status.get("status") == "running":
            return None
        return str(status.get("exitstatus", ""))
