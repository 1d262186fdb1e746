"""``null_resource``: exists only in state; replaced when its triggers change."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import Field

from cozyplan.provider import ApplyContext, Computed, Provider, RequiresReplace, Resource, SpecModel


class NullResourceModel(SpecModel):
    triggers: Annotated[dict[str, Any], RequiresReplace()] = Field(
        default_factory=dict, description="any change replaces the resource"
    )
    id: Annotated[str | None, Computed()] = Field(None, description="random id set at create")


class NullResource(Resource[Provider[Any], NullResourceModel]):
    type_name = "null_resource"
    model = NullResourceModel
    description = "Nothing real: triggers and an id, for ordering and tests."
    crash_marker = False  # create touches nothing outside the state: nothing to adopt

    async def read(self, current: NullResourceModel) -> NullResourceModel | None:
        # only a finished create has an id; a crashed one left nothing to adopt
        return current if current.id else None

    async def create(self, planned: NullResourceModel, ctx: ApplyContext) -> NullResourceModel:
        return planned.model_copy(update={"id": str(uuid.uuid4())})

    async def delete(self, prior: NullResourceModel, ctx: ApplyContext) -> None:
        return None
