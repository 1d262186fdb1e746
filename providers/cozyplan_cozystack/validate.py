"""``validate``-time checks of the cozystack resources, alone and against the rest of the spec.

Each problem names the field and the fix. Cross-resource checks compare what the spec states
statically (literals, variables, ``each.*``): the ConfigMap against the Talos machine configs
(``cluster-domain``/``dnsDomain``, pod/service CIDRs, API endpoint) and the MetalLB pool against
node addresses and other declared address ranges. Unknown values (resource attributes) are
skipped, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlparse

from cozyplan.provider import SpecBlock, SpecProblem, SpecView, is_unknown
from cozyplan.upstream.cozystack import UnknownVersion, release
from cozyplan.upstream.cozystack.appschema import check_app_spec
from cozyplan.upstream.gotemplate import TemplateError
from cozyplan_cozystack import talosnet
from cozyplan_cozystack.configmap import VALUES_KEY, unknown_key_problems
from cozyplan_cozystack.models import DEFAULT_VERSION
from cozyplan_cozystack.netranges import Span, known, node_addresses, parse_range, spans

#: bundle names seen in the wild that no release tag has
BUNDLE_FIXES = {
    "paas-proxmox": "`paas-proxmox` exists only on a development branch (its charts do not "
    "exist in any release)",
}
REQUIRED = {
    "bundle-name": "the platform chart renders bundles/<bundle-name>.yaml",
    "root-host": "the bundle template fails: ERROR need root-host in cozystack ConfigMap",
    "api-server-endpoint": "the bundle template fails: "
    "ERROR need api-server-endpoint in cozystack ConfigMap",
}
#: v0.37.2 bundles that do not fail without these keys
REQUIRED_BY_BUNDLE = {"distro-full": ("bundle-name",), "distro-hosted": ("bundle-name",)}

Problems = list[SpecProblem]


def validate_spec(spec: SpecView) -> Problems:
    problems: Problems = []
    platforms = spec.of_type("cozystack_platform")
    for block in platforms:
        for _, body in spec.instances(block):
            problems.extend(_platform(spec, block, body))
    for block in spec.of_type("cozystack_networking"):
        problems.extend(_networking(spec, block))
    for block in spec.of_type("cozystack_storage"):
        problems.extend(_storage(spec, block))
    for block in spec.of_type("cozystack_app"):
        for _, body in spec.instances(block):
            problems.extend(_app(block, body))
    for block in spec.of_type("cozystack_tenant"):
        for _, body in spec.instances(block):
            problems.extend(_tenant(block, body))
    if platforms:
        problems.extend(_talos_images(spec, platforms))
    return _unique(problems)


#: the Talos release each CozyStack version builds its image from
#: (cozystack packages/core/installer/images/talos)
TALOS_OF = {"v0.37.2": "v1.10.6"}
#: a Talos release named in an image URL (Image Factory or GitHub release downloads)
_TALOS_URL = re.compile(r"(?:factory\.talos\.dev|siderolabs/talos)\S*?/(v\d+\.\d+)\.\d+")


def _talos_images(spec: SpecView, platforms: list[SpecBlock]) -> Problems:
    """A Talos image other than the minor CozyStack's version builds (v1.10 for v0.37.2)."""
    out: Problems = []
    version = spec.static(platforms[0].body.get("version", DEFAULT_VERSION))
    if not isinstance(version, str) or is_unknown(version):
        return out
    wanted = TALOS_OF.get(version)
    if wanted is None:
        return out
    minor = ".".join(wanted.split(".")[:2])
    for block in spec.of_type("proxmox_image"):
        url = spec.static(block.body.get("url"))
        m = _TALOS_URL.search(url) if isinstance(url, str) and not is_unknown(url) else None
        if m is not None and m.group(1) != minor:
            out.append(
                SpecProblem(
                    block.address,
                    ("url",),
                    f"Talos {m.group(1)} image, but CozyStack {version} runs on Talos {wanted} "
                    "(with the drbd, zfs and lldpd extensions its LINSTOR and networking need): "
                    "use ${talos_image_schematic.NAME.image_url} (its Image Factory image) "
                    f"or CozyStack's own nocloud image of Talos {wanted}",
                )
            )
    return out


