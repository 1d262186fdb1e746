"""``capmox_credentials``: the Secret a ProxmoxCluster's ``credentialsRef`` names."""

from __future__ import annotations

from collections.abc import Sequence

from cozyplan.provider import ApplyContext, Change, Resource
from cozyplan_capmox import kube, objects
from cozyplan_capmox.models import CredentialsModel
from cozyplan_capmox.provider import CapmoxProvider


class CapmoxCredentials(Resource[CapmoxProvider, CredentialsModel]):
    type_name = "capmox_credentials"
    model = CredentialsModel
    description = "The Secret capmox reads (url, token, secret, insecure, root_ca)."

    def _root_ca(self, m: CredentialsModel) -> str | None:
        if m.root_ca_file:
            return self.provider.read_file(m.root_ca_file)
        return self.provider.proxmox_ca()

    async def read(self, current: CredentialsModel) -> CredentialsModel | None:
        api = await self.provider.api()
        found = await kube.get(api, "v1", "Secret", current.name, current.namespace)
        if found is None:
            return None
        data = kube.decode(found)
        return current.model_copy(
            update={
                "url": data.get("url", ""),
                "token": data.get("token", ""),
                "secret": data.get("secret", ""),
                "insecure": data.get("insecure", "true").lower() in ("1", "on", "true", "yes", "y"),
                "root_ca": data.get("root_ca"),
            }
        )

    async def create(self, planned: CredentialsModel, ctx: ApplyContext) -> CredentialsModel:
        api = await self.provider.api()
        m = planned.model_copy(update={"root_ca": self._root_ca(planned)})
        await kube.apply(api, objects.namespace(m.namespace))
        await kube.apply(api, objects.credentials(m))
        return m

    async def update(
        self,
        prior: CredentialsModel,
        planned: CredentialsModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> CredentialsModel:
        return await self.create(planned, ctx)

    async def delete(self, prior: CredentialsModel, ctx: ApplyContext) -> None:
        api = await self.provider.api()
        await kube.delete(api, "v1", "Secret", prior.name, prior.namespace)
