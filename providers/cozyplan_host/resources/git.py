"""``host_git_checkout``: a clone (without submodules) at a tag, branch or commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import AfterValidator

from cozyplan.provider import ApplyContext, Change, Computed
from cozyplan_host import steps
from cozyplan_host.resources.base import AbsPath, HostModel, HostResource, RequiresReplace


def git_ref(value: str) -> str:
    if not value or value.startswith("-") or any(ch.isspace() for ch in value) or ".." in value:
        raise ValueError(f"{value!r} is not a git tag, branch or commit")
    return value


class GitCheckoutModel(HostModel):
    repository: Annotated[str, RequiresReplace()]
    ref: Annotated[str, AfterValidator(git_ref)]
    destination: Annotated[AbsPath, RequiresReplace()]
    #: the commit ``ref`` resolved to
    commit: Annotated[str | None, Computed()] = None


class HostGitCheckout(HostResource[GitCheckoutModel]):
    type_name = "host_git_checkout"
    model = GitCheckoutModel
    description = "a git checkout at a ref (no submodules); exposes the resolved commit"

    async def read(self, current: GitCheckoutModel) -> GitCheckoutModel | None:
        c = self.conn(current)
        step = f"read checkout {current.destination}"
        head = await steps.git_head(c, current.destination, step=step)
        if head is None:
            return None
        origin = await steps.git_origin(c, current.destination, step=step)
        at_ref = await steps.git_resolve(c, current.destination, current.ref, step=step)
        return current.model_copy(
            update={
                "repository": origin or "",
                "ref": current.ref if at_ref == head else head,
                "commit": head,
            }
        )

    async def create(self, planned: GitCheckoutModel, ctx: ApplyContext) -> GitCheckoutModel:
        commit = await steps.ensure_checkout(
            self.conn(planned),
            planned.repository,
            planned.ref,
            planned.destination,
            step=f"checkout {planned.destination}",
            progress=ctx.progress,
        )
        return planned.model_copy(update={"commit": commit})

    async def update(
        self,
        prior: GitCheckoutModel,
        planned: GitCheckoutModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> GitCheckoutModel:
        return await self.create(planned, ctx)

    async def delete(self, prior: GitCheckoutModel, ctx: ApplyContext) -> None:
        await self.conn(prior).run(
            ["rm", "-rf", prior.destination], step=f"delete {prior.destination}"
        )
