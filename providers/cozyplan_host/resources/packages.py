"""``host_packages``: Debian packages present on a host."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated

from pydantic import AfterValidator

from cozyplan.provider import ApplyContext, Change
from cozyplan_host import steps
from cozyplan_host.resources.base import HostModel, HostResource

_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?")


def _names(names: list[str]) -> list[str]:
    for name in names:
        if not _NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a Debian package name")
    return list(dict.fromkeys(names))


class PackagesModel(HostModel):
    packages: Annotated[list[str], AfterValidator(_names)]
    #: also ``apt-get remove`` them when the resource is destroyed (default: leave installed)
    remove_on_delete: bool = False


class HostPackages(HostResource[PackagesModel]):
    type_name = "host_packages"
    model = PackagesModel
    description = "apt packages present on a host (dpkg-query first; one apt-get install)"

    async def read(self, current: PackagesModel) -> PackagesModel | None:
        c = self.conn(current)
        present = await steps.installed_packages(c, current.packages, step="read packages")
        return current.model_copy(
            update={"packages": [p for p in current.packages if p.split(":", 1)[0] in present]}
        )

    async def create(self, planned: PackagesModel, ctx: ApplyContext) -> PackagesModel:
        await steps.ensure_packages(
            self.conn(planned), planned.packages, step="install packages", progress=ctx.progress
        )
        return planned

    async def update(
        self,
        prior: PackagesModel,
        planned: PackagesModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> PackagesModel:
        return await self.create(planned, ctx)

    async def delete(self, prior: PackagesModel, ctx: ApplyContext) -> None:
        if not prior.remove_on_delete:
            return
        c = self.conn(prior)
        present = await steps.installed_packages(c, prior.packages, step="remove packages")
        if present:
            ctx.progress(f"apt-get remove {' '.join(sorted(present))}")
            await c.run(
                [
                    "env",
                    "DEBIAN_FRONTEND=noninteractive",
                    "apt-get",
                    "remove",
                    "-y",
                    "-q",
                    *sorted(present),
                ],
                step="remove packages",
            )
