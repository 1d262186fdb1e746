"""``talos_machine_config``: a rendered controlplane/worker config and its talosconfig (pure)."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import field_validator

from cozyplan.provider import (
    ApplyContext,
    Change,
    Computed,
    PermanentError,
    PlanError,
    Resource,
    Sensitive,
    SpecModel,
    contains_unknown,
    is_unknown,
)
from cozyplan_talos import cozystack, images, machineconfig, secrets, talosconfig, versions
from cozyplan_talos.provider import TalosProvider


class MachineConfigModel(SpecModel):
    cluster_name: str
    #: the Kubernetes API endpoint, e.g. https://10.0.0.200:6443
    endpoint: str
    machine_type: Literal["controlplane", "worker"] = "controlplane"
    #: ``talos_secrets.NAME.secrets_yaml``
    secrets: Annotated[str, Sensitive()]
    kubernetes_version: str = machineconfig.DEFAULT_KUBERNETES_VERSION
    install_disk: str = machineconfig.DEFAULT_INSTALL_DISK
    install_image: str = cozystack.INSTALL_IMAGE
    #: the disk image the node boots from (e.g. ``${proxmox_image.talos.url}``): only checked
    #: against ``install_image`` (a booted disk never runs the install image)
    boot_image: str | None = None
    cert_sans: list[str] = []
    #: control planes share this address (Talos VIP on ``interface``); the endpoint names it
    vip: str | None = None
    #: the nodes' subnet (CIDR): kubelet ``nodeIP.validSubnets``, etcd ``advertisedSubnets``
    node_subnet: str | None = None
    interface: str = "eth0"
    #: apply CozyStack's required settings (CNI none, no kube-proxy, subnets, modules, ...)
    cozystack: bool = True
    #: strategic-merge patches, YAML text or mappings, applied in order
    patches: list[str | dict[str, Any]] = []
    #: endpoints/nodes written into the talosconfig
    talos_endpoints: list[str] = []
    machine_config: Annotated[str | None, Computed(stable=False), Sensitive()] = None
    talosconfig: Annotated[str | None, Computed(), Sensitive()] = None
    config_sha256: Annotated[str | None, Computed(stable=False)] = None

    @field_validator("vip")
    @classmethod
    def _vip(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(
                    f'[networking.os.device.vip] failed to parse "{value}" as IP address'
                ) from None
        return value

    @field_validator("node_subnet")
    @classmethod
    def _subnet(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f'etcd advertised subnet is not valid: "{value}"') from None
        return value


def _inputs(m: MachineConfigModel | Mapping[str, Any]) -> machineconfig.Inputs:
    d = m.model_dump() if isinstance(m, MachineConfigModel) else dict(m)
    defaults = MachineConfigModel.model_fields

    def get(k: str) -> Any:
        return d.get(k, defaults[k].default)

    return machineconfig.Inputs(
        cluster_name=str(d["cluster_name"]),
        endpoint=str(d["endpoint"]),
        machine_type=str(get("machine_type")),
        kubernetes_version=str(get("kubernetes_version")),
        install_disk=str(get("install_disk")),
        install_image=str(get("install_image")),
        cert_sans=tuple(get("cert_sans") or ()),
        cozystack=bool(get("cozystack")),
        vip=get("vip"),
        node_subnet=get("node_subnet"),
        interface=str(get("interface")),
        patches=tuple(get("patches") or ()),
    )


@functools.lru_cache(maxsize=4)
def _parsed_bundle(text: str) -> secrets.Bundle:
    """One parse (YAML and every key) per secrets bundle, not one per node's config."""
    return secrets.Bundle.from_yaml(text)


def _bundle(text: str) -> secrets.Bundle:
    try:
        return _parsed_bundle(text)
    except ValueError as exc:
        raise PermanentError(str(exc)) from None


