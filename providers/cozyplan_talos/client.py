"""A small async client of the Talos machine API (grpclib + the betterproto stubs).

It connects to where ``resolve_endpoint`` says but verifies TLS against the node's own name or
address (``server_hostname``), and turns failures into the engine's error types:
unreachable / rebooting / not ready -> ``TemporaryError``; rejected -> ``PermanentError``.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import ssl
import tarfile
from dataclasses import dataclass
from types import TracebackType

import betterproto.lib.google.protobuf as pb
from grpclib.client import Channel
from grpclib.config import Configuration
from grpclib.const import Status
from grpclib.exceptions import GRPCError, StreamTerminatedError
from talos_linux_api.v1_6_0 import machine as m

from cozyplan.provider import PermanentError, TemporaryError
from cozyplan_talos import tlsctx
from cozyplan_talos.errors import NotOurCluster
from cozyplan_talos.talosconfig import Credentials

MODES = {
    "reboot": m.ApplyConfigurationRequestMode.REBOOT,
    "auto": m.ApplyConfigurationRequestMode.AUTO,
    "no_reboot": m.ApplyConfigurationRequestMode.NO_REBOOT,
    "staged": m.ApplyConfigurationRequestMode.STAGED,
}
_TEMPORARY_STATUS = {
    Status.UNAVAILABLE,
    Status.DEADLINE_EXCEEDED,
    Status.ABORTED,
    Status.RESOURCE_EXHAUSTED,
    Status.CANCELLED,
}


@dataclass(frozen=True)
class ApplyResult:
    mode: str  # the mode the node actually used
    details: str
    warnings: list[str]


def _status_name(status: Status) -> str:
    return status.name


def translate(exc: BaseException, what: str, node: str) -> Exception:
    """The engine error for a failed call, with the node's own message."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_code in (62, 64):
        # X509_V_ERR_HOSTNAME_MISMATCH / X509_V_ERR_IP_ADDRESS_MISMATCH
        return PermanentError(f"{what} on {node}: {exc.verify_message}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return NotOurCluster(f"{node}: {exc.verify_message or exc}")
    if isinstance(exc, GRPCError):
        msg = f"{what} on {node}: {exc.message or _status_name(exc.status)}"
        if exc.status in _TEMPORARY_STATUS:
            return TemporaryError(msg, delay=5)
        return PermanentError(f"{msg} ({_status_name(exc.status)})")
    if isinstance(exc, ssl.SSLError):
        return TemporaryError(f"{what} on {node}: TLS handshake failed: {exc.reason or exc}")
    if isinstance(exc, ConnectionRefusedError):
        # nothing listens on :50000 yet: the node is (re)booting, as expected after a start,
        # an install or a config apply
        return TemporaryError(
            f"waiting for {node} to reboot",
            delay=5,
            expected=True,
            detail=f"{what}: nothing listens on its Talos API ({exc}): rebooting, or powered off",
        )
    if isinstance(exc, OSError | asyncio.TimeoutError | StreamTerminatedError | EOFError):
        reason = str(exc) or type(exc).__name__
        return TemporaryError(
            f"{what} on {node}: node unreachable or rebooting ({reason})", delay=5
        )
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


class TalosClient:
    """One connection to one node's apid (:50000)."""

    def __init__(
        self,
        connect: tuple[str, int],
        node: str,
        creds: Credentials | None,
        *,
        timeout: float = 30.0,
    ) -> None:
        self.node = node
        self.timeout = timeout
        ctx = tlsctx.mutual(creds) if creds is not None else tlsctx.insecure()
        self._channel = Channel(
            connect[0],
            connect[1],
            ssl=ctx,
            config=Configuration(ssl_target_name_override=node),
        )
        self._stub = m.MachineServiceStub(self._channel, timeout=timeout)

    async def __aenter__(self) -> TalosClient:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    async def _call(self, what: str, coro: object) -> object:
        try:
            return await asyncio.wait_for(coro, self.timeout)  # type: ignore[arg-type]
        except Exception as exc:
            raise translate(exc, what, self.node) from None

    async def version(self) -> str:
        resp = await self._call("Version", self._stub.version(pb.Empty()))
        assert isinstance(resp, m.VersionResponse)
        return resp.messages[0].version.tag if resp.messages else ""

    async def answers_without_client_cert(self) -> bool:
        """Version without a client certificate: True when answered (maintenance mode), False
        when the node drops us after the handshake (it demands a certificate: configured).
        Refused or timed out raises TemporaryError."""
        try:
            await asyncio.wait_for(self._stub.version(pb.Empty()), self.timeout)
        except (ssl.SSLError, StreamTerminatedError, ConnectionResetError, EOFError):
            return False
        except Exception as exc:
            raise translate(exc, "Version", self.node) from None
        return True

    async def apply(self, data: bytes, mode: str, *, dry_run: bool = False) -> ApplyResult:
        req = m.ApplyConfigurationRequest(data=data, mode=MODES[mode], dry_run=dry_run)
        resp = await self._call("ApplyConfiguration", self._stub.apply_configuration(req))
        assert isinstance(resp, m.ApplyConfigurationResponse)
        msg = resp.messages[0] if resp.messages else m.ApplyConfiguration()
        actual = next((k for k, v in MODES.items() if v == msg.mode), "auto")
        return ApplyResult(actual, msg.mode_details, list(msg.warnings))

    async def bootstrap(self) -> bool:
        """Bootstrap etcd; False when the node says it is already bootstrapped."""
        try:
            await asyncio.wait_for(self._stub.bootstrap(m.BootstrapRequest()), self.timeout)
        except GRPCError as exc:
            if exc.status is Status.ALREADY_EXISTS:
                return False
            if exc.status is Status.FAILED_PRECONDITION and "control plane" in (exc.message or ""):
                raise PermanentError(f"Bootstrap on {self.node}: {exc.message}") from None
            if exc.status is Status.FAILED_PRECONDITION:
                # "bootstrap is not available yet", "time is not in sync": wait and retry
                raise TemporaryError(
                    f"Bootstrap on {self.node}: {exc.message} (node not ready yet)", delay=5
                ) from None
            raise translate(exc, "Bootstrap", self.node) from None
        except Exception as exc:
            raise translate(exc, "Bootstrap", self.node) from None
        return True

    async def etcd_members(self) -> list[str] | None:
        """Hostnames of the etcd members; None when the node answers but cannot tell
        (etcd not running yet, worker node). Unreachable is a TemporaryError."""
        peers = await self.etcd_peers()
        return None if peers is None else [name for name, _ in peers]

    async def etcd_peers(self) -> list[tuple[str, list[str]]] | None:
        """(hostname, peer URLs) of each etcd member; None as for ``etcd_members``."""
        try:
            resp = await asyncio.wait_for(
                self._stub.etcd_member_list(m.EtcdMemberListRequest()), self.timeout
            )
        except GRPCError:
            return None
        except Exception as exc:
            raise translate(exc, "EtcdMemberList", self.node) from None
        return [
            (member.hostname, list(member.peer_urls))
            for msg in resp.messages
            for member in msg.members
        ]

    async def kubeconfig(self) -> bytes:
        """The admin kubeconfig: the node streams a .tar.gz holding one ``kubeconfig`` file."""

        async def collect() -> bytes:
            buf = bytearray()
            async for chunk in self._stub.kubeconfig(pb.Empty()):
                buf.extend(chunk.bytes)
            return bytes(buf)

        raw = await self._call("Kubeconfig", collect())
        assert isinstance(raw, bytes)
        try:
            with tarfile.open(fileobj=io.BytesIO(gzip.decompress(raw)), mode="r:") as tar:
                member = tar.extractfile("kubeconfig")
                if member is None:
                    raise KeyError("kubeconfig")
                return member.read()
        except (OSError, tarfile.TarError, KeyError, EOFError) as exc:
            raise PermanentError(f"Kubeconfig on {self.node}: unexpected archive ({exc})") from None
