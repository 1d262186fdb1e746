"""The MachineService a simulated node serves over grpclib, with the real stubs' messages.

Maintenance mode serves only ApplyConfiguration and Version (anything else: UNIMPLEMENTED, as
Talos's maintenance service). Configured nodes check the client certificate's roles (its
Organization) like apid: reads need os:reader or better, changes need os:admin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import betterproto.lib.google.protobuf as pb
from grpclib.const import Cardinality, Handler, Status
from grpclib.exceptions import GRPCError
from grpclib.server import Stream
from talos_linux_api.v1_6_0 import common
from talos_linux_api.v1_6_0 import machine as m

if TYPE_CHECKING:
    from cozyplan.lab.talos.node import SimNode

KUBECONFIG_CHUNK = 512
_ADMIN = {"os:admin"}
_READ = {"os:admin", "os:operator", "os:reader"}


def _roles(stream: Stream[Any, Any]) -> set[str]:
    cert = stream.peer.cert() or {}
    roles: set[str] = set()
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "organizationName":
                roles.add(str(value))
    return roles


class MachineService:
    """grpclib handler; the node decides, this class only speaks the protocol."""

    def __init__(self, node: SimNode) -> None:
        self.node = node

    def _meta(self) -> common.Metadata:
        return common.Metadata(hostname=self.node.hostname)

    def _require(self, stream: Stream[Any, Any], allowed: set[str]) -> None:
        if self.node.maintenance:
            return
        if not _roles(stream) & allowed:
            raise GRPCError(Status.PERMISSION_DENIED, "not authorized")

    async def version(self, stream: Stream[pb.Empty, m.VersionResponse]) -> None:
        await stream.recv_message()
        self._require(stream, _READ)
        await stream.send_message(
            m.VersionResponse(
                messages=[
                    m.Version(
                        metadata=self._meta(),
                        version=m.VersionInfo(
                            tag=self.node.talos_version,
                            os="Talos",
                            arch="amd64",
                            go_version="go1.24.5",
                        ),
                        platform=m.PlatformInfo(name="nocloud", mode="cloud"),
                        features=m.FeaturesInfo(rbac=True),
                    )
                ]
            )
        )

    async def apply_configuration(
        self, stream: Stream[m.ApplyConfigurationRequest, m.ApplyConfigurationResponse]
    ) -> None:
        req = await stream.recv_message()
        assert req is not None
        self._require(stream, _ADMIN)
        mode, details = await self.node.apply(req.data, req.mode, req.dry_run)
        await stream.send_message(
            m.ApplyConfigurationResponse(
                messages=[
                    m.ApplyConfiguration(
                        metadata=self._meta(),
                        mode=mode,
                        mode_details=details,
                    )
                ]
            )
        )

    async def bootstrap(self, stream: Stream[m.BootstrapRequest, m.BootstrapResponse]) -> None:
        await stream.recv_message()
        self._require(stream, _ADMIN)
        self.node.bootstrap()
        await stream.send_message(
            m.BootstrapResponse(messages=[m.Bootstrap(metadata=self._meta())])
        )

    async def etcd_member_list(
        self, stream: Stream[m.EtcdMemberListRequest, m.EtcdMemberListResponse]
    ) -> None:
        await stream.recv_message()
        self._require(stream, _READ)
        members = [
            m.EtcdMember(
                id=i + 1,
                hostname=name,
                peer_urls=[f"https://{ip}:2380"],
                client_urls=[f"https://{ip}:2379"],
            )
            for i, (name, ip) in enumerate(self.node.etcd_members())
        ]
        await stream.send_message(
            m.EtcdMemberListResponse(
                messages=[
                    m.EtcdMembers(
                        metadata=self._meta(),
                        members=members,
                    )
                ]
            )
        )

    async def kubeconfig(self, stream: Stream[pb.Empty, common.Data]) -> None:
        await stream.recv_message()
        self._require(stream, _ADMIN)
        data = self.node.kubeconfig_archive()
        for i in range(0, len(data), KUBECONFIG_CHUNK):
            await stream.send_message(
                common.Data(metadata=self._meta(), bytes=data[i : i + KUBECONFIG_CHUNK])
            )

    def __mapping__(self) -> dict[str, Handler]:
        unary = Cardinality.UNARY_UNARY
        handlers = {
            "/machine.MachineService/Version": Handler(
                self.version, unary, pb.Empty, m.VersionResponse
            ),
            "/machine.MachineService/ApplyConfiguration": Handler(
                self.apply_configuration,
                unary,
                m.ApplyConfigurationRequest,
                m.ApplyConfigurationResponse,
            ),
        }
        if self.node.maintenance:
            return handlers
        handlers.update(
            {
                "/machine.MachineService/Bootstrap": Handler(
                    self.bootstrap, unary, m.BootstrapRequest, m.BootstrapResponse
                ),
                "/machine.MachineService/EtcdMemberList": Handler(
                    self.etcd_member_list, unary, m.EtcdMemberListRequest, m.EtcdMemberListResponse
                ),
                "/machine.MachineService/Kubeconfig": Handler(
                    self.kubeconfig, Cardinality.UNARY_STREAM, pb.Empty, common.Data
                ),
            }
        )
        return handlers
