"""CozyStack v0.37.2's files, rendered as the platform chart renders them."""

from __future__ import annotations

import pytest

from cozyplan.upstream.cozystack import (
    UnknownVersion,
    dependency_levels,
    helmrelease_depends,
    known_versions,
    release,
)
from cozyplan.upstream.gotemplate import TemplateError

CM = {
    "bundle-name": "paas-full",
    "root-host": "example.org",
    "api-server-endpoint": "https://10.0.0.201:6443",
}

# domain-facts.md, "The Kubernetes side of v0.37.2": paas-full's default releases by level
PAAS_FULL_LEVELS = {
    0: "cilium fluxcd-operator reloader",
    1: "cilium-networkpolicy kubeovn",
    2: "fluxcd kubeovn-plunger cozy-proxy cert-manager-crds cozystack-controller "
    "vertical-pod-autoscaler-crds kubevirt-cdi-operator metallb grafana-operator "
    "rabbitmq-operator redis-operator objectstorage-controller dashboard",
    3: "cert-manager cozystack-api kubevirt-cdi",
    4: "cert-manager-issuers kubeovn-webhook lineage-controller-webhook "
    "victoria-metrics-operator etcd-operator postgres-operator kamaji capi-operator "
    "cozystack-resource-definition-crd",
    5: "snapshot-controller monitoring-agents kubevirt-operator mariadb-operator kafka-operator "
    "clickhouse-operator piraeus-operator capi-providers-core capi-providers-bootstrap "
    "capi-providers-cpprovider capi-providers-infraprovider cozystack-resource-definitions",
    6: "linstor kubevirt goldpinger vertical-pod-autoscaler",
    7: "kubevirt-instancetypes",
}


def names(cm: dict[str, str]) -> set[str]:
    return {hr["metadata"]["name"] for hr in release("v0.37.2").system_helmreleases(cm)}


def test_versions_and_bundles() -> None:
    assert known_versions() == ["v0.37.2"]
    assert release("v0.37.2").bundle_names() == [
        "distro-full",
        "distro-hosted",
        "paas-full",
        "paas-hosted",
    ]
    with pytest.raises(UnknownVersion, match=r"known: v0\.37\.2"):
        release("v0.38.0")


def test_paas_full_default_releases_and_levels() -> None:
    hrs = release("v0.37.2").system_helmreleases(CM)
    assert len(hrs) == 47
    levels = dependency_levels(
        [h["metadata"]["name"] for h in hrs],
        {h["metadata"]["name"]: helmrelease_depends(h) for h in hrs},
    )
    by_level: dict[int, set[str]] = {}
    for name, level in levels.items():
        by_level.setdefault(level, set()).add(name)
    assert by_level == {lvl: set(text.split()) for lvl, text in PAAS_FULL_LEVELS.items()}


def test_helmreleases_are_what_the_platform_chart_renders() -> None:
    hrs = {h["metadata"]["name"]: h for h in release("v0.37.2").system_helmreleases(CM)}
    proxy = hrs["cozy-proxy"]
    assert proxy["metadata"]["namespace"] == "cozy-system"
    assert proxy["metadata"]["labels"]["cozystack.io/system-app"] == "true"
    assert proxy["spec"]["releaseName"] == "cozystack"
    assert proxy["spec"]["chart"]["spec"]["sourceRef"]["name"] == "cozystack-system"
    kubeovn = hrs["kubeovn"]["spec"]["values"]["kube-ovn"]["ipv4"]
    assert kubeovn["POD_CIDR"] == ""  # the ConfigMap had none
    with_cidr = release("v0.37.2").system_helmreleases({**CM, "ipv4-pod-cidr": "10.244.0.0/16"})
    kubeovn2 = next(h for h in with_cidr if h["metadata"]["name"] == "kubeovn")
    assert kubeovn2["spec"]["values"]["kube-ovn"]["ipv4"]["POD_CIDR"] == "10.244.0.0/16"


def test_values_key_overrides_bundle_values() -> None:
    cm = {**CM, "values-cilium": "cilium:\n  debug: true\n"}
    hr = next(
        h for h in release("v0.37.2").system_helmreleases(cm) if h["metadata"]["name"] == "cilium"
    )
    assert hr["spec"]["values"] == {"cilium": {"debug": True}}


def test_optional_enable_disable_and_oidc() -> None:
    base = names(CM)
    assert "nfs-driver" not in base
    assert "nfs-driver" in names({**CM, "bundle-enable": "nfs-driver"})
    disabled = release("v0.37.2").system_helmreleases({**CM, "bundle-disable": "metallb"})
    assert "metallb" not in {h["metadata"]["name"] for h in disabled}
    # a disabled release is dropped from its dependants' dependsOn too
    assert all("metallb" not in helmrelease_depends(h) for h in disabled)
    # oidc: only the string "true" turns keycloak on (the bundle's own `if` is looser)
    assert {"keycloak", "keycloak-operator", "keycloak-configure"} <= names(
        {**CM, "oidc-enabled": "true"}
    )
    assert not {"keycloak"} & names({**CM, "oidc-enabled": "false"})
    dashboard = next(
        h
        for h in release("v0.37.2").system_helmreleases({**CM, "oidc-enabled": "true"})
        if h["metadata"]["name"] == "dashboard"
    )
    assert "keycloak-configure" in helmrelease_depends(dashboard)


def test_bundle_fails_as_upstream_without_required_keys() -> None:
    with pytest.raises(TemplateError, match="ERROR need root-host in cozystack ConfigMap"):
        release("v0.37.2").system_helmreleases({"bundle-name": "paas-full"})
    with pytest.raises(TemplateError, match="ERROR need api-server-endpoint"):
        release("v0.37.2").bundle_entries("paas-full", {"root-host": "x"})


def test_bundle_entries_include_optional_ones() -> None:
    entries = {e.name: e for e in release("v0.37.2").bundle_entries("paas-full", CM)}
    assert entries["nfs-driver"].optional
    assert entries["telepresence"].release_name == "traffic-manager"
    assert entries["cilium"].privileged
    with pytest.raises(ValueError, match=r"paas-proxmox.*does not exist"):
        release("v0.37.2").bundle_entries("paas-proxmox", CM)


def test_installer_manifest_and_app_definitions() -> None:
    objs = release("v0.37.2").installer_manifest()
    assert [o["kind"] for o in objs] == [
        "Namespace",
        "ServiceAccount",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
    ]
    image = objs[3]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.startswith("ghcr.io/cozystack/cozystack/installer:v0.37.2@sha256:")
    apps = release("v0.37.2").app_definitions()
    assert (apps["Postgres"].plural, apps["Postgres"].prefix) == ("postgreses", "postgres-")
    assert (apps["Kubernetes"].plural, apps["Kubernetes"].prefix) == ("kuberneteses", "kubernetes-")
    assert "size" in apps["Postgres"].schema["properties"]
