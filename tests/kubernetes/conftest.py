"""A background lab with a bootstrapped Talos cluster, shared by this directory's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from k8s_lab import TALOS, Cluster

from tests.conftest import rehearsed


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("k8s")
    labdir = root / ".lab"
    # a lab run writes the files the spec names under the lab directory
    c = Cluster(root, labdir, rehearsed(labdir, root / "kubeconfig"))
    c.up()
    try:
        c.write(TALOS, "talos.yaml")
        done = c.cli("apply", "--auto-approve", "--quiet", spec="talos.yaml", timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert c.kubeconfig.exists()
        yield c
    finally:
        c.lab("down")
