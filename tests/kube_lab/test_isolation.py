"""No caller shares a value with the store: what it is given and what it hands in can be changed
at will, and a reply shaped for one request (a built-in list without kinds, a table, partial
metadata) never changes the stored object another request reads."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client, watch

from cozyplan.lab.kube.testing import LabCluster, on_lab
from cozyplan.lab.runtime import InProcessLab

NS = "default"


def _raw(api: client.ApiClient, path: str, accept: str = "application/json") -> Any:
    resp = api.call_api("GET", api.configuration.host + path, header_params={"Accept": accept})
    return json.loads(resp.read() if hasattr(resp, "read") else resp.data)


def test_store_values_are_copies(lab: InProcessLab, cluster: LabCluster) -> None:
    store = cluster.cluster.store
    rt = cluster.cluster.registry()["/configmaps"]
    sent = {"metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"k": "v"}}

    def scenario() -> None:
        made = store.create(rt, NS, sent, "test")
        sent["data"]["k"] = "changed by the sender"
        made["data"]["k"] = "changed by the receiver"
        got = store.get(rt, NS, "a")
        assert got["data"] == {"k": "v"}
        got["metadata"]["labels"]["x"] = "2"
        got["data"]["k"] = "v2"
        updated = store.update(rt, NS, "a", got, "test")
        got["data"]["k"] = "changed after the update"
        updated["metadata"]["labels"].clear()
        stored = store.stored(rt, NS, "a")
        assert stored["data"] == {"k": "v2"} and stored["metadata"]["labels"] == {"x": "2"}
        # a no-op update hands back a copy too
        same = store.update(rt, NS, "a", store.get(rt, NS, "a"), "test")
        assert same["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
        same["data"].clear()
        # the watch window keeps its own copies
        event = store.events[-1]
        assert event.obj == stored and event.obj is not stored
        assert event.obj["data"] is not stored["data"]
        assert store.stored(rt, NS, "a")["data"] == {"k": "v2"}

    on_lab(lab, scenario)


def test_replies_leave_stored_objects_as_they_are(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_config_map(NS, {"metadata": {"name": "a"}, "data": {"k": "v"}})
    before = _raw(api, f"/api/v1/namespaces/{NS}/configmaps/a")
    assert (before["kind"], before["apiVersion"]) == ("ConfigMap", "v1")
    # a built-in list leaves out its items' kind and apiVersion: in the reply only
    listed = _raw(api, f"/api/v1/namespaces/{NS}/configmaps")
    item = next(i for i in listed["items"] if i["metadata"]["name"] == "a")
    assert "kind" not in item and "apiVersion" not in item
    partial = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
    assert _raw(api, f"/api/v1/namespaces/{NS}/configmaps", partial)["items"]
    table = "application/json;as=Table;g=meta.k8s.io;v=v1"
    rows = _raw(api, f"/api/v1/namespaces/{NS}/configmaps?includeObject=Object", table)["rows"]
    assert rows
    assert _raw(api, f"/api/v1/namespaces/{NS}/configmaps/a") == before
    # watch events: each carries its kind, and the object stays as it was
    w = watch.Watch()
    for event in w.stream(v1.list_namespaced_config_map, NS, field_selector="metadata.name=a"):
        assert event["raw_object"]["kind"] == "ConfigMap"
        w.stop()
    assert _raw(api, f"/api/v1/namespaces/{NS}/configmaps/a") == before