def _endpoint_warnings(planned: Mapping[str, Any]) -> list[str]:
    """A control plane's endpoint should be the shared VIP, inside the nodes' subnet."""
    endpoint, vip, subnet = (planned.get(k) for k in ("endpoint", "vip", "node_subnet"))
    if not isinstance(endpoint, str) or is_unknown(vip) or is_unknown(subnet):
        return []
    host = urlparse(endpoint).hostname or ""
    if vip is None:
        return [
            f"endpoint {endpoint} names one address and no vip is set: when that node is "
            "down the Kubernetes API is unreachable; CozyStack gives control planes a shared "
            "VIP (set vip to a free address of the nodes' subnet and use it in the endpoint)"
        ]
    out = []
    if host != str(vip):
        out.append(f"endpoint {endpoint} does not name the vip {vip}")
    if isinstance(subnet, str):
        try:
            if ipaddress.ip_address(str(vip)) not in ipaddress.ip_network(subnet, strict=False):
                out.append(f"vip {vip} is outside node_subnet {subnet}")
        except ValueError:
            pass  # the rendered config's validation reports it
    return out


_OUTPUTS = ("machine_config", "talosconfig", "config_sha256")


class TalosMachineConfig(Resource[TalosProvider, MachineConfigModel]):
    type_name = "talos_machine_config"
    model = MachineConfigModel
    description = (
        "Renders a v1alpha1 controlplane/worker machine config with CozyStack's patches and "
        "user patches, plus a talosconfig. Pure computation."
    )

    def plan_warnings(self, planned: Mapping[str, Any]) -> list[str]:
        image = planned.get("install_image", cozystack.INSTALL_IMAGE)
        if not isinstance(image, str) or is_unknown(image):
            return []
        out = versions.warning_for(image)
        cozy = planned.get("cozystack", True) is not False
        boot = planned.get("boot_image")
        if isinstance(boot, str):
            out += images.warnings(boot, image, cozy)
        if cozy and planned.get("machine_type", "controlplane") == "controlplane":
            out += _endpoint_warnings(planned)
        return out

    def check_plan(self, prior: MachineConfigModel | None, planned: Mapping[str, Any]) -> None:
        inputs = {k: v for k, v in planned.items() if k not in _OUTPUTS}
        if contains_unknown(inputs):
            return  # checked again at apply time, once the secrets are known
        try:
            bundle = _parsed_bundle(str(planned["secrets"]))
            machineconfig.render_doc(bundle, _inputs(planned))
        except (ValueError, KeyError) as exc:
            raise PlanError(str(exc)) from None

    def _render(
        self, planned: MachineConfigModel, prior: MachineConfigModel | None
    ) -> MachineConfigModel:
        bundle = _bundle(planned.secrets)
        try:
            text = machineconfig.render(bundle, _inputs(planned))
        except ValueError as exc:
            raise PermanentError(str(exc)) from None
        keep_client = (
            prior is not None
            and prior.talosconfig
            and prior.secrets == planned.secrets
            and prior.cluster_name == planned.cluster_name
            and prior.talos_endpoints == planned.talos_endpoints
        )
        tc = (
            prior.talosconfig
            if keep_client and prior is not None
            else talosconfig.render(
                bundle, planned.cluster_name, planned.talos_endpoints, planned.talos_endpoints
            )
        )
        return planned.model_copy(
            update={
                "machine_config": text,
                "talosconfig": tc,
                "config_sha256": hashlib.sha256(text.encode()).hexdigest(),
            }
        )

    async def read(self, current: MachineConfigModel) -> MachineConfigModel | None:
        return current

    async def create(self, planned: MachineConfigModel, ctx: ApplyContext) -> MachineConfigModel:
        return self._render(planned, None)

    async def update(
        self,
        prior: MachineConfigModel,
        planned: MachineConfigModel,
        changes: Sequence[Change],
        ctx: ApplyContext,
    ) -> MachineConfigModel:
        return self._render(planned, prior)

    async def delete(self, prior: MachineConfigModel, ctx: ApplyContext) -> None:
        return None
