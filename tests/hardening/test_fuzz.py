"""Fuzzing (issue 12): random bytes, deep nesting and alias bombs to ``validate``, random
corruptions of state, journal and plan files to ``state list``/``plan``/``show``/``apply``. Only
clear errors, in bounded memory (RLIMIT_AS in the worker) and time (a generous timeout that
only catches hangs). The campaign is in ``fuzz_worker.py``; FUZZ_EXAMPLES sets its size."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MEMORY_LIMIT = 2 << 30  # the alias bomb of issue 12 took 3.9 GB before expansion was bounded


@pytest.mark.slow
@pytest.mark.timeout(1000)
def test_fuzz_campaign_sees_only_clear_errors(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.hardening.fuzz_worker", str(tmp_path), str(MEMORY_LIMIT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "NO_COLOR": "1", "FUZZ_EXAMPLES": os.environ.get("FUZZ_EXAMPLES", "40")},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "state and plan files: ok" in result.stdout