def _unique(problems: Problems) -> Problems:
    seen: set[tuple[str, tuple[str | int, ...], str]] = set()
    out = []
    for p in problems:
        key = (p.address, p.path, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


# ---- cozystack_platform ------------------------------------------------------------------
def _platform(spec: SpecView, block: SpecBlock, body: Mapping[str, Any]) -> Problems:
    out: Problems = []
    addr = block.address
    version = body.get("version", DEFAULT_VERSION)
    if not isinstance(version, str) or is_unknown(version):
        return out
    try:
        rel = release(version)
    except UnknownVersion as exc:
        return [SpecProblem(addr, ("version",), str(exc))]
    config = body.get("config")
    if not isinstance(config, dict):
        return out
    for key, message in unknown_key_problems(config):
        out.append(SpecProblem(addr, ("config", key), message))
    bundle = config.get("bundle-name", config.get("bundle"))
    bundle_key = "bundle-name" if "bundle-name" in config else "bundle"
    required = (
        REQUIRED_BY_BUNDLE.get(bundle, tuple(REQUIRED))
        if isinstance(bundle, str)
        else (tuple(REQUIRED))
    )
    for key in required:
        if key not in config and not (key == "bundle-name" and "bundle" in config):
            out.append(
                SpecProblem(
                    addr, ("config",), f"ConfigMap key {key!r} is required: {REQUIRED[key]}"
                )
            )
    if isinstance(bundle, str) and not is_unknown(bundle):
        names = rel.bundle_names()
        if bundle not in names:
            why = BUNDLE_FIXES.get(bundle, f"no bundle {bundle!r} in CozyStack {version}")
            out.append(
                SpecProblem(
                    addr,
                    ("config", bundle_key),
                    f"{why}; CozyStack {version} bundles: {', '.join(names)} "
                    "(e.g. paas-full for a full PaaS on VMs)",
                )
            )
        else:
            out.extend(_bundle_members(addr, rel.version, bundle, config))
    out.extend(_against_talos(spec, addr, config))
    return out


def _static_data(config: Mapping[str, Any]) -> dict[str, str]:
    data = {k: str(v) for k, v in config.items() if isinstance(v, str | int | float | bool)}
    for key in ("root-host", "api-server-endpoint"):
        if not data.get(key) or "${" in data[key]:
            data[key] = "placeholder"  # only the release list is wanted here
    return data


def _bundle_members(addr: str, version: str, bundle: str, config: Mapping[str, Any]) -> Problems:
    out: Problems = []
    try:
        entries = {e.name: e for e in release(version).bundle_entries(bundle, _static_data(config))}
    except TemplateError as exc:
        return [SpecProblem(addr, ("config",), f"bundle {bundle} does not render: {exc}")]
    for key in ("bundle-enable", "bundle-disable"):
        value = config.get(key)
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list):
            continue
        for i, name in enumerate(items):
            if not isinstance(name, str) or is_unknown(name):
                continue
            name = name.strip()
            path: tuple[str | int, ...] = (
                ("config", key, i) if isinstance(value, list) else ("config", key)
            )
            if name not in entries:
                out.append(
                    SpecProblem(
                        addr,
                        path,
                        f"{name!r} is not a release of bundle {bundle} "
                        f"(releases: {', '.join(sorted(entries))})",
                    )
                )
            elif key == "bundle-enable" and not entries[name].optional:
                out.append(
                    SpecProblem(
                        addr,
                        path,
                        f"{name!r} is installed by default in {bundle}: bundle-enable only "
                        "turns on optional releases "
                        f"({', '.join(sorted(n for n, e in entries.items() if e.optional))})",
                    )
                )
    for key, value in config.items():
        m = VALUES_KEY.match(str(key))
        if m is None:
            continue
        if m.group("release") not in entries:
            out.append(
                SpecProblem(
                    addr,
                    ("config", key),
                    f"no release {m.group('release')!r} in bundle {bundle}: the platform chart "
                    f"reads values-<release> for its releases ({', '.join(sorted(entries))})",
                )
            )
        elif known(value) and not isinstance(value, dict):
            out.append(SpecProblem(addr, ("config", key), "must be a mapping of Helm values"))
    return out


