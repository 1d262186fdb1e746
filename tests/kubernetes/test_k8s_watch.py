"""Waiting watches the object, resumes from the last resourceVersion, lists again on 410 Gone."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from k8s_lab import Cluster

from cozyplan.lab import runtime
from cozyplan.provider import ProviderContext
from cozyplan_kubernetes import KubernetesConfig, KubernetesProvider
from cozyplan_kubernetes.client import MERGE_PATCH

pytestmark = pytest.mark.slow

CM = "/api/v1/namespaces/default/configmaps"


def provider(cluster: Cluster) -> KubernetesProvider:
    info = runtime.read_info(cluster.labdir)
    assert info is not None
    ctx = ProviderContext(
        base_dir=cluster.dir, resolve_endpoint=runtime.LabClient(info, cluster.labdir).resolve
    )
    return KubernetesProvider(KubernetesConfig(kubeconfig_path=str(cluster.kubeconfig)), ctx)


def configmap(name: str, step: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"step": step},
    }


def test_wait_follows_changes_through_the_watch(cluster: Cluster) -> None:
    cluster.call("POST", CM, body=configmap("watched", "0"), allow=(409,))
    cluster.call("PATCH", f"{CM}/watched", body={"data": {"step": "0"}}, content_type=MERGE_PATCH)
    seen: list[str] = []

    def bump() -> None:
        for step in ("1", "2", "3"):
            time.sleep(0.3)
            cluster.call(
                "PATCH", f"{CM}/watched", body={"data": {"step": step}}, content_type=MERGE_PATCH
            )

    async def main() -> dict[str, Any] | None:
        p = provider(cluster)
        api = await p.api()
        kind = await api.kind("v1", "ConfigMap")
        try:
            return await api.wait(
                kind,
                "watched",
                "default",
                lambda o: (
                    None
                    if o and o["data"]["step"] == "3"
                    else f"at step {(o or {}).get('data', {}).get('step')}"
                ),
                timeout=20,
                what="did not reach step 3",
                progress=seen.append,
            )
        finally:
            await p.close()

    writer = threading.Thread(target=bump)
    writer.start()
    try:
        got = asyncio.run(main())
    finally:
        writer.join()
    assert got is not None and got["data"]["step"] == "3"
    assert seen[0] == "ConfigMap watched in namespace default: at step 0"
    # every intermediate step arrived as a watch event (not by polling)
    assert [s.rsplit(" ", 1)[1] for s in seen] == ["0", "1", "2"]


def test_an_expired_resource_version_lists_again(cluster: Cluster) -> None:
    async def main() -> tuple[str, str]:
        p = provider(cluster)
        api = await p.api()
        kind = await api.kind("v1", "ConfigMap")
        try:
            expired = await asyncio.to_thread(api._next_event, kind, "x", "default", "1", 2)
            # and a wait that starts from a fresh list still completes
            cluster.call("POST", CM, body=configmap("fresh", "ok"), allow=(409,))
            found = await api.wait(
                kind,
                "fresh",
                "default",
                lambda o: None if o else "missing",
                timeout=10,
                what="is missing",
                progress=lambda m: None,
            )
            assert found is not None
            return expired.kind, found["data"]["step"]
        finally:
            await p.close()

    with cluster.restarted("kubernetes.watch_window=3"):
        for i in range(6):  # push resourceVersion "1" out of the window
            cluster.call("POST", CM, body=configmap(f"filler{i}", str(i)), allow=(409,))
        assert asyncio.run(main()) == ("RELIST", "ok")
