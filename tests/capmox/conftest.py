"""A background lab with the example spec applied, shared by the lab tests of this directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from capmox_lab import TIME_SCALE, Lab, lab_spec

from cozyplan.lab import runtime


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("capmox")
    labdir = root / ".lab"
    runtime.start_background(labdir, time_scale=TIME_SCALE)
    try:
        lab = Lab(root, labdir)
        (root / "spec.yaml").write_text(lab_spec())
        done = lab.cli("apply", "--auto-approve", timeout=900)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        yield lab
    finally:
        runtime.stop_background(labdir)
