"""``talos_secrets``: the cluster's secrets bundle, generated once and kept in state."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from cozyplan.provider import (
    ApplyContext,
    Computed,
    PermanentError,
    RequiresReplace,
    Resource,
    Sensitive,
    SpecModel,
)
from cozyplan_talos import secrets
from cozyplan_talos.provider import TalosProvider


class SecretsModel(SpecModel):
    #: import an existing ``secrets.yaml`` (from ``talosctl gen secrets``) instead of generating
    from_file: Annotated[str | None, RequiresReplace()] = None
    #: the bundle in ``secrets.yaml`` form (feed it to ``talos_machine_config.secrets``)
    secrets_yaml: Annotated[str | None, Computed(), Sensitive()] = None
    cluster_id: Annotated[str | None, Computed(), Sensitive()] = None
    #: the public OS (Talos API) and Kubernetes CA certificates, PEM
    os_ca_crt: Annotated[str | None, Computed()] = None
    k8s_ca_crt: Annotated[str | None, Computed()] = None


def _filled(model: SecretsModel, bundle: secrets.Bundle) -> SecretsModel:
    return model.model_copy(
        update={
            "secrets_yaml": bundle.to_yaml(),
            "cluster_id": bundle.cluster_id,
            "os_ca_crt": bundle.os.crt.decode(),
            "k8s_ca_crt": bundle.k8s.crt.decode(),
        }
    )


class TalosSecrets(Resource[TalosProvider, SecretsModel]):
    type_name = "talos_secrets"
    model = SecretsModel
    description = (
        "Cluster secrets bundle (CAs, keys, tokens) as `talosctl gen secrets` makes it; "
        "generated once, never regenerated unless replaced."
    )

    def _load(self, path: str) -> secrets.Bundle:
        file = Path(path)
        if not file.is_absolute():
            file = self.provider.ctx.base_dir / file
        try:
            text = file.read_text()
        except OSError as exc:
            raise PermanentError(f"cannot read secrets bundle {path}: {exc.strerror}") from None
        try:
            return secrets.Bundle.from_yaml(text)
        except ValueError as exc:
            raise PermanentError(f"{path}: {exc}") from None

    async def read(self, current: SecretsModel) -> SecretsModel | None:
        # lives only in state: there is nothing outside to drift
        return current

    async def create(self, planned: SecretsModel, ctx: ApplyContext) -> SecretsModel:
        if planned.secrets_yaml:  # adopting after a crash: keep what was already made
            return planned
        bundle = self._load(planned.from_file) if planned.from_file else secrets.generate()
        done = _filled(planned, bundle)
        await ctx.checkpoint(done.model_dump(mode="json"))
        return done

    async def delete(self, prior: SecretsModel, ctx: ApplyContext) -> None:
        return None

    async def import_resource(self, import_id: str) -> SecretsModel | None:
        """``cozyplan import talos_secrets.NAME path/to/secrets.yaml``."""
        return _filled(SecretsModel(), self._load(import_id))
