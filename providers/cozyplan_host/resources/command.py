"""``host_command``: an idempotent step (build, install) with ``creates`` and ``triggers``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated

from pydantic import AfterValidator, Field

from cozyplan.provider import ApplyContext, Change, PermanentError
from cozyplan_host import steps
from cozyplan_host.resources.base import AbsPath, HostModel, HostResource


def _env(values: dict[str, str]) -> dict[str, str]:
    for key in values:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"{key!r} is not an environment variable name")
    return values


class CommandModel(HostModel):
    #: argv: every element reaches the host as one word, quoted (no shell syntax)
    command: Annotated[list[str], Field(min_length=1)]
    chdir: AbsPath | None = None
    env: Annotated[dict[str, str], AfterValidator(_env)] = Field(default_factory=dict)
    #: skip when this path exists; when it disappears the command runs again
    creates: AbsPath | None = None
    #: any values (e.g. a checkout's commit): a change re-runs the command
    triggers: dict[str, str] = Field(default_factory=dict)
    timeout: Annotated[float | None, Field(gt=0)] = None


class HostCommand(HostResource[CommandModel]):
    type_name = "host_command"
    model = CommandModel
    description = "a command run once (creates/triggers decide when it runs again)"

    async def read(self, current: CommandModel) -> CommandModel | None:
        if current.creates is None:
            return current
        found = await steps.stat(
            self.conn(current), current.creates, step=f"check {current.creates}"
        )
        return current if found is not None else None

    async def _run(self, m: CommandModel, ctx: ApplyContext) -> CommandModel:
        c = self.conn(m)
        argv = (
            ["env", *(f"{k}={v}" for k, v in m.env.items()), *m.command]
            if m.env
            else list(m.command)
        )
        step = f"run {m.command[0]}"
        ctx.progress(" ".join(m.command))
        await c.run(argv, step=step, cwd=m.chdir, timeout=m.timeout)
        if m.creates is not None and await steps.stat(c, m.creates, step=step) is None:
            raise PermanentError(
                f"{c.label}: step '{step}' succeeded but did not create {m.creates}"
            )
        return m

    async def create(self, planned: CommandModel, ctx: ApplyContext) -> CommandModel:
        if (
            planned.creates is not None
            and await steps.stat(
                self.conn(planned), planned.creates, step=f"check {planned.creates}"
            )
            is not None
        ):
            return planned  # adopt: what it creates is already there
        return await self._run(planned, ctx)

    async def update(
        self,
        prior: CommandModel,
        planned: CommandModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> CommandModel:
        rerun = {"command", "chdir", "env", "triggers"}
        if any(ch.path[0] in rerun for ch in changes):
            return await self._run(planned, ctx)
        return await self.create(planned, ctx)

    async def delete(self, prior: CommandModel, ctx: ApplyContext) -> None:
        """Nothing to undo: a command's effects belong to whatever it made."""
