"""``local_file``: a file on the machine running cozyplan; drift when it changes or vanishes."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from cozyplan.provider import (
    ApplyContext,
    Computed,
    Provider,
    RequiresReplace,
    Resource,
    Sensitive,
    SpecModel,
)


class LocalFileModel(SpecModel):
    path: Annotated[str, RequiresReplace()] = Field(
        description="file path; relative paths are relative to the spec file's directory"
    )
    content: str | None = Field(None, description="file content")
    sensitive_content: Annotated[str | None, Sensitive()] = Field(
        None, description="file content that is never printed"
    )
    mode: str = Field("0644", description="octal permission bits")
    id: Annotated[str | None, Computed(stable=False)] = Field(
        None, description="sha1 of the content"
    )

    @field_validator("mode")
    @classmethod
    def _octal(cls, value: str) -> str:
        try:
            bits = int(value, 8)
        except ValueError:
            raise ValueError(f"mode must be octal like '0644', not {value!r}") from None
        if not 0 <= bits <= 0o7777:
            raise ValueError(f"mode {value!r} is out of range")
        return f"{bits:04o}"

    @model_validator(mode="after")
    def _one_content(self) -> LocalFileModel:
        if self.content is not None and self.sensitive_content is not None:
            raise ValueError("set content or sensitive_content, not both")
        return self

    def body(self) -> str:
        return self.sensitive_content if self.sensitive_content is not None else self.content or ""


def _write_atomic(path: Path, data: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.cozyplan-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


class LocalFile(Resource[Provider[Any], LocalFileModel]):
    type_name = "local_file"
    model = LocalFileModel
    description = "A file on the machine running cozyplan."

    def _path(self, m: LocalFileModel) -> Path:
        # in a lab run the same path under the lab directory: rehearsals never touch it
        return self.provider.ctx.output_path(m.path)

    async def read(self, current: LocalFileModel) -> LocalFileModel | None:
        path = self._path(current)
        try:
            raw = await asyncio.to_thread(path.read_bytes)  # bytes: keep \r\n as written
            data = raw.decode()
            mode = f"{path.stat().st_mode & 0o7777:04o}"
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            data = "(binary content)"
            mode = current.mode
        update: dict[str, Any] = {"mode": mode, "id": hashlib.sha1(data.encode()).hexdigest()}
        if current.sensitive_content is not None:
            update["sensitive_content"] = data
        elif current.content is not None or data:
            update["content"] = data  # (a spec without content means an empty file)
        return current.model_copy(update=update)

    async def create(self, planned: LocalFileModel, ctx: ApplyContext) -> LocalFileModel:
        data = planned.body()
        await asyncio.to_thread(_write_atomic, self._path(planned), data, int(planned.mode, 8))
        return planned.model_copy(update={"id": hashlib.sha1(data.encode()).hexdigest()})

    async def update(
        self, prior: LocalFileModel, planned: LocalFileModel, changes: Any, ctx: ApplyContext
    ) -> LocalFileModel:
        return await self.create(planned, ctx)

    async def delete(self, prior: LocalFileModel, ctx: ApplyContext) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._path(prior).unlink)
