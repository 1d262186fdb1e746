"""The two tools under test: how to set up a work dir, the command of each step, the state file.

Both run with their output to a log file (plans of 10,000 resources are long), colours off,
and Terraform with an empty CLI config and no checkpoint calls (it works offline:
``terraform_data`` and ``local-exec`` are built in, ``terraform init`` downloads nothing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bench.journal_provider import install_entry_point
from bench.measure import Measurement, run_measured
from bench.shapes import REPO, VM_TIME_SCALE, Shape

# exit codes of a successful step ("plan" runs with detailed exit codes: 0 = no changes)
EXPECTED_EXIT = {
    "init": 0,
    "apply": 0,
    "plan": 0,
    "version": 0,
    "validate": 0,
    "lab-up": 0,
    "lab-down": 0,
    "server-start": 0,
    "server-stop": 0,
}
#: steps whose figure is the fixed cost of a command: repeated like the no-op plan
REPEATED_STEPS = ("plan", "version", "validate")


class Tool(Protocol):
    name: str
    default_parallelism: int

    def version(self) -> str: ...

    def prepare(self, workdir: Path, shape: Shape, n: int, sleep: float) -> None: ...

    def setup_steps(self) -> tuple[str, ...]: ...

    def command(self, step: str, workdir: Path, parallelism: int, shape: Shape) -> list[str]: ...

    def state_file(self, workdir: Path) -> Path: ...

    def env(self, workdir: Path) -> dict[str, str]: ...


def _base_env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "TERM": "dumb"}


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except OSError as exc:
        return f"unavailable ({exc.strerror})"
    return (
        (out.stdout or out.stderr).strip().splitlines()[0]
        if (out.stdout or out.stderr)
        else "unknown"
    )


@dataclass
class Cozyplan:
    # ``python -m cozyplan`` rather than the console script: a pyenv shim adds ~0.5 s per call
    argv: list[str] = field(default_factory=lambda: [sys.executable, "-m", "cozyplan"])
    name: str = "cozyplan"
    default_parallelism: int = 10

    def version(self) -> str:
        return _first_line([*self.argv, "--version"])

    def prepare(self, workdir: Path, shape: Shape, n: int, sleep: float) -> None:
        (workdir / "spec.yaml").write_text(shape.cozyplan(n, sleep))
        install_entry_point(workdir / "entry-points")  # journal_resource, for the bench only

    def setup_steps(self) -> tuple[str, ...]:
        return ()

    def command(self, step: str, workdir: Path, parallelism: int, shape: Shape) -> list[str]:
        spec = ["-f", str(workdir / "spec.yaml")]
        common = [*spec, "--state", str(self.state_file(workdir))]
        lab_dir = ["--lab-dir", str(workdir / "lab")]
        if shape.lab == "in-process":
            common += ["--lab", *lab_dir, "--time-scale", str(VM_TIME_SCALE)]
        elif shape.lab == "background":
            common += ["--lab", *lab_dir]
        if step == "version":
            return [*self.argv, "--version"]
        if step == "validate":
            return [*self.argv, "validate", *spec]
        if step == "lab-up":
            return [*self.argv, "lab", "up", *lab_dir, "--time-scale", str(VM_TIME_SCALE)]
        if step == "lab-down":
            return [*self.argv, "lab", "down", *lab_dir]
        if step in ("server-start", "server-stop"):
            return [*self.argv, "server", step.removeprefix("server-")]
        if step == "apply":
            return [
                *self.argv,
                "apply",
                *common,
                "--auto-approve",
                "--quiet",
                "--parallelism",
                str(parallelism),
            ]
        if step == "plan":
            return [
                *self.argv,
                "plan",
                *common,
                "--detailed-exitcode",
                "--parallelism",
                str(parallelism),
            ]
        raise ValueError(f"cozyplan has no step {step!r}")

    def state_file(self, workdir: Path) -> Path:
        return workdir / "state.json"

    def env(self, workdir: Path) -> dict[str, str]:
        path = [str(REPO), str(workdir / "entry-points"), os.environ.get("PYTHONPATH", "")]
        return {
            **_base_env(),
            "PYTHONPATH": os.pathsep.join(p for p in path if p),
            # the command server of this work dir only: started by the ``-warm`` shapes, absent
            # (one failed connect) for the others, whatever server the user runs
            "COZYPLAN_SERVER_DIR": str(workdir / "server"),
            "COZYPLAN_SERVER": "on",
        }


@dataclass
class Terraform:
    binary: str = "terraform"
    name: str = "terraform"
    default_parallelism: int = 10

    def available(self) -> bool:
        return shutil.which(self.binary) is not None

    def version(self) -> str:
        return _first_line([self.binary, "version"])

    def prepare(self, workdir: Path, shape: Shape, n: int, sleep: float) -> None:
        assert shape.terraform is not None, f"{shape.name} has no Terraform counterpart"
        (workdir / "main.tf").write_text(shape.terraform(n, sleep))
        (workdir / "terraformrc").write_text("")

    def setup_steps(self) -> tuple[str, ...]:
        return ("init",)

    def command(self, step: str, workdir: Path, parallelism: int, shape: Shape) -> list[str]:
        flags = ["-input=false", "-no-color"]
        if step == "init":
            return [self.binary, "init", *flags]
        if step == "version":
            return [self.binary, "version"]
        if step == "validate":
            return [self.binary, "validate", "-no-color"]
        if step == "apply":
            return [self.binary, "apply", *flags, "-auto-approve", f"-parallelism={parallelism}"]
        if step == "plan":
            return [
                self.binary,
                "plan",
                *flags,
                "-detailed-exitcode",
                f"-parallelism={parallelism}",
            ]
        raise ValueError(f"terraform has no step {step!r}")

    def state_file(self, workdir: Path) -> Path:
        return workdir / "terraform.tfstate"

    def env(self, workdir: Path) -> dict[str, str]:
        return {
            **_base_env(),
            "TF_CLI_CONFIG_FILE": str(workdir / "terraformrc"),
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
        }


def run_step(
    tool: Tool, step: str, workdir: Path, parallelism: int, shape: Shape, timeout: float
) -> Measurement:
    return run_measured(
        tool.command(step, workdir, parallelism, shape),
        workdir,
        tool.env(workdir),
        workdir / "log.txt",
        timeout,
    )
