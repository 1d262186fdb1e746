"""Async wrapper around proxmoxer (HTTPS backend, API token): retries, tasks, counters."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from proxmoxer import ProxmoxAPI

from cozyplan.provider import PermanentError, ProviderContext, TemporaryError
from cozyplan_proxmox.config import ProxmoxConfig
from cozyplan_proxmox.errors import (
    ApiPermanentError,
    ApiTemporaryError,
    classify,
    is_transient_text,
)


def split_endpoint(endpoint: str) -> tuple[str, int]:
    url = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    if url.scheme != "https":
        raise PermanentError(f"proxmox endpoint must be https://, got {endpoint!r}")
    return url.hostname or "", url.port or 8006


class TaskTimer:
    """How long each task type (``qmclone``, ``qmstart``...) takes here, learnt per run.

    The first status poll of a task waits the learnt duration; when that poll finds the task
    done the estimate shrinks a little (the true duration may be shorter), when it does not
    the estimate grows to what the task took."""

    def __init__(self) -> None:
        self._estimate: dict[str, float] = {}

    def first_poll(self, kind: str) -> float | None:
        estimate = self._estimate.get(kind)
        return None if estimate is None else estimate * 1.05

    def observe(self, kind: str, took: float, *, first_poll_hit: bool) -> None:
        estimate = self._estimate.get(kind)
        if estimate is None or not first_poll_hit:
            self._estimate[kind] = took
        else:
            self._estimate[kind] = estimate * 0.97


class PveClient:
    """One connection configuration; calls run in a private thread pool."""

    def __init__(
        self,
        config: ProxmoxConfig,
        ctx: ProviderContext,
        on_write: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.ctx = ctx
        self.requests: Counter[str] = Counter()
        self.timer = TaskTimer()
        self._on_write = on_write
        self._pool = ThreadPoolExecutor(config.max_connections, thread_name_prefix="pve")
        self._local = threading.local()
        self._target: tuple[str, int] | None = None
        self._target_lock = threading.Lock()
        if "!" not in config.token_id or "@" not in config.token_id:
            raise PermanentError(
                f"token_id must look like user@realm!tokenname, got {config.token_id!r}"
            )

    def _verify(self) -> bool | str:
        if self.config.ca_file:
            path = Path(self.config.ca_file)
            if not path.is_absolute():
                path = self.ctx.base_dir / path
            return str(path)
        return self.config.verify_tls

    def _api(self) -> Any:
        api = getattr(self._local, "api", None)
        if api is None:
            with self._target_lock:
                if self._target is None:
                    host, port = split_endpoint(self.config.endpoint)
                    self._target = self.ctx.resolve_endpoint("proxmox", host, port)
            host, port = self._target
            user, _, token = self.config.token_id.partition("!")
            api = ProxmoxAPI(
                host,
                port=port,
                user=user,
                token_name=token,
                token_value=self.config.token_secret,
                verify_ssl=self._verify(),
                timeout=self.config.timeout,
                backend="https",
            )
            self._local.api = api
        return api

    def _blocking(self, method: str, path: str, params: dict[str, Any]) -> Any:
        resource = self._api()(path)
        return getattr(resource, method.lower())(**params)

    async def call(
        self, method: str, path: str, /, *, retries: int | None = None, **params: Any
    ) -> Any:
        """One API call; transient failures are retried with backoff (``retries`` times)."""
        clean = {k: _wire(v) for k, v in params.items() if v is not None}
        attempts = (self.config.retries if retries is None else retries) + 1
        loop = asyncio.get_running_loop()
        what = f"{method} /{path}"
        for attempt in range(attempts):
            self.requests[method] += 1
            if method != "GET" and self._on_write is not None:
                self._on_write()
            try:
                return await loop.run_in_executor(self._pool, self._blocking, method, path, clean)
            except Exception as exc:
                err = classify(exc, f"{what} ({self.config.endpoint})")
                if isinstance(err, ApiPermanentError):
                    raise err from None
                if attempt == attempts - 1:
                    err.exhausted = attempts > 1  # retried here already: no retries on top
                    raise err from None
                await asyncio.sleep(self.backoff(attempt))
        raise AssertionError("unreachable")

    def backoff(self, attempt: int) -> float:
        return self.ctx.scaled(min(8.0, 0.5 * 2**attempt))

    async def wait_task(self, node: str, upid: Any, what: str) -> None:
        """Poll ``tasks/{upid}/status`` until stopped; a failure raises with the log tail.

        The first poll comes when a task of the same type last took (``TaskTimer``), so a
        run of similar tasks (clones, starts) costs about one status request each."""
        if not isinstance(upid, str) or not upid.startswith("UPID:"):
            return  # a synchronous answer (older PVE): nothing to wait for
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.config.task_timeout
        kind = upid.split(":")[5] if upid.count(":") >= 6 else ""
        first = self.timer.first_poll(kind)
        await asyncio.sleep(first if first is not None else self.ctx.scaled(0.1))
        interval = self.ctx.scaled(0.1)
        polls = 0
        while True:
            polls += 1
            status = await self.call("GET", f"nodes/{node}/tasks/{quote(upid, safe='')}/status")
            if status.get("status") == "stopped":
                break
            if loop.time() > deadline:
                raise PermanentError(
                    f"{what}: task {upid} still running after {self.config.task_timeout:.0f}s"
                )
            await asyncio.sleep(interval)
            interval = min(self.ctx.scaled(1.0), interval * 1.5)
        self.timer.observe(kind, loop.time() - started, first_poll_hit=polls == 1)
        exit_status = str(status.get("exitstatus", ""))
        if exit_status == "OK" or exit_status.startswith("WARNINGS"):
            return
        log = await self.call("GET", f"nodes/{node}/tasks/{quote(upid, safe='')}/log", limit=1000)
        tail = "\n".join(str(line.get("t", "")) for line in (log or [])[-10:])
        message = f"{what} failed: {exit_status}"
        if is_transient_text(exit_status):
            raise ApiTemporaryError(message, 500, exit_status)
        raise ApiPermanentError(message, 500, exit_status, detail=f"task log:\n{tail}")

    async def run_task(
        self, method: str, path: str, node: str, what: str, /, **params: Any
    ) -> None:
        upid = await self.call(method, path, **params)
        await self.wait_task(node, upid, what)

    async def run_task_once(
        self, method: str, path: str, node: str, what: str, /, **params: Any
    ) -> None:
        """A non-idempotent task (template, reboot) is never sent twice here: a lost answer
        surfaces as TemporaryError, and the caller reads the object before trying again."""
        upid = await self.call(method, path, retries=0, **params)
        await self.wait_task(node, upid, what)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _wire(value: Any) -> Any:
    if isinstance(value, bool):
        return 1 if value else 0
    return value


__all__ = ["PveClient", "TemporaryError", "split_endpoint"]
