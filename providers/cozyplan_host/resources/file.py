"""``host_file``: a file's content, mode and owner; written atomically via a temp file."""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, model_validator

from cozyplan.provider import ApplyContext, Change, Computed, PermanentError, Sensitive
from cozyplan_host import steps
from cozyplan_host.resources.base import AbsPath, HostModel, HostResource, RequiresReplace


def _mode(value: str) -> str:
    if not re.fullmatch(r"0?[0-7]{3,4}", value):
        raise ValueError(f"mode {value!r} must be octal like '0644'")
    return value.lstrip("0").zfill(4) if value.strip("0") else "0000"


Mode = Annotated[str, AfterValidator(_mode)]


class FileModel(HostModel):
    path: Annotated[AbsPath, RequiresReplace()]
    content: str | None = None
    #: like ``content`` but never shown in plans, logs or diffs
    sensitive_content: Annotated[str | None, Sensitive()] = None
    #: a local file (relative to the spec) whose bytes are uploaded
    source: str | None = None
    mode: Mode = "0644"
    owner: str | None = None
    group: str | None = None
    sha256: Annotated[str | None, Computed()] = None

    @model_validator(mode="after")
    def _one_source(self) -> FileModel:
        given = [
            n for n in ("content", "sensitive_content", "source") if getattr(self, n) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "set exactly one of content, sensitive_content or source "
                f"(got {', '.join(given) or 'none'})"
            )
        return self


def unified_diff(path: str, before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"{path} (host)",
            tofile=f"{path} (spec)",
        )
    )


class HostFile(HostResource[FileModel]):
    type_name = "host_file"
    model = FileModel
    description = "a file on a host (content/sensitive_content/source, mode, owner, group)"

    def _data(self, m: FileModel) -> bytes:
        if m.source is not None:
            local = Path(m.source)
            local = local if local.is_absolute() else self.provider.ctx.base_dir / local
            try:
                return local.read_bytes()
            except OSError as exc:
                raise PermanentError(
                    f"{self.type_name} {m.path}: cannot read source {m.source}: {exc.strerror}"
                ) from None
        return (m.content if m.content is not None else m.sensitive_content or "").encode()

    async def read(self, current: FileModel) -> FileModel | None:
        c = self.conn(current)
        found = await steps.stat(c, current.path, step=f"read {current.path}")
        if found is None or found.kind != "file":
            return None
        data = await steps.read_bytes(c, current.path, step=f"read {current.path}") or b""
        text = data.decode("utf-8", "replace")
        digest = hashlib.sha256(data).hexdigest()
        update: dict[str, object] = {"mode": found.mode, "sha256": digest}
        if current.source is not None:
            same = data == self._data(current)
            update["source"] = (
                current.source
                if same
                else (f"{current.source} (differs on host: sha256 {digest[:12]})")
            )
        elif current.sensitive_content is not None:
            update["sensitive_content"] = text
        else:
            update["content"] = text
        update["owner"] = found.owner if current.owner is not None else None
        update["group"] = found.group if current.group is not None else None
        return current.model_copy(update=update)

    async def create(self, planned: FileModel, ctx: ApplyContext) -> FileModel:
        c = self.conn(planned)
        data = self._data(planned)
        before = (
            await steps.read_bytes(c, planned.path, step=f"write {planned.path}")
            if (await steps.stat(c, planned.path, step=f"write {planned.path}"))
            else None
        )
        if before is not None and before != data:
            if planned.sensitive_content is not None:
                ctx.progress(f"{planned.path}: (sensitive content changed)")
            else:
                ctx.progress(
                    unified_diff(
                        planned.path,
                        before.decode("utf-8", "replace"),
                        data.decode("utf-8", "replace"),
                    )
                )
        await steps.ensure_file(
            c,
            planned.path,
            data,
            mode=planned.mode,
            owner=planned.owner,
            group=planned.group,
            step=f"write {planned.path}",
            progress=ctx.progress,
        )
        return planned.model_copy(update={"sha256": hashlib.sha256(data).hexdigest()})

    async def update(
        self, prior: FileModel, planned: FileModel, changes: Sequence[Change], ctx: ApplyContext
    ) -> FileModel:
        return await self.create(planned, ctx)

    async def delete(self, prior: FileModel, ctx: ApplyContext) -> None:
        await self.conn(prior).run(["rm", "-f", prior.path], step=f"delete {prior.path}")
