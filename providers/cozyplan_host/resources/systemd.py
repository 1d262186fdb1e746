"""``host_systemd_unit``: a unit file plus its enabled/active state; daemon-reload on change."""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Sequence
from typing import Annotated

from pydantic import AfterValidator

from cozyplan.provider import ApplyContext, Change
from cozyplan_host import steps
from cozyplan_host.resources.base import AbsPath, HostModel, HostResource, RequiresReplace

_UNIT = re.compile(r"[A-Za-z0-9:_.@-]+\.(service|timer|socket|target|path|mount)")
_NEXCAGE_COMMANDS = (
    "run",
    "help",
    "version",
    "create",
    "start",
    "stop",
    "delete",
    "list",
    "health",
    "state",
    "kill",
)


def _unit_name(value: str) -> str:
    if not _UNIT.fullmatch(value):
        raise ValueError(f"{value!r} is not a systemd unit name like 'foo.service'")
    return value


def exec_lines(content: str) -> list[list[str]]:
    """The argv of each Exec*= line of a unit (systemd prefixes like '-' removed)."""
    found = []
    for raw in content.splitlines():
        key, sep, value = raw.strip().partition("=")
        if not sep or not key.strip().startswith("Exec"):
            continue
        try:
            words = shlex.split(value)
        except ValueError:
            continue
        if words:
            words[0] = words[0].lstrip("-@:+!")
            found.append(words)
    return found


def check_unit_content(content: str) -> str:
    for argv in exec_lines(content):
        if posixpath.basename(argv[0]) != "nexcage":
            continue
        command = next((w for w in argv[1:] if not w.startswith("-")), None)
        if command == "daemon":
            raise ValueError(
                "the unit runs `nexcage daemon`, but NexCage v0.7.3 has no daemon command (it "
                "exits 1 with `error: CommandNotFound`), no socket and no CRI: a NexCage "
                "service cannot run. Install it with host_nexcage and, if you want a periodic "
                "check, use a oneshot unit running `nexcage health`"
            )
        if command is not None and command not in _NEXCAGE_COMMANDS:
            raise ValueError(
                f"`nexcage {command}` is not a NexCage v0.7.3 command (commands: "
                f"{', '.join(_NEXCAGE_COMMANDS)})"
            )
    return content


class SystemdUnitModel(HostModel):
    name: Annotated[str, AfterValidator(_unit_name), RequiresReplace()]
    content: Annotated[str, AfterValidator(check_unit_content)]
    #: None: leave as it is
    enabled: bool | None = None
    active: bool | None = None
    directory: Annotated[AbsPath, RequiresReplace()] = "/etc/systemd/system"

    @property
    def path(self) -> str:
        return posixpath.join(self.directory, self.name)


class HostSystemdUnit(HostResource[SystemdUnitModel]):
    type_name = "host_systemd_unit"
    model = SystemdUnitModel
    description = "a systemd unit file, enabled and/or active; daemon-reload when it changes"

    async def _state(self, m: SystemdUnitModel, what: str) -> bool:
        r = await self.conn(m).run(["systemctl", what, m.name], step=f"read {m.name}", check=False)
        return r.stdout.strip() == ("enabled" if what == "is-enabled" else "active")

    async def read(self, current: SystemdUnitModel) -> SystemdUnitModel | None:
        text = await steps.read_text(self.conn(current), current.path, step=f"read {current.name}")
        if text is None:
            return None
        update: dict[str, object] = {"content": text}
        if current.enabled is not None:
            update["enabled"] = await self._state(current, "is-enabled")
        if current.active is not None:
            update["active"] = await self._state(current, "is-active")
        return current.model_copy(update=update)

    async def create(self, planned: SystemdUnitModel, ctx: ApplyContext) -> SystemdUnitModel:
        c = self.conn(planned)
        step = f"unit {planned.name}"
        changed = await steps.ensure_file(
            c, planned.path, planned.content.encode(), step=step, progress=ctx.progress
        )
        if changed:
            ctx.progress("systemctl daemon-reload")
            await c.run(["systemctl", "daemon-reload"], step=step)
        if planned.enabled is not None and planned.enabled != await self._state(
            planned, "is-enabled"
        ):
            toggle = "enable" if planned.enabled else "disable"
            ctx.progress(f"systemctl {toggle} {planned.name}")
            await c.run(["systemctl", toggle, planned.name], step=step)
        if planned.active is not None:
            active = await self._state(planned, "is-active")
            verb: str | None = None
            if planned.active and not active:
                verb = "start"
            elif planned.active and changed:
                verb = "restart"
            elif not planned.active and active:
                verb = "stop"
            if verb:
                ctx.progress(f"systemctl {verb} {planned.name}")
                await c.run(["systemctl", verb, planned.name], step=step)
        return planned

    async def update(
        self,
        prior: SystemdUnitModel,
        planned: SystemdUnitModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> SystemdUnitModel:
        return await self.create(planned, ctx)

    async def delete(self, prior: SystemdUnitModel, ctx: ApplyContext) -> None:
        c = self.conn(prior)
        step = f"delete {prior.name}"
        if await steps.stat(c, prior.path, step=step) is None:
            return
        await c.run(["systemctl", "disable", "--now", prior.name], step=step, check=False)
        await c.run(["rm", "-f", prior.path], step=step)
        await c.run(["systemctl", "daemon-reload"], step=step)
