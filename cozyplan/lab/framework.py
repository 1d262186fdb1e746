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
import importlib
import ipaddress
import json
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import orjson

from cozyplan.lab import WORLD_FILE, LabError
from cozyplan.lab.tls import LabCA

__all__ = [
    "LabError",
    "LabWorld",
    "Simulator",
    "WorldFile",
    "bind_server",
    "cluster_topic",
    "loopback_for",
]

#: how long (wall seconds) a save waits for others to join it before the world is written
SAVE_DELAY = 0.05

EventHandler = Callable[[str, dict[str, Any]], Awaitable[None] | None]


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


def _compact(value: Any) -> str:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"))``, written by orjson where it
    writes the same (7x faster: 4.3 ms -> 0.6 ms for the runbook's Kubernetes store): only a
    float may be spelled otherwise (``1e-5``, not ``1e-05``), and NaN and the infinities, which
    JSON lacks and nothing in the lab stores, become null."""
    try:
        raw = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        if raw.isascii() and b"\x7f" not in raw:  # json.dumps escapes those
            return raw.decode()
    except TypeError:  # orjson.JSONEncodeError: an integer beyond 64 bits, a key not a string
        pass
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def cluster_topic(cluster_id: str) -> str:
    """The pulse topic of a lab Kubernetes cluster: its API server pulses it on every write,
    the controllers that play its operators wait on it (``LabWorld.wait_pulse``)."""
    return f"kubernetes/{cluster_id}"


#: what identifies one version of world.json: it is only ever replaced whole (a rename, so a new
#: inode), never written in place
Stamp = tuple[int, int, int]


def _stamp(st: os.stat_result) -> Stamp:
    return st.st_ino, st.st_size, st.st_mtime_ns


@dataclass(frozen=True)
class WorldFile:
    """world.json as read at one moment: its data, and the stamp of the file it came from
    (None: there was no file)."""

    data: dict[str, Any]
    stamp: Stamp | None

    @classmethod
    def read(cls, path: Path) -> WorldFile:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return cls({}, None)
        with os.fdopen(fd, "rb") as fh:
            stamp = _stamp(os.fstat(fd))  # of the very file read (a rename may replace it)
            raw = fh.read()
        try:  # orjson: 5x faster than json on a world of the runbook (0.65 MB)
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:  # what only json reads: NaN, integers beyond 64 bits
            data = json.loads(raw)
        return cls(data, stamp)

    def current(self, path: Path) -> bool:
        """Whether ``path`` is still the file this was read from."""
        try:
            return self.stamp == _stamp(path.stat())
        except FileNotFoundError:
            return self.stamp is None


class LabWorld:
    """Persistent simulated world shared by all simulators of one lab.

    ``preread``: world.json as read earlier (by a lab on standby, see ``SubprocessLab``), taken
    as it is if the file has not been replaced since.
    """

    def __init__(
        self,
        directory: Path,
        *,
        time_scale: float = 1.0,
        options: dict[str, Any] | None = None,
        preread: WorldFile | None = None,
    ) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self.time_scale = time_scale
        self.options: dict[str, dict[str, Any]] = options or {}
        self.ca = LabCA(self.dir / "tls")
        self._file = self.dir / WORLD_FILE
        if preread is None or not preread.current(self._file):
            preread = WorldFile.read(self._file)
        self._read = preread
        self._data: dict[str, Any] = preread.data
        self._endpoints: dict[str, dict[str, Any]] = {}
        self._subscribers: dict[str, list[EventHandler]] = {}
        self._pulses: dict[str, int] = {}
        self._pulse_waiters: dict[str, list[asyncio.Future[None]]] = {}
        # persistence: namespaces changed since the last snapshot, the last serialised text of
        # each, the pending coalesced write, and the writer thread (see ``save``)
        self._save_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._dirty: set[str] = set(self._data)  # the first write serialises all
        self._fragments: dict[str, str] = {}
        self._generation = self._written = 0
        self._pending: tuple[asyncio.AbstractEventLoop, asyncio.TimerHandle] | None = None
        self._queued: tuple[int, str] | None = None
        self._queued_cv = threading.Condition()
        self._writer: threading.Thread | None = None
        self._stopping = False
        self.save_delay = SAVE_DELAY
        self.rng = random.Random()

    # -- persistence -------------------------------------------------------------------------
    def reload_if_replaced(self) -> None:
        """Read world.json again if another process replaced it since this world read it.

        For the lab's start, once it owns the directory and before any simulator has used
        the world: the lab that owned the directory before (a command's lab that is just
        stopping, say) may have written its world after this one was read.
        """
        assert self._generation == 0, "the world is in use"
        if not self._read.current(self._file):
            self._read = WorldFile.read(self._file)
            self._data = self._read.data
            self._dirty = set(self._data)

    def data(self, name: str) -> dict[str, Any]:
        """The persistent namespace of simulator ``name``; mutate it, then ``save()``."""
        found = self._data.get(name)
        if found is None:
            found = self._data[name] = {}
            self._dirty.add(name)
        return found

    def save(self, *names: str) -> None:
        """Persist the namespaces ``names`` (default: all) soon; safe from any thread.

        Called on an event loop, saves are coalesced: the first one schedules a write
        ``save_delay`` seconds later (wall time) and every save until then joins it, so a burst
        of changes costs one serialisation and one fsync, not one each (the world is rewritten
        whole, so a write per change made the lab quadratic). Only namespaces saved since the
        last write are serialised again. Called off a loop (setup code), it writes at once.
        ``flush()`` (and ``close()``, which the runtime calls when the lab stops) writes now.
        """
        with self._save_lock:
            self._dirty.update(names or self._data)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        pending = self._pending
        if pending is not None and pending[0] is loop and not pending[1].cancelled():
            return
        self._pending = (loop, loop.call_later(self.save_delay, self._write_soon))

    def flush(self) -> None:
        """Write every change made so far, durably, before returning."""
        snapshot = self._snapshot()
        if snapshot is not None:
            self._write(*snapshot)

    def close(self) -> None:
        """Flush and stop the background writer (the world stays usable: a save writes again)."""
        pending, self._pending = self._pending, None
        if pending is not None and not pending[0].is_closed():
            pending[0].call_soon_threadsafe(pending[1].cancel)
        self.flush()
        writer = self._writer
        if writer is not None:
            with self._queued_cv:
                self._stopping = True
                self._queued_cv.notify()
            writer.join(timeout=30)
            self._writer, self._stopping = None, False

    def _write_soon(self) -> None:
        """On the loop that saved: snapshot the world (between callbacks, so consistent) and
        hand the text to the writer thread, which fsyncs it off the loop."""
        self._pending = None
        started = time.perf_counter()
        snapshot = self._snapshot()
        # keep serialisation under ~20% of the loop's time as the world grows
        self.save_delay = max(SAVE_DELAY, 4 * (time.perf_counter() - started))
        if snapshot is None:
            return
        with self._queued_cv:
            self._queued = snapshot
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._writer_main, name="lab-world-writer", daemon=True
                )
                self._writer.start()
            self._queued_cv.notify()

    def _writer_main(self) -> None:
        while True:
            with self._queued_cv:
                while self._queued is None and not self._stopping:
                    self._queued_cv.wait()
                queued, self._queued = self._queued, None
                if queued is None:
                    return
            self._write(*queued)

    def _snapshot(self) -> tuple[int, str] | None:
        """The whole world as JSON text (one line per namespace), re-serialising only the
        namespaces saved since the last snapshot; None if nothing changed."""
        with self._save_lock:
            if not self._dirty:
                return None
            for name in self._dirty:
                if name in self._data:
                    # one C call each, so no other thread runs inside it
                    self._fragments[name] = _compact(self._data[name])
                else:
                    self._fragments.pop(name, None)
            self._dirty.clear()
            self._generation += 1
            body = ",\n".join(
                f"{json.dumps(name)}: {text}" for name, text in sorted(self._fragments.items())
            )
            return self._generation, "{\n" + body + "\n}\n"

    def _write(self, generation: int, text: str) -> None:
        """Replace world.json atomically (write, fsync, rename); never with an older text."""
        with self._write_lock:
            if generation <= self._written:
                return
            tmp = self._file.with_name(f".world.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._file)
            self._written = generation

    # -- time ---------------------------------------------------------------------------------
    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(self.scaled(seconds))

    def option(self, simulator: str, key: str, default: Any = None) -> Any:
        return self.options.get(simulator, {}).get(key, default)

    # -- pulses: "something changed here", for loops that would otherwise poll ----------------
    def pulse(self, topic: str) -> None:
        """Something in ``topic`` changed (``kubernetes/<cluster id>``: an object was written):
        wake every ``wait_pulse`` on it. Call on the lab's loop."""
        self._pulses[topic] = self._pulses.get(topic, 0) + 1
        for waiter in self._pulse_waiters.pop(topic, ()):
            if not waiter.done():
                waiter.set_result(None)

    def pulses(self, topic: str) -> int:
        """How many times ``topic`` has pulsed (compare before and after a pass)."""
        return self._pulses.get(topic, 0)

    async def wait_pulse(self, topic: str, since: int, timeout: float) -> bool:
        """Wait until ``topic`` pulses after ``since`` (True), or ``timeout`` seconds (False)."""
        if self.pulses(topic) != since:
            return True
        waiter = asyncio.get_running_loop().create_future()
        self._pulse_waiters.setdefault(topic, []).append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
            return True
        except TimeoutError:
            return False

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


class FaultInjector:
    """Latencies and injected faults of one simulator, read live from the lab's options
    (``cozyplan lab up --set SIMULATOR.error_rate=0.1``), so a running lab can be made flaky.

    Subclasses name their ``simulator``, the fault ``kinds`` they count (each read from the
    option ``<kind>_rate``) and their ``default_latency`` per operation (simulated seconds).
    """

    simulator: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]]
    default_latency: ClassVar[dict[str, float]]

    def __init__(self, world: LabWorld) -> None:
        self.world = world
        self.injected: dict[str, int] = dict.fromkeys(self.kinds, 0)

    def option(self, key: str, default: Any = None) -> Any:
        return self.world.option(self.simulator, key, default)

    def simulated(self, op: str) -> float:
        """Simulated seconds ``op`` takes (unscaled); the ``latency`` option overrides."""
        overrides: dict[str, float] = self.option("latency", {}) or {}
        return float(overrides.get(op, self.default_latency[op]))

    def latency(self, op: str) -> float:
        """Real seconds ``op`` takes, scaled by the lab's time scale."""
        return self.world.scaled(self.simulated(op))

    def roll(self, kind: str) -> bool:
        """Whether this request gets fault ``kind`` (counted when it does)."""
        rate = float(self.option(f"{kind}_rate", 0.0) or 0.0)
        hit = rate > 0 and self.world.rng.random() < rate
        if hit:
            self.injected[kind] += 1
        return hit


class Simulator(abc.ABC):
    """One simulated system. Runs inside the lab's event loop."""

    #: also the provider name whose settings ``provider_settings`` returns
    name: ClassVar[str]
    #: the modules of this simulator's servers, imported when it first needs one
    server_modules: ClassVar[tuple[str, ...]] = ()

    def __init__(self, world: LabWorld) -> None:
        self.world = world

    @classmethod
    def serves(cls, data: dict[str, Any]) -> bool:
        """Whether a world whose namespace ``name`` is ``data`` has something to serve."""
        return False

    @classmethod
    def preload(cls, data: dict[str, Any]) -> None:
        """Import now what ``start`` will need for a world whose namespace ``name`` is ``data``.

        Simulators import their servers (gRPC, aiohttp, asyncssh) when they first need one, so
        a lab with no Kubernetes cluster never loads the API server; a lab on standby (see
        ``SubprocessLab``) calls this before it may open its directory, to have the imports
        done by then. A warm command server imports every ``server_modules``.
        """
        if cls.serves(data):
            for module in cls.server_modules:
                importlib.import_module(module)

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
