"""The SSH server of one simulated host: exec requests run in its shell, SFTP on its files."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncssh

from cozyplan.lab.sshhost.host import SimHost
from cozyplan.lab.sshhost.sftp import FakeSFTPServer


async def _handle(host: SimHost, process: asyncssh.SSHServerProcess[bytes]) -> None:
    command = process.command
    if command is None:
        process.stderr.write(b"lab host: interactive shells are not supported\n")
        process.exit(1)
        return
    user = process.get_extra_info("username") or "root"
    task = asyncio.ensure_future(host.run_line(command, user=user))
    try:
        code, out, err = await task
    except asyncio.CancelledError:
        task.cancel()
        raise
    with contextlib.suppress(asyncssh.Error, BrokenPipeError, ConnectionError):
        process.stdout.write(out)
        process.stderr.write(err)
        process.exit(code)


async def start_ssh_server(
    host: SimHost,
    address: str,
    port: int,
    host_key: asyncssh.SSHKey,
    authorized: asyncssh.SSHAuthorizedKeys,
) -> Any:
    """Listen on ``address:port`` for ``host``; public-key auth with the lab's client key only."""

    def sftp_factory(chan: asyncssh.SSHServerChannel[bytes]) -> FakeSFTPServer:
        return FakeSFTPServer(chan, host)

    async def process_factory(process: asyncssh.SSHServerProcess[bytes]) -> None:
        await _handle(host, process)

    return await asyncssh.create_server(
        asyncssh.SSHServer,
        address,
        port,
        server_host_keys=[host_key],
        authorized_client_keys=authorized,
        process_factory=process_factory,
        sftp_factory=sftp_factory,
        encoding=None,
        allow_scp=False,
        keepalive_interval=0,
        # no GSSAPI (the hosts accept the lab's key only); left unset, asyncssh would look
        # up this machine's FQDN for it (socket.getfqdn, a DNS lookup) as the server starts
        gss_host=None,
    )
