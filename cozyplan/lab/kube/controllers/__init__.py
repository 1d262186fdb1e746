"""Simulated controllers: clients of the cluster's store, as kube-controller-manager's are of the
API. Each one reacts to store events for the kinds it watches and works in (scaled) time."""

from __future__ import annotations

from cozyplan.lab.kube.controllers.base import Controller


def all_controllers() -> list[type[Controller]]:
    from cozyplan.lab.kube.controllers.crds import CrdController
    from cozyplan.lab.kube.controllers.deployments import DeploymentController
    from cozyplan.lab.kube.controllers.gc import GarbageCollector
    from cozyplan.lab.kube.controllers.namespaces import NamespaceController
    from cozyplan.lab.kube.controllers.nodes import NodeController
    from cozyplan.lab.kube.controllers.owners import (
        DaemonSetController,
        JobController,
        ReplicaSetController,
        StatefulSetController,
    )
    from cozyplan.lab.kube.controllers.pods import PodController
    from cozyplan.lab.kube.controllers.services import ServiceController
    from cozyplan.lab.kube.controllers.storage import StorageController

    return [
        CrdController,
        NamespaceController,
        GarbageCollector,
        NodeController,
        DeploymentController,
        ReplicaSetController,
        StatefulSetController,
        DaemonSetController,
        JobController,
        PodController,
        StorageController,
        ServiceController,
    ]
