"""``talos_kubeconfig``: the cluster's admin kubeconfig, fetched from a control-plane node."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from cozyplan.provider import (
    ApplyContext,
    Change,
    Computed,
    PermanentError,
    Resource,
    Sensitive,
    SpecModel,
)
from cozyplan_talos import connect, yamlio
from cozyplan_talos.addresses import NodeAddress
from cozyplan_talos.provider import TalosProvider


class KubeconfigModel(SpecModel):
    node: NodeAddress
    talosconfig: Annotated[str, Sensitive()]
    #: also write the kubeconfig here (mode 0600)
    path: str | None = None
    kubeconfig: Annotated[str | None, Computed(), Sensitive()] = None
    #: the API server address inside the kubeconfig
    server: Annotated[str | None, Computed()] = None


def _server(text: str) -> str | None:
    try:
        doc = yamlio.load(text)
        return str(doc["clusters"][0]["cluster"]["server"])
    except (yamlio.YAMLError, KeyError, IndexError, TypeError):
        return None


class TalosKubeconfig(Resource[TalosProvider, KubeconfigModel]):
    type_name = "talos_kubeconfig"
    model = KubeconfigModel
    description = "Fetches the admin kubeconfig (chunked tar.gz stream); optionally writes it 0600."

    def _file(self, path: str) -> Path:
        # in a lab run the same path under the lab directory: rehearsals never touch it
        return self.provider.ctx.output_path(path)

    def _write(self, path: str, text: str, ctx: ApplyContext) -> None:
        file = self._file(path)
        if self.provider.ctx.output_root is not None:
            ctx.progress(f"lab run: kubeconfig {path} written to {file}")
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, file)

    async def read(self, current: KubeconfigModel) -> KubeconfigModel | None:
        if current.path and current.kubeconfig:
            file = self._file(current.path)
            try:
                ok = file.read_text() == current.kubeconfig and file.stat().st_mode & 0o077 == 0
            except OSError:
                ok = False
            if not ok:  # missing, edited or too open: show as a change of path -> rewrite
                return current.model_copy(update={"path": None})
        return current

    async def _fetch(self, planned: KubeconfigModel) -> str:
        creds = connect.credentials(planned.talosconfig)
        async with await connect.client(self.provider, planned.node, creds) as c:
            raw = await c.kubeconfig()
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise PermanentError(f"kubeconfig from {planned.node} is not text") from None

    async def create(self, planned: KubeconfigModel, ctx: ApplyContext) -> KubeconfigModel:
        text = await self._fetch(planned)
        if planned.path:
            self._write(planned.path, text, ctx)
        return planned.model_copy(update={"kubeconfig": text, "server": _server(text)})

    async def update(
        self,
        prior: KubeconfigModel,
        planned: KubeconfigModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> KubeconfigModel:
        text = prior.kubeconfig
        if not text or prior.node != planned.node:
            text = await self._fetch(planned)
        if prior.path and prior.path != planned.path:
            with contextlib.suppress(OSError):
                self._file(prior.path).unlink()
        if planned.path:
            self._write(planned.path, text, ctx)
        return planned.model_copy(update={"kubeconfig": text, "server": _server(text)})

    async def delete(self, prior: KubeconfigModel, ctx: ApplyContext) -> None:
        if prior.path:
            with contextlib.suppress(OSError):
                self._file(prior.path).unlink()
