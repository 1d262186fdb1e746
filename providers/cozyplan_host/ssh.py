"""One SSH connection per host, shared by every step (channels are multiplexed on it).

Every remote command is built from an argv list with ``shlex.join``: nothing from the spec ever
reaches the remote shell unquoted. File contents travel over SFTP, never on a command line.
Errors name the host and the step, and say what the engine should do next.
"""

from __future__ import annotations

import asyncio
import shlex
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cozyplan.lazyimport import lazy
from cozyplan.provider import PermanentError, ProviderContext, TemporaryError
from cozyplan_host.config import ResolvedHost

if TYPE_CHECKING:
    import asyncssh
else:
    asyncssh = lazy("asyncssh")  # loads with the first connection, not with the provider

MAX_CHANNELS = 8  # OpenSSH's MaxSessions is 10 by default
TAIL_LINES = 20


@dataclass(frozen=True)
class Result:
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


def command_line(argv: Sequence[str], *, cwd: str | None = None, sudo: bool = False) -> str:
    """The remote shell line for ``argv``: every word quoted, optional ``cd`` and ``sudo``."""
    words = ["sudo", "-n", "--", *argv] if sudo else list(argv)
    line = shlex.join(words)
    return f"cd {shlex.quote(cwd)} && {line}" if cwd else line


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def _detail(stdout: str, stderr: str) -> str | None:
    parts = []
    if stdout.strip():
        parts.append("stdout (tail):\n" + tail(stdout))
    if stderr.strip():
        parts.append("stderr (tail):\n" + tail(stderr))
    return "\n".join(parts) or None


