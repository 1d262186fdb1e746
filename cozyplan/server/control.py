"""Starting, stopping and asking the command server (``cozyplan server start|stop|status``)."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cozyplan.pids import pid_alive
from cozyplan.server import server_dir, socket_path, wire
from cozyplan.server.daemon import DEFAULT_IDLE_TIMEOUT, ServerError, _check_private

START_TIMEOUT = 60.0


def log_path(path: Path | None = None) -> Path:
    sock = path or Path(socket_path())
    return sock.with_name(sock.stem + ".log")


def start(*, idle_timeout: float = DEFAULT_IDLE_TIMEOUT, wait: bool = True) -> dict[str, Any]:
    """Start this environment's server in the background; with ``wait``, return once it
    answers (its status). Raises ServerError if one already runs or it fails to start."""
    if not hasattr(socket, "SO_PEERCRED"):
        raise ServerError("the command server needs Linux (it checks its clients' user)")
    path = Path(socket_path())
    directory = Path(server_dir())
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_private(directory)
    running = request({"op": "status"})
    if running is not None:
        raise ServerError(f"a cozyplan server already runs (pid {running['pid']}) on {path}")
    log = os.open(log_path(path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-P",  # nothing from the working directory shadows an installed module
                "-m",
                "cozyplan.server.daemon",
                "--socket",
                str(path),
                "--idle-timeout",
                str(idle_timeout),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if wait else subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,  # not the terminal's: Ctrl-C in the shell leaves it alone
            cwd="/",
        )
    finally:
        os.close(log)
    if not wait:
        return {"pid": proc.pid, "socket": str(path)}
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    # the server says "ready" once it listens, or why it cannot start, then closes its stdout
    ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT)
    if not ready:
        proc.kill()
        proc.stdout.close()
        raise ServerError(
            f"the server did not start within {START_TIMEOUT:.0f} s (log: {log_path(path)})"
        )
    line = proc.stdout.readline().decode(errors="replace").strip()
    proc.stdout.close()
    if not line.startswith("ready"):
        code = proc.poll()
        detail = line.removeprefix("cozyplan server: ") or f"exit code {code}"
        raise ServerError(f"the server did not start: {detail} (log: {log_path(path)})")
    while time.monotonic() < deadline:
        status = request({"op": "status"})
        if status is not None:
            return status
        time.sleep(0.01)
    raise ServerError(f"the server started but does not answer on {path}")


def stop(wait: float = 30.0) -> dict[str, Any] | None:
    """Ask the server to stop (it lets running commands finish); None if none runs."""
    status = request({"op": "status"})
    if status is None:
        return None
    request({"op": "stop"})
    pid = int(status["pid"])
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.02)
    return status


def request(message: dict[str, Any]) -> dict[str, Any] | None:
    """One request to the server and its answer; None if no server answers."""
    from cozyplan.server.client import connect

    sock = connect()
    if sock is None:
        return None
    with sock:
        sock.settimeout(10.0)
        try:
            wire.send(sock, message)
            got = wire.recv(sock)
        except (OSError, wire.WireError):
            return None
    return got[0] if got else None


__all__ = ["ServerError", "log_path", "request", "start", "stop"]
