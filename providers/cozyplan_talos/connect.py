"""Connecting to a node through the engine's endpoint resolver, and waiting for it."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from cozyplan.provider import PermanentError, TemporaryError
from cozyplan_talos import talosconfig
from cozyplan_talos.errors import NotOurCluster
from cozyplan_talos.provider import TalosProvider
from cozyplan_talos.talosconfig import Credentials

if TYPE_CHECKING:
    from cozyplan_talos.client import TalosClient

API_PORT = 50000


def credentials(text: str) -> Credentials:
    try:
        return talosconfig.credentials(text)
    except ValueError as exc:
        raise PermanentError(str(exc)) from None


async def client(provider: TalosProvider, address: str, creds: Credentials | None) -> TalosClient:
    """A client for ``address``: mTLS with ``creds``, or maintenance-mode TLS when None."""
    try:
        target = await asyncio.to_thread(provider.ctx.resolve_endpoint, "talos", address, API_PORT)
    except Exception as exc:  # the resolver of a lab that plays nothing at that address
        raise TemporaryError(f"cannot resolve Talos API of {address}: {exc}", delay=5) from None
    # grpclib and the Talos API (~60 ms of imports) load with the first connection
    from cozyplan_talos.client import TalosClient

    return TalosClient(target, address, creds, timeout=provider.config.timeout)


async def configured(provider: TalosProvider, address: str, creds: Credentials) -> bool:
    """True when the node answers mTLS with our cluster's CA; False when it is in maintenance.

    Raises TemporaryError when it does not answer at all, PermanentError when it belongs to
    another cluster.
    """
    async with await client(provider, address, creds) as c:
        try:
            await c.version()
            return True
        except NotOurCluster:
            pass
    async with await client(provider, address, None) as c:
        if not await c.answers_without_client_cert():
            raise PermanentError(
                f"{address} runs a Talos configured for another cluster "
                "(its certificate is not signed by this cluster's OS CA, and it demands a "
                "client certificate)"
            )
    return False


async def wait_until_answers(
    provider: TalosProvider, address: str, creds: Credentials, *, expect_reboot: bool
) -> None:
    """Poll Version over mTLS until the node answers; bounded by ``reboot_timeout``.

    With ``expect_reboot`` it first waits (briefly, bounded) to see the node go away, so an
    answer from before the reboot is not taken for the node being back.
    """
    cfg = provider.config
    interval = provider.ctx.scaled(cfg.poll_interval)
    deadline = time.monotonic() + provider.ctx.scaled(cfg.reboot_timeout)
    if expect_reboot:
        down_by = time.monotonic() + provider.ctx.scaled(cfg.reboot_grace)
        while time.monotonic() < down_by:
            try:
                async with await client(provider, address, creds) as c:
                    await c.version()
            except (TemporaryError, NotOurCluster):
                break
            await asyncio.sleep(interval)
    last = ""
    while time.monotonic() < deadline:
        try:
            async with await client(provider, address, creds) as c:
                await c.version()
            return
        except (TemporaryError, NotOurCluster) as exc:
            last = str(exc)
        await asyncio.sleep(interval)
    raise TemporaryError(
        f"{address} did not answer within {cfg.reboot_timeout:g}s after applying its config"
        + (f" (last error: {last})" if last else ""),
        delay=10,
    )