class HostConnection:
    """The (lazily opened, reused) SSH connection to one configured host."""

    def __init__(self, host: ResolvedHost, ctx: ProviderContext) -> None:
        self.host = host
        self.ctx = ctx
        self._conn: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()
        self._channels = asyncio.Semaphore(MAX_CHANNELS)

    @property
    def label(self) -> str:
        return f"host {self.host.name} ({self.host.address}:{self.host.port})"

    # -- connecting -------------------------------------------------------------------------
    def _trusted_keys(
        self,
    ) -> tuple[list[asyncssh.SSHKey], list[asyncssh.SSHKey], list[asyncssh.SSHKey]]:
        h = self.host
        if h.host_key:
            return [asyncssh.import_public_key(h.host_key)], [], []
        if not h.known_hosts_file.is_file():
            raise PermanentError(
                f"{self.label}: known_hosts_file {h.known_hosts_file} does not exist; set "
                "host_key or known_hosts_file (cozyplan never trusts an unknown host key)"
            )
        known = asyncssh.read_known_hosts(str(h.known_hosts_file))
        match = known.match(h.address, h.address, h.port)
        keys, ca_keys, revoked = list(match[0]), list(match[1]), list(match[2])
        if not keys and not ca_keys:
            raise PermanentError(
                f"{self.label}: no host key for {h.address} in {h.known_hosts_file}; add it "
                "(ssh-keyscan, checked out of band) or set host_key: cozyplan never trusts an "
                "unknown host key on first use"
            )
        return keys, ca_keys, revoked

    def _client_keys(self) -> list[asyncssh.SSHKey] | None:
        h = self.host
        try:
            if h.private_key:
                return [asyncssh.import_private_key(h.private_key)]
            if h.private_key_file:
                return [asyncssh.read_private_key(str(h.private_key_file))]
        except (asyncssh.KeyImportError, OSError) as exc:
            where = h.private_key_file or "private_key"
            raise PermanentError(
                f"{self.label}: cannot load the private key {where}: {type(exc).__name__}"
            ) from None
        return None  # asyncssh's defaults: the agent and ~/.ssh/id_*

    async def _connect(self) -> asyncssh.SSHClientConnection:
        h = self.host
        trusted = self._trusted_keys()
        keys = self._client_keys()
        real_host, real_port = await asyncio.to_thread(
            self.ctx.resolve_endpoint, "ssh", h.address, h.port
        )
        try:
            return await asyncio.wait_for(
                asyncssh.connect(
                    real_host,
                    real_port,
                    username=h.user,
                    known_hosts=trusted,
                    client_keys=keys,
                    agent_path=None if keys else (),
                    config=None,
                    connect_timeout=h.connect_timeout,
                    keepalive_interval=30,
                ),
                h.connect_timeout,
            )
        except asyncssh.HostKeyNotVerifiable:
            source = "host_key" if h.host_key else str(h.known_hosts_file)
            raise PermanentError(
                f"{self.label}: host key verification failed: the server's key is not the one "
                f"pinned in {source} (possible man-in-the-middle, or the host was reinstalled)"
            ) from None
        except asyncssh.PermissionDenied:
            raise PermanentError(
                f"{self.label}: authentication failed: the server refused our key for user "
                f"{h.user!r}"
            ) from None
        except TimeoutError:
            raise TemporaryError(
                f"{self.label}: connection timed out after {h.connect_timeout:g}s"
            ) from None
        except (OSError, asyncssh.DisconnectError, asyncssh.ConnectionLost) as exc:
            raise TemporaryError(f"{self.label}: cannot connect: {exc}") from None

    async def connection(self) -> asyncssh.SSHClientConnection:
        async with self._lock:
            if self._conn is None or self._conn.is_closed():
                self._conn = await self._connect()
            return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            await self._conn.wait_closed()
            self._conn = None

    def _lost(self, step: str, exc: BaseException) -> TemporaryError:
        self._conn = None
        return TemporaryError(f"{self.label}: connection lost during step '{step}': {exc}")

    # -- running ----------------------------------------------------------------------------
    async def run(
        self,
        argv: Sequence[str],
        *,
        step: str,
        cwd: str | None = None,
        sudo: bool | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> Result:
        """Run ``argv`` on the host; with ``check``, a non-zero exit is a PermanentError."""
        line = command_line(argv, cwd=cwd, sudo=self.host.sudo if sudo is None else sudo)
        limit = timeout or self.host.command_timeout
        conn = await self.connection()
        async with self._channels:
            try:
                done = await conn.run(
                    line, check=False, timeout=limit, stdin=asyncssh.DEVNULL, encoding=None
                )
            except asyncssh.TimeoutError as exc:
                raise PermanentError(
                    f"{self.label}: step '{step}' timed out after {limit:g}s: {line}",
                    detail=_detail(_text(exc.stdout), _text(exc.stderr)),
                ) from None
            except (asyncssh.ConnectionLost, asyncssh.DisconnectError, OSError) as exc:
                raise self._lost(step, exc) from None
        result = Result(
            done.exit_status if done.exit_status is not None else 255,
            _text(done.stdout),
            _text(done.stderr),
        )
        if check and not result.ok:
            signal = f" (signal {done.exit_signal[0]})" if done.exit_signal else ""
            raise PermanentError(
                f"{self.label}: step '{step}' failed with exit status "
                f"{result.exit_status}{signal}: {line}",
                detail=_detail(result.stdout, result.stderr),
            )
        return result

    async def run_bytes(self, argv: Sequence[str], *, step: str) -> bytes:
        """Run ``argv`` (must succeed) and return its raw standard output."""
        line = command_line(argv, sudo=self.host.sudo)
        conn = await self.connection()
        async with self._channels:
            try:
                done = await conn.run(
                    line,
                    check=False,
                    timeout=self.host.command_timeout,
                    stdin=asyncssh.DEVNULL,
                    encoding=None,
                )
            except asyncssh.TimeoutError:
                raise PermanentError(f"{self.label}: step '{step}' timed out: {line}") from None
            except (asyncssh.ConnectionLost, asyncssh.DisconnectError, OSError) as exc:
                raise self._lost(step, exc) from None
        if done.exit_status != 0:
            raise PermanentError(
                f"{self.label}: step '{step}' failed with exit status {done.exit_status}: {line}",
                detail=_detail("", _text(done.stderr)),
            )
        return done.stdout if isinstance(done.stdout, bytes) else _text(done.stdout).encode()

    async def upload(self, path: str, data: bytes, *, step: str) -> None:
        """Write ``data`` to ``path`` over SFTP (as the login user)."""
        conn = await self.connection()
        async with self._channels:
            try:
                async with (
                    conn.start_sftp_client() as sftp,
                    sftp.open(path, "wb", asyncssh.SFTPAttrs(permissions=0o600)) as fh,
                ):
                    await fh.write(data)
            except asyncssh.SFTPError as exc:
                raise PermanentError(
                    f"{self.label}: step '{step}' cannot upload {path}: {exc.reason}"
                ) from None
            except (asyncssh.ConnectionLost, asyncssh.DisconnectError, OSError) as exc:
                raise self._lost(step, exc) from None

    def temp_name(self, near: str | None = None) -> str:
        """A fresh temporary path next to ``near`` (same filesystem) or in /tmp."""
        token = uuid.uuid4().hex[:12]
        if near is None:
            return f"/tmp/.cozyplan-{token}"
        head, _, name = near.rpartition("/")
        return f"{head}/.{name}.cozyplan-{token}"


def _text(data: object) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return str(data or "")
