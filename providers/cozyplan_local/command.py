"""``local_command``: run a shell command on create and another on delete (local-exec)."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Annotated, Any

from pydantic import Field

from cozyplan.provider import (
    ApplyContext,
    Computed,
    PermanentError,
    Provider,
    RequiresReplace,
    Resource,
    SpecModel,
)

TAIL = 2000


class LocalCommandModel(SpecModel):
    command: Annotated[str, RequiresReplace()] = Field(description="run with /bin/sh on create")
    destroy_command: str | None = Field(None, description="run with /bin/sh on delete")
    triggers: Annotated[dict[str, Any], RequiresReplace()] = Field(default_factory=dict)
    environment: dict[str, str] = Field(default_factory=dict)
    working_dir: str | None = None
    stdout: Annotated[str | None, Computed()] = None
    id: Annotated[str | None, Computed()] = None


class LocalCommand(Resource[Provider[Any], LocalCommandModel]):
    type_name = "local_command"
    model = LocalCommandModel
    description = "A shell command run on create (and destroy_command on delete)."

    async def _run(self, m: LocalCommandModel, command: str, step: str) -> str:
        cwd = m.working_dir or str(self.provider.ctx.base_dir)
        proc = await asyncio.create_subprocess_shell(
            command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            env={**os.environ, **m.environment},
            # its own session: a Ctrl-C at the terminal reaches cozyplan, which lets the
            # command finish, instead of killing it mid-way
            start_new_session=True,
        )
        out, err = await proc.communicate()
        if proc.returncode != 0:
            tail = (err or out).decode(errors="replace")[-TAIL:]
            raise PermanentError(
                f"{step} exited with status {proc.returncode}", detail=tail.strip() or None
            )
        return out.decode(errors="replace")

    async def read(self, current: LocalCommandModel) -> LocalCommandModel | None:
        # a command that never finished has no id: run it again rather than assume it ran
        return current if current.id else None

    async def create(self, planned: LocalCommandModel, ctx: ApplyContext) -> LocalCommandModel:
        out = await self._run(planned, planned.command, "command")
        return planned.model_copy(update={"stdout": out, "id": str(uuid.uuid4())})

    async def update(
        self,
        prior: LocalCommandModel,
        planned: LocalCommandModel,
        changes: Any,
        ctx: ApplyContext,
    ) -> LocalCommandModel:
        # only destroy_command/environment/working_dir can change in place: nothing to run
        return planned.model_copy(update={"stdout": prior.stdout, "id": prior.id})

    async def delete(self, prior: LocalCommandModel, ctx: ApplyContext) -> None:
        if prior.destroy_command:
            await self._run(prior, prior.destroy_command, "destroy_command")
