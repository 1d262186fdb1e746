"""The ConfigMap ``cozy-system/cozystack``: its keys as v0.37.2 reads them, typed.

Keys are written in the spec exactly as in the ConfigMap (``bundle-name``, ``root-host``...), so
a runbook's ConfigMap can be pasted and is then checked key by key. ``values-<release>`` keys are
mappings (written as YAML into the ConfigMap, merged over the bundle's values by the platform
chart). Unknown keys are reported by ``validate`` with the key they were probably meant to be.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

import yaml
from pydantic import ConfigDict, Field, field_validator

from cozyplan.provider import SpecModel

VALUES_KEY = re.compile(r"^values-(?P<release>[a-z0-9][a-z0-9-]*)$")
DEFAULT_CLUSTER_DOMAIN = "cozy.local"

#: what a mistaken key means, beyond a spelling suggestion
KEY_FIXES = {
    "bundle": "CozyStack v0.37.2 never reads `bundle`: the key is `bundle-name`",
    "cluster_domain": "keys are written as in the ConfigMap: `cluster-domain`",
}


def _cidr(value: str | None) -> str | None:
    if value is not None:
        try:
            ipaddress.IPv4Network(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IPv4 CIDR ({exc})") from None
    return value


class CozystackConfigMap(SpecModel):
    """The keys of ``cozy-system/cozystack`` (v0.37.2)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    # required by every bundle but reported by ``validate`` with upstream's reason
    bundle_name: str | None = Field(None, alias="bundle-name")
    root_host: str | None = Field(None, alias="root-host")
    api_server_endpoint: str | None = Field(None, alias="api-server-endpoint")
    bundle_enable: list[str] = Field(default_factory=list, alias="bundle-enable")
    bundle_disable: list[str] = Field(default_factory=list, alias="bundle-disable")
    ipv4_pod_cidr: str | None = Field(None, alias="ipv4-pod-cidr")
    ipv4_pod_gateway: str | None = Field(None, alias="ipv4-pod-gateway")
    ipv4_svc_cidr: str | None = Field(None, alias="ipv4-svc-cidr")
    ipv4_join_cidr: str | None = Field(None, alias="ipv4-join-cidr")
    cluster_domain: str | None = Field(None, alias="cluster-domain")
    telemetry_enabled: bool | None = Field(None, alias="telemetry-enabled")
    expose_services: list[str] = Field(default_factory=list, alias="expose-services")
    expose_ingress: str | None = Field(None, alias="expose-ingress")
    expose_external_ips: list[str] = Field(default_factory=list, alias="expose-external-ips")
    oidc_enabled: bool | None = Field(None, alias="oidc-enabled")
    cpu_allocation_ratio: float | None = Field(None, alias="cpu-allocation-ratio")
    clusterissuer: str | None = None
    extra_keycloak_redirect_uri_for_dashboard: str | None = Field(
        None, alias="extra-keycloak-redirect-uri-for-dashboard"
    )
    management_kubeconfig_endpoint: str | None = Field(None, alias="management-kubeconfig-endpoint")

    _cidrs = field_validator("ipv4_pod_cidr", "ipv4_svc_cidr", "ipv4_join_cidr")(_cidr)

    @field_validator(
        "bundle_enable", "bundle_disable", "expose_services", "expose_external_ips", mode="before"
    )
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):  # the ConfigMap's own form, "a,b"
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("api_server_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parsed = urlparse(value)
        if parsed.scheme != "https" or not parsed.hostname:
            raise ValueError(f"must be an https URL like https://10.0.0.201:6443, not {value!r}")
        return value

    @field_validator("ipv4_pod_gateway")
    @classmethod
    def _gateway(cls, value: str | None) -> str | None:
        if value is not None:
            ipaddress.IPv4Address(value)
        return value

    def release_values(self) -> dict[str, Any]:
        """``values-<release>`` keys: release -> mapping."""
        out: dict[str, Any] = {}
        for key, value in (self.model_extra or {}).items():
            m = VALUES_KEY.match(key)
            if m is not None:
                out[m.group("release")] = value
        return out

    def effective_cluster_domain(self) -> str:
        return self.cluster_domain or DEFAULT_CLUSTER_DOMAIN

    def data(self) -> dict[str, str]:
        """The ConfigMap's ``data``: every value a string, as CozyStack reads it."""
        out: dict[str, str] = {}
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None or value == []:
                continue
            key = info.alias or name
            if isinstance(value, bool):
                out[key] = "true" if value else "false"
            elif isinstance(value, list):
                out[key] = ",".join(value)
            elif isinstance(value, float):
                out[key] = f"{value:g}"
            else:
                out[key] = str(value)
        for release, values in sorted(self.release_values().items()):
            out[f"values-{release}"] = yaml.safe_dump(values, sort_keys=True)
        return out


def known_keys() -> list[str]:
    return sorted(info.alias or name for name, info in CozystackConfigMap.model_fields.items())


def unknown_key_problems(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, message) for every key v0.37.2 does not read, with the probable fix."""
    keys = known_keys()
    out = []
    for key in config:
        if key in keys or VALUES_KEY.match(str(key)):
            continue
        fix = KEY_FIXES.get(str(key))
        if fix is None:
            close = difflib.get_close_matches(str(key), [*keys, "values-<release>"], n=1)
            fix = f"did you mean `{close[0]}`?" if close else ""
        msg = f"unknown ConfigMap key {key!r}: {fix}" if fix else f"unknown ConfigMap key {key!r}"
        out.append(
            (str(key), f"{msg} (keys CozyStack v0.37.2 reads: {', '.join(keys)}, values-<release>)")
        )
    return out
