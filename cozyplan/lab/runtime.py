"""Running the lab: in a background process (``cozyplan lab up``) or in-process for one command.

Both expose the same small API (``LabHandle``): ``provider_settings()``, ``resolve()``,
``status()``, ``close()``. The background process answers it on a loopback control port
(one JSON request line, one JSON response line), only to a request that carries the random token
written with the port into ``lab.json`` (mode 0600): the settings it hands out include the lab's
Proxmox API token, so other local users must not read them. A lab directory is owned by one
runtime at a time (an flock on ``lab.lock``, released by the kernel if the process dies).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import functools
import gc
import json
import os
import secrets
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cozyplan.lab import WORLD_FILE, LabError, default_lab_dir
from cozyplan.pids import pid_alive
from cozyplan.server.spawn import popen_module

if TYPE_CHECKING:
    from cozyplan.lab.framework import Simulator, WorldFile

__all__ = [
    "InProcessLab",
    "LabClient",
    "LabHandle",
    "SubprocessLab",
    "lab_session",
]
INFO_FILE = "lab.json"
LOCK_FILE = "lab.lock"


@functools.cache
def simulator_classes() -> tuple[type[Simulator], ...]:
    found: list[type[Simulator]] = []
    for ep in sorted(entry_points(group="cozyplan.lab"), key=lambda e: e.name):
        try:
            cls = ep.load()
        except ModuleNotFoundError as exc:
            # a simulator whose module is not installed is simply absent from this lab
            print(f"lab: simulator {ep.name!r} unavailable: {exc}", file=sys.stderr)
            continue
        found.append(cls)
    return tuple(found)


class LabHandle(Protocol):
    time_scale: float
    #: the lab directory (world, certificates, rehearsal state and files)
    dir: Path

    def provider_settings(self) -> dict[str, dict[str, Any]]: ...

    def resolve(self, service: str, host: str, port: int) -> tuple[str, int]: ...

    def status(self) -> dict[str, Any]: ...

    def control(self, name: str, args: dict[str, Any]) -> dict[str, Any]: ...

    def close(self) -> None: ...


class LabRuntime:
    """All simulators of one lab directory, in one event loop."""

    def __init__(
        self,
        directory: Path,
        *,
        time_scale: float = 1.0,
        options: dict[str, Any] | None = None,
        preread: WorldFile | None = None,
    ) -> None:
        from cozyplan.lab.framework import LabWorld  # the lab's own process (or thread) only

        self.dir = directory
        self.world = LabWorld(directory, time_scale=time_scale, options=options, preread=preread)
        self.simulators: list[Simulator] = []
        self._lock_fd: int | None = None

    def acquire(self, wait: float = 0.0) -> None:
        """Own the lab directory; wait up to ``wait`` seconds for its owner to let go."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                os.close(fd)
                raise LabError(
                    f"the lab in {self.dir} is in use by another process "
                    f"(see 'cozyplan lab status --lab-dir {self.dir}')"
                ) from None
        self._lock_fd = fd
        # the world was read before the lock: the lab that owned the directory until now (a
        # command's lab still stopping, say) may have written its world since
        self.world.reload_if_replaced()

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    async def start(self) -> None:
        for cls in simulator_classes():
            sim = cls(self.world)
            await sim.start()
            self.simulators.append(sim)
        self.world.save()

    async def stop(self) -> None:
        for sim in reversed(self.simulators):
            with contextlib.suppress(Exception):
                await sim.stop()
        self.world.close()  # writes what the coalesced saves have not written yet

    def provider_settings(self) -> dict[str, dict[str, Any]]:
        return {sim.name: sim.provider_settings() for sim in self.simulators}

    async def resolve(self, service: str, host: str, port: int) -> tuple[str, int]:
        found = self.world.lookup_endpoint(service, host, port)
        if found is not None:
            return found
        for sim in self.simulators:
            got = await sim.ensure_endpoint(service, host, port)
            if got is not None:
                return got
        raise LabError(f"nothing in the lab plays {service} at {host}:{port}")

    def status(self) -> dict[str, Any]:
        return {
            "dir": str(self.dir),
            "time_scale": self.world.time_scale,
            "simulators": {sim.name: sim.status() for sim in self.simulators},
            "endpoints": self.world.endpoints(),
        }

    async def handle_request(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "resolve":
            host, port = await self.resolve(request["service"], request["host"], request["port"])
            return {"host": host, "port": port}
        if op == "settings":
            return {"settings": self.provider_settings()}
        if op == "status":
            return {"status": self.status()}
        if op == "control":
            return {"result": await self.control(str(request["simulator"]), request["args"])}
        raise LabError(f"unknown lab request {op!r}")

    async def control(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        for sim in self.simulators:
            if sim.name == name:
                return await sim.control(args)
        raise LabError(f"no simulator {name!r} in this lab")


# -- in-process ---------------------------------------------------------------------------------
class InProcessLab:
    """A lab running in a thread of this process, for the duration of one command or test."""

    def __init__(
        self, directory: Path, *, time_scale: float = 1.0, options: dict[str, Any] | None = None
    ) -> None:
        self.runtime = LabRuntime(directory, time_scale=time_scale, options=options)
        self.time_scale = time_scale
        self.dir = directory
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="lab", daemon=True)
        self.runtime.acquire()
        self._thread.start()
        try:
            self._call(self.runtime.start())
        except BaseException:
            self.close()
            raise

    def _call(self, coro: Any, timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def provider_settings(self) -> dict[str, dict[str, Any]]:
        return self.runtime.provider_settings()

    def resolve(self, service: str, host: str, port: int) -> tuple[str, int]:
        result: tuple[str, int] = self._call(self.runtime.resolve(service, host, port))
        return result

    def status(self) -> dict[str, Any]:
        return self.runtime.status()

    def control(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._call(self.runtime.control(name, args), timeout=60)
        return result

    def close(self) -> None:
        if self.loop.is_running():
            with contextlib.suppress(Exception):
                self._call(self.runtime.stop(), timeout=30)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=30)
        self.runtime.release()

    def __enter__(self) -> InProcessLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- the lab of one command, in a child process ---------------------------------------------------
#: the line a command's lab writes once its world is written and its directory released
STOPPED = b'{"stopped": true}'
#: how long a command's lab waits for the lab of a command that just ended (killed, say) to
#: write its world and let go of the directory
HANDOVER_WAIT = 10.0


class SubprocessLab:
    """The lab of one command (``--lab`` with no background lab), in a child process.

    The simulators get a core and an interpreter of their own: in a thread of the command they
    would share the GIL with the engine (1.8x slower at 100 VMs). The child starts at once and
    imports the simulators while the command loads the spec and the providers; the first
    request waits for it. It answers the same control protocol as ``cozyplan lab up`` on a
    loopback port, but writes no ``lab.json`` (no other command uses it) and lives exactly as
    long as this object: it stops, writing its world, when its stdin closes, so also when the
    command dies. It ignores the terminal's Ctrl-C (a session of its own): the command decides
    when its lab stops.

    With ``standby`` the child imports the simulators and then waits for ``go()`` before it
    touches the directory: the command starts it first thing and validates its spec meanwhile
    (the two take about as long; on two cores they overlap), and a spec that fails validation
    leaves no lab directory behind. The first request sends ``go`` itself if the command did
    not.
    """

    def __init__(
        self,
        directory: Path,
        *,
        time_scale: float = 1.0,
        options: dict[str, Any] | None = None,
        standby: bool = False,
    ) -> None:
        self.time_scale = time_scale
        self.dir = directory
        self._going = not standby
        args = [
            "--dir",
            str(directory.absolute()),
            "--time-scale",
            str(time_scale),
            "--options",
            json.dumps(options or {}),
            "--for-command",
            *(["--standby"] if standby else []),
        ]
        # an interpreter of its own; forked instead in a command of the warm command server
        self._proc = popen_module("cozyplan.lab.runtime", args)
        self._client: LabClient | None = None

    def go(self) -> None:
        """Let a standby child open the lab directory and start its simulators."""
        if not self._going:
            self._going = True
            assert self._proc.stdin is not None
            with contextlib.suppress(OSError):  # it died: _ready reports why
                self._proc.stdin.write(b"go\n")
                self._proc.stdin.flush()

    def _ready(self) -> LabClient:
        if self._client is None:
            self.go()
            assert self._proc.stdout is not None
            line = self._proc.stdout.readline()
            info: dict[str, Any] = json.loads(line) if line.strip() else {}
            if "control_port" not in info:
                code = self._proc.wait()
                raise LabError(info.get("error") or f"the lab exited at start (code {code})")
            self._client = LabClient(info, self.dir)
        return self._client

    def provider_settings(self) -> dict[str, dict[str, Any]]:
        return self._ready().provider_settings()

    def resolve(self, service: str, host: str, port: int) -> tuple[str, int]:
        return self._ready().resolve(service, host, port)

    def status(self) -> dict[str, Any]:
        return self._ready().status()

    def control(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        return self._ready().control(name, args)

    def close(self, wait: float = 60.0) -> None:
        """Stop the lab and wait until its world is written and the directory is free."""
        if not self._going:  # still on standby: it has touched nothing, no need to wait for it
            self._proc.kill()
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        # the child says when its world is written and the directory free, then exits: what
        # is left of its exit (tearing down a process of ~100 MB) need not hold the command
        if not (self._going and self._stopped_line(wait)):
            try:
                self._proc.wait(wait)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def _stopped_line(self, wait: float) -> bool:
        """Read the child's reports until it says it stopped (True) or ends without (False)."""
        out = self._proc.stdout
        if out is None:
            return False
        deadline = time.monotonic() + wait
        with selectors.DefaultSelector() as sel:
            sel.register(out, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return False
                line = out.readline()
                if not line:
                    return False
                if line.strip() == STOPPED:
                    return True

    def __enter__(self) -> SubprocessLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _serve_for_command(runtime: LabRuntime, out: Any) -> None:
    """The child of ``SubprocessLab``: announce the control port on ``out``, serve until stdin
    closes (the command ended or died), then stop."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    await runtime.start()
    token = secrets.token_urlsafe(32)  # announced on the private pipe to the command only
    server = await asyncio.start_server(
        _control_handler(runtime, stop, token, runtime.dir), "127.0.0.1", 0
    )
    info = {
        "pid": os.getpid(),
        "control_port": server.sockets[0].getsockname()[1],
        "token": token,
        "time_scale": runtime.world.time_scale,
    }
    out.write(json.dumps(info) + "\n")
    out.flush()

    def watch_stdin() -> None:  # a daemon thread: it must not keep the process alive
        sys.stdin.buffer.read()
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, name="lab-stdin", daemon=True).start()
    try:
        await stop.wait()
    finally:
        server.close()
        await runtime.stop()


def serve_for_command(
    directory: Path, time_scale: float, options: dict[str, Any], *, standby: bool = False
) -> None:
    # the announcement goes to the real stdout (a pipe to the command); anything a simulator
    # prints goes to stderr, as it did when the lab ran in the command's own process
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    world: WorldFile | None = None
    if standby:
        # the imports, most of a lab's start: the simulators, and what they will need for the
        # world as it is (read, not opened: the directory may not even exist); the world read
        # here is the lab's if the file is still the same once the lab owns the directory
        from cozyplan.lab.framework import WorldFile

        # the imports and the world make ~85,000 containers that live as long as the lab: the
        # cycle collector would scan them over and over, as they are made and then at every
        # full collection while the lab serves, and free none of them (frozen, it does not)
        gc.disable()
        try:
            world = WorldFile.read(directory / WORLD_FILE)
        except (OSError, ValueError):
            world = None  # the lab reports it when it opens the directory
        for cls in simulator_classes():
            cls.preload((world.data if world else {}).get(cls.name) or {})
        gc.freeze()
        gc.enable()
        if sys.stdin.buffer.readline() != b"go\n":  # the command ended before it needed a lab
            os._exit(0)
    runtime = LabRuntime(directory, time_scale=time_scale, options=options, preread=world)
    try:
        runtime.acquire(wait=HANDOVER_WAIT)
    except LabError as exc:
        out.write(json.dumps({"error": str(exc)}) + "\n")
        out.flush()
        sys.exit(1)
    code = 0
    try:
        asyncio.run(_serve_for_command(runtime, out))
    except BaseException as exc:  # e.g. a simulator that cannot start: tell the command
        code = 1
        traceback.print_exc()
        with contextlib.suppress(OSError, ValueError):  # (already announced and gone)
            out.write(json.dumps({"error": f"the lab failed: {exc!r}"}) + "\n")
            out.flush()
    finally:
        runtime.release()
        with contextlib.suppress(OSError, ValueError):  # the command may be gone
            out.write(STOPPED.decode() + "\n")
            out.flush()
        # the world is written; leave without tearing down the interpreter (as the CLI does)
        sys.stderr.flush()
        os._exit(code)


# -- background process -------------------------------------------------------------------------
def read_info(directory: Path) -> dict[str, Any] | None:
    path = directory / INFO_FILE
    try:
        info: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not pid_alive(int(info.get("pid", -1))):
        return None
    return info


class LabClient:
    """Talks to a background lab over its loopback control port."""

    def __init__(self, info: dict[str, Any], directory: Path) -> None:
        self.info = info
        self.dir = directory
        self.time_scale = float(info.get("time_scale", 1.0))

    def request(self, payload: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
        payload = {**payload, "token": self.info.get("token", "")}
        with socket.create_connection(("127.0.0.1", int(self.info["control_port"])), timeout) as s:
            s.sendall(json.dumps(payload).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        reply: dict[str, Any] = json.loads(data or b"{}")
        if "error" in reply:
            raise LabError(reply["error"])
        return reply

    def provider_settings(self) -> dict[str, dict[str, Any]]:
        settings: dict[str, dict[str, Any]] = self.request({"op": "settings"})["settings"]
        return settings

    def resolve(self, service: str, host: str, port: int) -> tuple[str, int]:
        reply = self.request({"op": "resolve", "service": service, "host": host, "port": port})
        return str(reply["host"]), int(reply["port"])

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.request({"op": "status"})["status"]
        return status

    def control(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.request({"op": "control", "simulator": name, "args": args})[
            "result"
        ]
        return result

    def shutdown(self) -> None:
        with contextlib.suppress(OSError, json.JSONDecodeError, LabError):
            self.request({"op": "shutdown"}, timeout=10)

    def close(self) -> None:
        pass


def _write_private(path: Path, data: bytes) -> None:
    """Write ``path`` whole and readable by its owner only (0600 from the start)."""
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _control_handler(
    runtime: LabRuntime, stop: asyncio.Event, token: str, directory: Path
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """The control port: one JSON request line, one JSON response line per connection, answered
    only when the request carries the lab's token."""

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            try:
                request = json.loads(line or b"{}")
            except (json.JSONDecodeError, UnicodeDecodeError):
                request = None
            given = request.get("token") if isinstance(request, dict) else None
            if not isinstance(given, str) or not secrets.compare_digest(given, token):
                reply: dict[str, Any] = {
                    "error": f"not authorised: the lab's control port needs the token in "
                    f"{directory / INFO_FILE}"
                }
            elif request.get("op") == "shutdown":
                reply = {"ok": True}
                stop.set()
            else:
                try:
                    reply = await runtime.handle_request(request)
                except Exception as exc:  # reported to the client, the lab keeps running
                    reply = {"error": str(exc)}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()

    return on_client


async def _serve(runtime: LabRuntime, directory: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await runtime.start()
    token = secrets.token_urlsafe(32)
    server = await asyncio.start_server(
        _control_handler(runtime, stop, token, directory), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    info = {
        "pid": os.getpid(),
        "control_port": port,
        "token": token,
        "time_scale": runtime.world.time_scale,
        "started": time.time(),
    }
    _write_private(directory / INFO_FILE, json.dumps(info).encode())
    try:
        await stop.wait()
    finally:
        server.close()
        await runtime.stop()
        with contextlib.suppress(FileNotFoundError):
            (directory / INFO_FILE).unlink()


def serve_forever(directory: Path, time_scale: float, options: dict[str, Any]) -> None:
    runtime = LabRuntime(directory, time_scale=time_scale, options=options)
    runtime.acquire()
    try:
        asyncio.run(_serve(runtime, directory))
    finally:
        runtime.release()


def start_background(
    directory: Path,
    *,
    time_scale: float = 1.0,
    options: dict[str, Any] | None = None,
    wait: float = 60.0,
) -> dict[str, Any]:
    """Start ``serve_forever`` in a detached process; return its info once it answers."""
    directory.mkdir(parents=True, exist_ok=True)
    existing = read_info(directory)
    if existing is not None:
        raise LabError(f"a lab is already running in {directory} (pid {existing['pid']})")
    log = open(directory / "lab.log", "ab")  # noqa: SIM115 - handed to the child
    cmd = [
        sys.executable,
        "-m",
        "cozyplan.lab.runtime",
        "--dir",
        str(directory),
        "--time-scale",
        str(time_scale),
        "--options",
        json.dumps(options or {}),
    ]
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
    )
    log.close()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        info = read_info(directory)
        if info is not None and info.get("pid") == proc.pid:
            return info
        if proc.poll() is not None:
            tail = (directory / "lab.log").read_text(errors="replace")[-2000:]
            raise LabError(f"the lab exited at start (code {proc.returncode}):\n{tail}")
        time.sleep(0.05)
    proc.terminate()
    raise LabError(f"the lab did not start within {wait:.0f}s; see {directory / 'lab.log'}")


def stop_background(directory: Path, wait: float = 30.0) -> bool:
    info = read_info(directory)
    if info is None:
        return False
    LabClient(info, directory).shutdown()
    pid = int(info["pid"])
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True


@contextlib.contextmanager
def lab_session(
    directory: Path,
    *,
    time_scale: float = 1.0,
    options: dict[str, Any] | None = None,
    standby: bool = False,
) -> Iterator[LabHandle]:
    """The running background lab if there is one, else a lab of this block's own (a child
    process, see ``SubprocessLab``; ``standby``: it opens the directory at its first request or
    at ``start_lab(handle)``)."""
    info = read_info(directory)
    if info is not None:
        yield LabClient(info, directory)
        return
    lab = SubprocessLab(directory, time_scale=time_scale, options=options, standby=standby)
    try:
        yield lab
    finally:
        lab.close()


def start_lab(handle: LabHandle) -> None:
    """Let the lab of ``lab_session(..., standby=True)`` start now (no-op for a running lab)."""
    if isinstance(handle, SubprocessLab):
        handle.go()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cozyplan.lab.runtime")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--options", default="{}")
    parser.add_argument(
        "--for-command", action="store_true", help="serve one command (see SubprocessLab)"
    )
    parser.add_argument(
        "--standby", action="store_true", help="with --for-command: wait for 'go' on stdin"
    )
    args = parser.parse_args(argv)
    args.dir = args.dir or default_lab_dir()
    if args.for_command:
        serve_for_command(args.dir, args.time_scale, json.loads(args.options), standby=args.standby)
    serve_forever(args.dir, args.time_scale, json.loads(args.options))


if __name__ == "__main__":
    main()
