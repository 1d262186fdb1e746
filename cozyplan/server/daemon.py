"""The command server's process: import once, then fork a process per command.

One thread, one ``selectors`` loop over the listening socket, the connected clients and a
wake-up pipe for ``SIGCHLD``/``SIGTERM``:

- a client's ``run`` request (with its stdio descriptors) is checked: same cozyplan version,
  interpreter and ``sys.path`` as this server, and the code on disk unchanged since the server
  started (``fingerprint``). If not, the server refuses (the client runs the command itself);
  if the code changed, the server also exits. Otherwise it forks (``child.become_command``) and
  answers with the child's pid;
- a client's ``signal`` message is passed on to its command (Ctrl-C, ``kill``);
- a client that disconnects before its command ended was killed: its command is killed too
  (its whole session, with ``SIGKILL``), as it would have been without the server;
- a reaped child's status goes back to its client (exit code, or the signal it died of);
- ``status`` answers what the server is doing; ``stop`` (or ``SIGTERM``) stops accepting
  commands, lets the running ones finish, and exits. The server also exits after
  ``idle_timeout`` seconds without a command.

A single instance per socket: the server holds an ``flock`` on ``<socket>.lock`` while it
lives, and only the holder may (re)create the socket.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import gc
import os
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cozyplan import __version__
from cozyplan.errors import CozyplanError
from cozyplan.server import fingerprint, interpreter, package_dir, wire
from cozyplan.server.spawn import run_and_exit

DEFAULT_IDLE_TIMEOUT = 3 * 3600.0
#: the only signals a client may have passed on to its command
FORWARDABLE = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT})
REQUEST_TIMEOUT = 10.0


class ServerError(CozyplanError):
    """The server cannot start, or cannot be reached."""


class Server:
    def __init__(self, path: Path, idle_timeout: float = DEFAULT_IDLE_TIMEOUT) -> None:
        self.path = path
        self.idle_timeout = idle_timeout
        self.started = time.time()
        self.served = 0
        self.refused = 0
        self.stopping = False
        #: pid -> the client connection waiting for its status (None once the client is gone)
        self.children: dict[int, socket.socket | None] = {}
        self._idle_since = time.monotonic()
        self._sel = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._lock_fd = -1
        self._wake_r, self._wake_w = os.pipe()
        self._roots: list[Path] = []
        self._stamps: frozenset[fingerprint.Stamp] = frozenset()

    # -- start ------------------------------------------------------------------------------
    def lock(self) -> None:
        """Become the one server of this socket, or raise ServerError naming the holder."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _check_private(self.path.parent)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ServerError(
                f"a cozyplan server already runs on {self.path} (pid {holder})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def prepare(self, packages: list[str]) -> None:
        self._roots = fingerprint.package_roots(packages)
        self._stamps = fingerprint.take(self._roots)

    def listen(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a dead server's socket: the lock says no server lives
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        sock.listen(64)
        sock.setblocking(False)
        self._listener = sock
        self._sel.register(sock, selectors.EVENT_READ, self._accept)
        os.set_blocking(self._wake_w, False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, self._woken)
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, _noop)
        signal.signal(signal.SIGTERM, _noop)
        signal.signal(signal.SIGINT, _noop)

    # -- loop -------------------------------------------------------------------------------
    def serve(self) -> None:
        self._idle_since = time.monotonic()
        while True:
            timeout = None
            if not self.children:
                if self.stopping:
                    break
                left = self.idle_timeout - (time.monotonic() - self._idle_since)
                if left <= 0:
                    break
                timeout = left
            for key, _events in self._sel.select(timeout):
                handler: Callable[[Any], None] = key.data
                handler(key.fileobj)
            self._reap()
        self.close()

    def close(self) -> None:
        self._stop_listening()
        for conn in self.children.values():
            if conn is not None:
                conn.close()
        self._sel.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def _stop_listening(self) -> None:
        if self._listener is not None:
            self._sel.unregister(self._listener)
            self._listener.close()
            self._listener = None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def _woken(self, _fileobj: Any) -> None:
        with contextlib.suppress(BlockingIOError):
            signums = os.read(self._wake_r, 512)
            if signal.SIGTERM in signums or signal.SIGINT in signums:
                self._begin_stop()

    def _begin_stop(self) -> None:
        self.stopping = True
        self._stop_listening()

    # -- clients ----------------------------------------------------------------------------
    def _accept(self, listener: socket.socket) -> None:
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        conn.setblocking(True)
        conn.settimeout(REQUEST_TIMEOUT)  # a client sends its request at once
        fds: list[int] = []
        try:
            if wire.peer_uid(conn) != os.getuid():
                raise wire.WireError("a client of another user")
            got = wire.recv(conn, max_fds=3)
            if got is None:
                raise wire.WireError("no request")
            message, fds = got
            self._handle(conn, message, fds)
        except (OSError, wire.WireError) as exc:
            _close_fds(fds)
            conn.close()
            print(f"cozyplan server: a client failed: {exc}", file=sys.stderr)
        except Exception:  # a bug here must not take the server down: log it, drop the client
            _close_fds(fds)
            conn.close()
            traceback.print_exc()

    def _handle(self, conn: socket.socket, message: dict[str, Any], fds: list[int]) -> None:
        op = message.get("op")
        if op != "run":
            _close_fds(fds)  # only a command's request brings descriptors to keep
        if op == "status":
            wire.send(conn, self.status())
            conn.close()
        elif op == "stop":
            wire.send(conn, {"stopping": True, "running": len(self.children)})
            conn.close()
            self._begin_stop()
        elif op == "run":
            reason = self._refusal(message, fds)
            if reason is not None:
                self.refused += 1
                _close_fds(fds)
                wire.send(conn, {"refused": reason})
                conn.close()
                if reason == "stale":
                    self._begin_stop()
                return
            self._fork(conn, message, fds)
        else:
            raise wire.WireError(f"unknown request {op!r}")

    def _refusal(self, message: dict[str, Any], fds: list[int]) -> str | None:
        if self.stopping:
            return "stopping"
        if len(fds) != 3:
            return "no stdio"
        if not _well_formed(message):
            return "malformed"
        if (
            message.get("version") != __version__
            or message.get("executable") != interpreter()
            or message.get("package") != package_dir()
            or message.get("path") != sys.path
        ):
            return "environment"
        if fingerprint.take(self._roots) != self._stamps:
            return "stale"
        if threading.active_count() != 1:  # forking would copy locks held by other threads
            return "threads"
        return None

    def _fork(self, conn: socket.socket, message: dict[str, Any], fds: list[int]) -> None:
        pid = os.fork()
        if pid == 0:

            def command() -> None:
                self._in_child(conn)
                from cozyplan.server.child import become_command

                become_command(message, fds)  # run_local leaves with os._exit

            run_and_exit(command, failed=70)  # (SystemExit under a profiler or tracer)
        _close_fds(fds)
        self.served += 1
        self.children[pid] = conn
        try:
            conn.settimeout(None)
            wire.send(conn, {"pid": pid})
            self._sel.register(conn, selectors.EVENT_READ, self._from_client)
        except OSError:  # the client is already gone: so must its command be
            self._client_gone(conn)

    def _in_child(self, conn: socket.socket) -> None:
        """Drop, in the fresh child, everything of the server's: its loop, listener, lock,
        other clients and signal wake-ups."""
        signal.set_wakeup_fd(-1)
        for other in self.children.values():
            if other is not None and other is not conn:
                other.close()
        conn.close()
        if self._listener is not None:
            self._listener.close()
        self._sel.close()
        for fd in (self._wake_r, self._wake_w, self._lock_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _from_client(self, conn: socket.socket) -> None:
        try:
            got = wire.recv(conn)
        except (OSError, wire.WireError):
            got = None
        if got is None:
            self._client_gone(conn)
            return
        sig = got[0].get("signal")
        pid = self._pid_of(conn)
        if pid is not None and sig in FORWARDABLE:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, int(sig))

    def _client_gone(self, conn: socket.socket) -> None:
        """The client died (it was killed: a finished command's client waits for its status):
        the command dies with it, with everything in its session."""
        pid = self._pid_of(conn)
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(conn)
        conn.close()
        if pid is None:
            return
        self.children[pid] = None
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:  # not yet its own session leader
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _pid_of(self, conn: socket.socket) -> int | None:
        for pid, other in self.children.items():
            if other is conn:
                return pid
        return None

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if not self.children:
                self._idle_since = time.monotonic()
            if conn is None:
                continue
            if os.WIFSIGNALED(status):
                report = {"signal": os.WTERMSIG(status)}
            else:
                report = {"exit": os.waitstatus_to_exitcode(status)}
            with contextlib.suppress(OSError):
                wire.send(conn, report)
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(conn)
            conn.close()

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "version": __version__,
            "socket": str(self.path),
            "started": self.started,
            "served": self.served,
            "refused": self.refused,
            "running": len(self.children),
            "idle_timeout": self.idle_timeout,
            "modules": len(sys.modules),
            "rss_kb": _rss_kb(),
        }


