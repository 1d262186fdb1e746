"""Shared fixtures: run the CLI in-process or as a real subprocess, in a temp project dir."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cozyplan.cli.app import main

# a command server the developer started must not run the tests' commands (tests/server starts
# its own and turns this off for its commands, and runs tests/lab through it)
if not os.environ.get("COZYPLAN_TEST_THROUGH_SERVER"):
    os.environ["COZYPLAN_SERVER"] = "off"


@dataclass
class Project:
    dir: Path

    def write(self, text: str, name: str = "cozyplan.yaml") -> Path:
        path = self.dir / name
        path.write_text(textwrap.dedent(text))
        return path

    def run(self, *args: str, input: str | None = None) -> Result:
        runner = CliRunner()
        old = Path.cwd()
        os.chdir(self.dir)
        try:
            return runner.invoke(main, list(args), input=input, catch_exceptions=False)
        finally:
            os.chdir(old)

    def spawn(self, *args: str, **kw: object) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "cozyplan", *args],
            cwd=self.dir,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **kw,  # type: ignore[call-overload]
        )

    def sh(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cozyplan", *args],
            cwd=self.dir,
            text=True,
            capture_output=True,
            timeout=timeout,
            env={**os.environ, "NO_COLOR": "1"},
        )


@pytest.fixture(scope="session", autouse=True)
def _parse_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The parse cache of shipped data files (``cozyplan.datacache``) in a temp dir, never in
    the home of whoever runs the tests (also for the commands they spawn)."""
    old = os.environ.get("COZYPLAN_CACHE_DIR")
    os.environ["COZYPLAN_CACHE_DIR"] = str(tmp_path_factory.mktemp("parse-cache"))
    yield
    if old is None:
        del os.environ["COZYPLAN_CACHE_DIR"]
    else:
        os.environ["COZYPLAN_CACHE_DIR"] = old


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    monkeypatch.setenv("NO_COLOR", "1")
    yield Project(tmp_path)


def run_lab_cli(
    cwd: Path, labdir: Path, *args: str, spec: str, timeout: float
) -> subprocess.CompletedProcess[str]:
    """``cozyplan ARGS -f SPEC --lab --lab-dir LABDIR`` in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "cozyplan", *args, "-f", spec, "--lab", "--lab-dir", str(labdir)],
        cwd=cwd,
        text=True,
        capture_output=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1"},
    )


def rehearsed(labdir: Path, path: Path) -> Path:
    """Where a lab run writes the file a spec names ``path`` (never at ``path`` itself)."""
    return labdir / "files" / str(path.resolve()).lstrip("/")
