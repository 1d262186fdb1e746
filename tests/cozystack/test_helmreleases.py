"""N/M HelmReleases ready, in dependency order, and which failed release blocks which."""

from __future__ import annotations

from typing import Any

from cozyplan.upstream.cozystack import release
from cozyplan_cozystack.helmreleases import report, wanted_of

CM = {"bundle-name": "paas-full", "root-host": "x.org", "api-server-endpoint": "https://a:6443"}


def hr(name: str, ns: str, status: str, reason: str = "", message: str = "") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns},
        "status": {
            "conditions": [
                {"type": "Ready", "status": status, "reason": reason, "message": message}
            ]
        },
    }


def test_progress_and_blocked_dependants() -> None:
    wanted = wanted_of(release("v0.37.2").system_helmreleases(CM))
    live = {w.key: hr(w.name, w.namespace, "True", "InstallSucceeded") for w in wanted}
    assert report(wanted, live).done
    assert report(wanted, live).line() == "47/47 HelmReleases ready"

    live["cozy-cert-manager/cert-manager"] = hr(
        "cert-manager",
        "cozy-cert-manager",
        "False",
        "InstallFailed",
        "Helm install failed for release cozy-cert-manager/cert-manager: timed out",
    )
    for name, ns in (("kamaji", "cozy-kamaji"), ("linstor", "cozy-linstor")):
        live[f"{ns}/{name}"] = hr(
            name,
            ns,
            "False",
            "DependencyNotReady",
            "dependency 'cozy-cert-manager/cert-manager' is not ready",
        )
    del live["cozy-reloader/reloader"]
    rep = report(wanted, live)
    assert (rep.ready, rep.total) == (43, 47)
    # dependency order: the level-0 release first, then the failed one, then its dependants
    assert [k for k, _ in rep.pending] == [
        "cozy-reloader/reloader",
        "cozy-cert-manager/cert-manager",
        "cozy-kamaji/kamaji",
        "cozy-linstor/linstor",
    ]
    assert rep.line(limit=2).startswith(
        "43/47 HelmReleases ready; not ready: cozy-reloader/reloader: not created yet; "
        "cozy-cert-manager/cert-manager: Helm install failed"
    )
    assert list(rep.blocks) == ["cozy-cert-manager/cert-manager"]
    blocked = rep.blocks["cozy-cert-manager/cert-manager"]
    assert "cozy-kamaji/kamaji" in blocked and "cozy-linstor/linstor" in blocked
    assert "cozy-kubevirt/kubevirt-instancetypes" in blocked  # transitively
    assert "cozy-cilium/cilium" not in blocked
    text = rep.failure()
    assert "HelmRelease cozy-cert-manager/cert-manager failed: Helm install failed" in text
    assert "it blocks: " in text
