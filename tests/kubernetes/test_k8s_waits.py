"""wait_for: parsing and the readiness of live objects."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cozyplan_kubernetes.waits import (
    WaitFor,
    not_ready,
    parse_condition,
    parse_jsonpath,
    rollout_status,
)


def obj(conditions: list[dict[str, Any]], generation: int = 1, **status: Any) -> dict[str, Any]:
    return {"metadata": {"generation": generation}, "status": {"conditions": conditions, **status}}


def test_parse_condition() -> None:
    assert parse_condition("Ready") == ("Ready", "True")
    assert parse_condition("Available=True") == ("Available", "True")
    assert parse_condition("Degraded=False") == ("Degraded", "False")
    with pytest.raises(ValueError, match="True, False or Unknown"):
        parse_condition("Ready=yes")


def test_parse_jsonpath() -> None:
    assert parse_jsonpath("{.status.phase}=Bound") == (["status", "phase"], "Bound")
    assert parse_jsonpath("{.status.loadBalancer.ingress[0].ip}=10.0.0.5") == (
        ["status", "loadBalancer", "ingress", 0, "ip"],
        "10.0.0.5",
    )
    with pytest.raises(ValueError, match="expected"):
        parse_jsonpath(".status.phase=Bound")


def test_bad_wait_for_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="status must be"):
        WaitFor(conditions=["Ready=maybe"])


def test_conditions_report_the_latest_message() -> None:
    wait = WaitFor(conditions=["Available=True"])
    assert not_ready(wait, obj([])) == ["condition Available not reported yet"]
    waiting = obj([{"type": "Available", "status": "False", "message": "0/2 replicas"}])
    assert not_ready(wait, waiting) == ["Available=False: 0/2 replicas"]
    assert not_ready(wait, obj([{"type": "Available", "status": "True"}])) == []


def test_a_condition_for_an_old_generation_does_not_count() -> None:
    wait = WaitFor(conditions=["Ready"])
    stale = obj([{"type": "Ready", "status": "True", "observedGeneration": 1}], generation=2)
    assert not_ready(wait, stale) == ["condition Ready is for generation 1, not 2 yet"]


def test_jsonpath_equality() -> None:
    wait = WaitFor(jsonpath=["{.status.phase}=Bound"])
    assert not_ready(wait, {"status": {"phase": "Pending"}}) == [
        "{.status.phase} is 'Pending', waiting for 'Bound'"
    ]
    assert not_ready(wait, {"status": {"phase": "Bound"}}) == []


def deployment(**status: Any) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"generation": 2},
        "spec": {"replicas": 3},
        "status": {"observedGeneration": 2, **status},
    }


def test_deployment_rollout() -> None:
    assert rollout_status(deployment(updatedReplicas=1)) == "1 of 3 replicas updated"
    assert (
        rollout_status(deployment(updatedReplicas=3, replicas=4))
        == "1 old replicas pending termination"
    )
    assert (
        rollout_status(deployment(updatedReplicas=3, replicas=3, availableReplicas=2))
        == "2 of 3 updated replicas available"
    )
    assert rollout_status(deployment(updatedReplicas=3, replicas=3, availableReplicas=3)) is None
    old = deployment(updatedReplicas=3, replicas=3, availableReplicas=3, observedGeneration=1)
    assert rollout_status(old) == "waiting for the controller to observe the latest generation"


def test_daemonset_and_statefulset_rollout() -> None:
    ds = {
        "kind": "DaemonSet",
        "metadata": {"generation": 1},
        "status": {"observedGeneration": 1, "desiredNumberScheduled": 3},
    }
    ds["status"].update(updatedNumberScheduled=3, numberAvailable=2)
    assert rollout_status(ds) == "2 of 3 updated pods available"
    ds["status"]["numberAvailable"] = 3
    assert rollout_status(ds) is None
    sts = {
        "kind": "StatefulSet",
        "metadata": {"generation": 1},
        "spec": {"replicas": 2},
        "status": {"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 2},
    }
    sts["status"].update(currentRevision="a", updateRevision="b")
    assert rollout_status(sts) == "waiting for the update revision to become current"
    sts["status"]["currentRevision"] = "b"
    assert rollout_status(sts) is None


def test_a_missing_condition_shows_the_condition_that_blocks_it() -> None:
    pod = obj(
        [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available",
            }
        ]
    )
    assert not_ready(WaitFor(conditions=["Ready"]), pod) == [
        "condition Ready not reported yet (PodScheduled=False: 0/3 nodes are available)"
    ]


def test_conditions_of_a_status_for_an_older_spec_are_stale() -> None:
    wait = WaitFor(conditions=["Available"])
    old = obj([{"type": "Available", "status": "True"}], generation=3, observedGeneration=2)
    assert not_ready(wait, old) == ["waiting for the controller to observe generation 3"]
    current = obj([{"type": "Available", "status": "True"}], generation=3, observedGeneration=3)
    assert not_ready(wait, current) == []