def _same_endpoint(a: str, b: str) -> bool:
    pa, pb = urlparse(a), urlparse(b)
    return (pa.scheme, pa.hostname, pa.port or 443) == (pb.scheme, pb.hostname, pb.port or 443)


def _against_talos(spec: SpecView, addr: str, config: Mapping[str, Any]) -> Problems:
    out: Problems = []
    domain = config.get("cluster-domain", "cozy.local")
    for talos in talosnet.machine_networks(spec):
        where = (talos.address, talos.path)
        if known(domain) and known(talos.dns_domain) and domain != talos.dns_domain:
            out.append(
                SpecProblem(
                    addr,
                    ("config", "cluster-domain") if "cluster-domain" in config else ("config",),
                    f"cluster-domain {domain!r} differs from the Talos dnsDomain "
                    f"{talos.dns_domain!r} of {talos.address}: Kubernetes serves "
                    f"*.svc.{talos.dns_domain}, so CozyStack's in-cluster names would not "
                    f"resolve; set cluster-domain: {talos.dns_domain} (or change both)",
                    related=(where,),
                )
            )
        for key, talos_value, what in (
            ("ipv4-pod-cidr", talos.pod_subnets, "podSubnets"),
            ("ipv4-svc-cidr", talos.service_subnets, "serviceSubnets"),
        ):
            mine = config.get(key)
            if not known(mine) or not known(talos_value) or not talos_value:
                continue
            if str(mine) not in [str(v) for v in talos_value]:
                out.append(
                    SpecProblem(
                        addr,
                        ("config", key),
                        f"{key} {mine} differs from the Talos {what} {talos_value[0]} of "
                        f"{talos.address} (kube-ovn must use the cluster's own ranges); "
                        f"set {key}: {talos_value[0]}",
                        related=(where,),
                    )
                )
        endpoint = config.get("api-server-endpoint")
        if (
            known(endpoint)
            and known(talos.endpoint)
            and not _same_endpoint(str(endpoint), str(talos.endpoint))
        ):
            out.append(
                SpecProblem(
                    addr,
                    ("config", "api-server-endpoint"),
                    f"api-server-endpoint {endpoint} differs from the Talos cluster endpoint "
                    f"{talos.endpoint} of {talos.address}; set api-server-endpoint: "
                    f"{talos.endpoint}",
                    related=(where,),
                )
            )
    return out


# ---- cozystack_networking ----------------------------------------------------------------
def _declared_ranges(spec: SpecView, skip: str) -> Iterator[Span]:
    """Other address ranges the spec hands out: other pools, Cluster API IPAM ranges."""
    for block in spec.of_type("cozystack_networking"):
        if block.address != skip:
            yield from spans(
                block.address, ("addresses",), spec.static(block.body.get("addresses"))
            )
    for block in spec.of_type("proxmox_cluster"):
        yield from spans(
            block.address, ("ipv4_addresses",), spec.static(block.body.get("ipv4_addresses"))
        )
    for block in spec.of_type("k8s_manifest"):
        for _, body in spec.instances(block):
            manifest = body.get("manifest")
            if not isinstance(manifest, dict):
                continue
            kind = manifest.get("kind")
            s = manifest.get("spec") or {}
            if kind == "ProxmoxCluster":
                v4 = s.get("ipv4Config") or {}
                yield from spans(
                    block.address,
                    ("manifest", "spec", "ipv4Config", "addresses"),
                    v4.get("addresses"),
                )
            elif kind == "IPAddressPool":
                yield from spans(
                    block.address, ("manifest", "spec", "addresses"), s.get("addresses")
                )


def _networking(spec: SpecView, block: SpecBlock) -> Problems:
    out: Problems = []
    addresses = spec.static(block.body.get("addresses"))
    if not isinstance(addresses, list):
        return out
    for i, item in enumerate(addresses):
        if isinstance(item, str) and known(item):
            try:
                parse_range(item)
            except ValueError as exc:
                out.append(
                    SpecProblem(
                        block.address,
                        ("addresses", i),
                        f"{item!r} is not a CIDR or a range a.b.c.d-a.b.c.e ({exc})",
                    )
                )
    pool = list(spans(block.address, ("addresses",), addresses))
    nodes = list(node_addresses(spec))
    others = list(_declared_ranges(spec, block.address))
    for mine in pool:
        for node in nodes:
            if mine.overlaps(node):
                out.append(
                    SpecProblem(
                        block.address,
                        mine.path,
                        f"MetalLB pool {mine.text} contains the node address {node.text}: MetalLB "
                        "would announce it for a Service and steal the node's traffic; use a "
                        "range outside the nodes' addresses",
                        related=((node.address, node.path),),
                    )
                )
        for other in others:
            if mine.overlaps(other):
                out.append(
                    SpecProblem(
                        block.address,
                        mine.path,
                        f"MetalLB pool {mine.text} overlaps {other.text} declared by "
                        f"{other.address}: two allocators would hand out the same addresses",
                        related=((other.address, other.path),),
                    )
                )
    return out


