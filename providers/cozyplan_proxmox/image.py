"""``proxmox_image``: a disk image or ISO downloaded into a storage with ``download-url``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from cozyplan.provider import ApplyContext, Resource
from cozyplan_proxmox.cozystack import download_warnings, image_warnings
from cozyplan_proxmox.errors import ApiPermanentError
from cozyplan_proxmox.models import CONTENT_DIRS, ImageModel
from cozyplan_proxmox.provider import ProxmoxProvider


def volid_of(m: ImageModel) -> str:
    return f"{m.storage}:{CONTENT_DIRS[m.content]}/{m.filename}"


class ImageResource(Resource[ProxmoxProvider, ImageModel]):
    type_name: ClassVar[str] = "proxmox_image"
    model: ClassVar[type[ImageModel]] = ImageModel
    description: ClassVar[str] = (
        "A disk image (content import) or ISO downloaded by the node itself (download-url)."
    )

    def plan_warnings(self, planned: Mapping[str, Any]) -> list[str]:
        url, filename = planned.get("url"), planned.get("filename")
        out: list[str] = []
        if isinstance(url, str) and isinstance(filename, str):
            out += image_warnings(url, filename)
            out += download_warnings(url, str(planned.get("content", "import")))
        return out

    async def _find(self, m: ImageModel) -> dict[str, Any] | None:
        client = self.provider.client
        content = await client.call(
            "GET", f"nodes/{m.node}/storage/{m.storage}/content", content=m.content
        )
        wanted = volid_of(m)
        return next((e for e in content or [] if e.get("volid") == wanted), None)

    async def read(self, current: ImageModel) -> ImageModel | None:
        found = await self._find(current)
        if found is None:
            return None
        return current.model_copy(
            update={"volid": found["volid"], "size": int(found.get("size") or 0)}
        )

    async def create(self, planned: ImageModel, ctx: ApplyContext) -> ImageModel:
        return await self.provider.retrying(lambda: self._create(planned, ctx))

    async def _create(self, planned: ImageModel, ctx: ApplyContext) -> ImageModel:
        found = await self.read(planned)
        if found is not None:
            ctx.progress(f"{volid_of(planned)} already present: adopted")
            return found
        ctx.progress(f"downloading {planned.url} to {volid_of(planned)}")
        try:
            await self.provider.client.run_task(
                "POST",
                f"nodes/{planned.node}/storage/{planned.storage}/download-url",
                planned.node,
                f"download {planned.filename}",
                url=planned.url,
                content=planned.content,
                filename=planned.filename,
                checksum=planned.checksum,
                **{"checksum-algorithm": planned.checksum_algorithm},
                compression=planned.compression,
            )
        except ApiPermanentError as exc:
            if "refusing to override" not in exc.pve_message:
                raise
        found = await self.read(planned)
        if found is None:
            raise ApiPermanentError(
                f"download of {planned.url} finished but {volid_of(planned)} is missing",
                500,
                "",
            )
        return found

    async def delete(self, prior: ImageModel, ctx: ApplyContext) -> None:
        async def run() -> None:
            if await self._find(prior) is None:
                return
            try:
                await self.provider.client.run_task(
                    "DELETE",
                    f"nodes/{prior.node}/storage/{prior.storage}/content/{volid_of(prior)}",
                    prior.node,
                    f"delete {volid_of(prior)}",
                )
            except ApiPermanentError as exc:
                if "does not exist" not in exc.pve_message:
                    raise

        await self.provider.retrying(run)

    async def import_resource(self, import_id: str) -> ImageModel | None:
        """``node/storage:content/filename``, e.g. ``pve/local:import/talos.raw``."""
        node, _, volid = import_id.partition("/")
        storage, _, rest = volid.partition(":")
        content, _, filename = rest.partition("/")
        model = ImageModel(
            node=node,
            storage=storage,
            content=content,
            url="",
            filename=filename,
        )
        return await self.read(model)
