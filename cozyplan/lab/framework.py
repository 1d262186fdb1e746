"""The lab's shared world and the base class of every simulator.

One ``LabWorld`` per lab directory. Each simulator keeps its persistent data in
``world.data(name)`` (a JSON-able dict) and calls ``world.save()`` after it changes, so the
simulated world survives between commands. Simulators talk to each other only through world
events (``world.publish`` / ``world.subscribe``), e.g. ``vm.started`` from the Proxmox simulator
makes the Talos simulator boot a node.
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import ipaddress
import json
import os
import random
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

from cozyplan.errors import CozyplanError
from cozyplan.lab.tls import LabCA

EventHandler = Callable[[str, dict[str, Any]], Awaitable[None] | None]


class LabError(CozyplanError):
    pass


def loopback_for(host: str) -> str:
    """The loopback address that plays ``host`` (an IPv4 address or a name) in the lab.

    ``a.b.c.d`` maps to ``127.b.c.d`` so addresses stay readable (10.0.0.201 -> 127.0.0.201);
    names and IPv6 map to a stable hashed address in 127.0.0.0/8.
    """
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if isinstance(ip, ipaddress.IPv4Address):
        if ip.is_loopback:
            return str(ip)
        b, c, d = ip.packed[1:]
        if (b, c, d) == (0, 0, 0) or d in (0, 255):
            b, c, d = hashlib.sha256(host.encode()).digest()[:3]
            d = max(1, min(d, 254))
        return f"127.{b}.{c}.{d}"
    digest = hashlib.sha256(host.encode()).digest()
    return f"127.{digest[0]}.{digest[1]}.{max(1, min(digest[2], 254))}"


class LabWorld:
    """Persistent simulated world shared by all simulators of one lab."""

    def __init__(
        self, directory: Path, *, time_scale: float = 1.0, options: dict[str, Any] | None = None
    ) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self.time_scale = time_scale
        self.options: dict[str, dict[str, Any]] = options or {}
        self.ca = LabCA(self.dir / "tls")
        self._file = self.dir / "world.json"
        self._data: dict[str, Any] = (
            json.loads(self._file.read_text()) if self._file.exists() else {}
        )
        self._endpoints: dict[str, dict[str, Any]] = {}
        self._subscribers: dict[str, list[EventHandler]] = {}
        self._save_lock = threading.Lock()
        self.rng = random.Random()

    # -- persistence -------------------------------------------------------------------------
    def data(self, name: str) -> dict[str, Any]:
        """The persistent namespace of simulator ``name``; mutate it, then ``save()``."""
        found: dict[str, Any] = self._data.setdefault(name, {})
        return found

    def save(self) -> None:
        """Write the world atomically. Safe from any thread (simulators may save off-loop)."""
        with self._save_lock:
            text = json.dumps(self._data, indent=1, sort_keys=True)
            tmp = self._file.with_name(f".world.{os.getpid()}.{threading.get_ident()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._file)

    # -- time ---------------------------------------------------------------------------------
    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(self.scaled(seconds))

    def option(self, simulator: str, key: str, default: Any = None) -> Any:
        return self.options.get(simulator, {}).get(key, default)

    # -- events -------------------------------------------------------------------------------
    def subscribe(self, event: str, handler: EventHandler) -> None:
        self._subscribers.setdefault(event, []).append(handler)

    async def publish(self, event: str, payload: dict[str, Any]) -> None:
        for handler in list(self._subscribers.get(event, ())):
            result = handler(event, payload)
            if result is not None:
                await result

    # -- endpoints ----------------------------------------------------------------------------
    def register_endpoint(
        self, service: str, host: str, port: int, real_host: str, real_port: int
    ) -> None:
        self._endpoints[f"{service}/{host}:{port}"] = {
            "service": service,
            "host": host,
            "port": port,
            "real_host": real_host,
            "real_port": real_port,
        }

    def unregister_endpoint(self, service: str, host: str, port: int) -> None:
        self._endpoints.pop(f"{service}/{host}:{port}", None)

    def lookup_endpoint(self, service: str, host: str, port: int) -> tuple[str, int] | None:
        entry = self._endpoints.get(f"{service}/{host}:{port}")
        if entry is None:
            return None
        return entry["real_host"], entry["real_port"]

    def endpoints(self) -> list[dict[str, Any]]:
        return list(self._endpoints.values())


class Simulator(abc.ABC):
    """One simulated system. Runs inside the lab's event loop."""

    #: also the provider name whose settings ``provider_settings`` returns
    name: ClassVar[str]

    def __init__(self, world: LabWorld) -> None:
        self.world = world

    @abc.abstractmethod
    async def start(self) -> None:
        """Bind listeners on loopback and register endpoints."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Close listeners."""

    def provider_settings(self) -> dict[str, Any]:
        """Overrides of the provider config named ``name`` for rehearsing against the lab."""
        return {}

    async def ensure_endpoint(self, service: str, host: str, port: int) -> tuple[str, int] | None:
        """Bring up, on demand, a simulated host that answers at ``host:port`` (or None)."""
        return None

    def status(self) -> dict[str, Any]:
        return {}

    async def control(self, args: dict[str, Any]) -> dict[str, Any]:
        """A command from ``cozyplan lab control NAME KEY=VALUE...`` (e.g. inject a fault)."""
        raise LabError(f"the {self.name} simulator takes no commands")


async def bind_server(
    start: Callable[[str, int], Awaitable[Any]], host: str, port: int
) -> tuple[Any, int]:
    """Start a server on ``host:port``; if the port is taken, on a free port of that address."""
    try:
        return await start(host, port), port
    except OSError:
        server = await start(host, 0)
        sockets = getattr(server, "sockets", None) or []
        real_port = sockets[0].getsockname()[1] if sockets else 0
        return server, real_port