# ---- cozystack_storage ------------------------------------------------------------------
_DISKS_REF = re.compile(
    r"^\$\{\s*(proxmox_vm\.[A-Za-z0-9_-]+)(?:\[\s*[\"']?([^\]\"']+)[\"']?\s*\])?\.disks\s*\}$"
)


def _vm_disks(spec: SpecView, ref: str) -> tuple[str, Any] | None:
    """The disks a ``${proxmox_vm.NAME[KEY].disks}`` reference will have (they are inputs)."""
    m = _DISKS_REF.match(ref.strip())
    if m is None or m.group(1) not in spec.blocks:
        return None
    block = spec.blocks[m.group(1)]
    for key, body in spec.instances(block):
        if key == m.group(2) or (key is None and m.group(2) is None):
            return block.address, body.get("disks")
    return None


def _storage(spec: SpecView, block: SpecBlock) -> Problems:
    out: Problems = []
    slot = spec.static(block.body.get("data_disk", "scsi1"))
    nodes = block.body.get("nodes")
    if not isinstance(slot, str) or is_unknown(slot) or not isinstance(nodes, dict):
        return out
    for node, item in nodes.items():
        disks_ref = item.get("disks") if isinstance(item, dict) else None
        found = _vm_disks(spec, disks_ref) if isinstance(disks_ref, str) else None
        if found is None:
            continue
        vm, disks = found
        if not isinstance(disks, list) or not known(disks):
            continue
        slots = [d.get("slot") for d in disks if isinstance(d, dict)]
        if slot not in slots:
            out.append(
                SpecProblem(
                    block.address,
                    ("nodes", node, "disks"),
                    f"{vm} has no disk {slot} (its disks: {', '.join(map(str, slots)) or 'none'})"
                    f": LINSTOR would fail on node {node}; add a data disk {slot} to the VM",
                    related=((vm.split("[")[0], ("disks",)),),
                )
            )
    return out


# ---- apps and tenants --------------------------------------------------------------------
def _app_problems(addr: str, version: Any, kind: Any, spec: Any, field: str) -> Problems:
    if not isinstance(version, str) or is_unknown(version):
        return []
    try:
        rel = release(version)
    except UnknownVersion as exc:
        return [SpecProblem(addr, ("version",), str(exc))]
    apps = rel.app_definitions()
    if not isinstance(kind, str) or is_unknown(kind):
        return []
    if kind not in apps:
        plural = {d.plural: k for k, d in apps.items()} | {d.singular: k for k, d in apps.items()}
        hint = f"; did you mean {plural[kind]!r}?" if kind in plural else ""
        return [
            SpecProblem(
                addr,
                ("kind",),
                f"no apps.cozystack.io kind {kind!r} in CozyStack {version}{hint} "
                f"(kinds: {', '.join(sorted(apps))})",
            )
        ]
    if not known(spec):
        return []
    definition = apps[kind]
    schema = rel.app_values_schema(definition.chart) or definition.schema
    return [
        SpecProblem(addr, (field, *path), message)
        for path, message in check_app_spec(
            schema, spec or {}, rel.app_chart_values(definition.chart)
        )
    ]


def _app(block: SpecBlock, body: Mapping[str, Any]) -> Problems:
    return _app_problems(
        block.address,
        body.get("version", DEFAULT_VERSION),
        body.get("kind"),
        body.get("spec"),
        "spec",
    )


def _tenant(block: SpecBlock, body: Mapping[str, Any]) -> Problems:
    return _app_problems(block.address, DEFAULT_VERSION, "Tenant", body.get("values"), "values")