def _well_formed(message: dict[str, Any]) -> bool:
    """A run request has what ``child.become_command`` takes, with the right types."""
    argv, env = message.get("argv"), message.get("env")
    return (
        isinstance(argv, list)
        and all(isinstance(a, str) for a in argv)
        and isinstance(message.get("cwd"), str)
        and isinstance(message.get("umask"), int)
        and isinstance(env, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
    )


def _noop(_signum: int, _frame: object) -> None:
    """A handler, so that the signal wakes the loop through the wake-up pipe."""


def _close_fds(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _check_private(directory: Path) -> None:
    st = directory.lstat()
    if directory.is_symlink() or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise ServerError(
            f"{directory} must be a directory of this user's only (mode 0700, not a symlink)"
        )


def _rss_kb() -> int:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -P -m cozyplan.server.daemon")
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT)
    args = parser.parse_args(argv)
    server = Server(args.socket, args.idle_timeout)
    try:
        server.lock()
    except ServerError as exc:
        print(f"cozyplan server: {exc}", flush=True)
        sys.exit(1)
    from cozyplan.server.warm import warm

    packages = warm()
    server.prepare(packages)
    server.listen()
    gc.collect()
    gc.freeze()  # what the children share stays shared: the collector never writes to it
    print(f"ready {os.getpid()}", flush=True)  # to ``control.start``, which waits for it
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    server.serve()


if __name__ == "__main__":
    main()
