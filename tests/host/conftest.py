"""Fixtures: the lab's simulated host (in-process) and a real OpenSSH server on loopback."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
import pytest

from cozyplan.lab.runtime import InProcessLab
from cozyplan.lab.sshhost import HostSimulator
from cozyplan.lab.sshhost.host import SimHost
from cozyplan.provider import ProviderContext
from cozyplan_host import HostProvider
from cozyplan_host.config import HostProviderConfig

T = TypeVar("T")
SSHD = "/usr/sbin/sshd"
STUBS = Path(__file__).parent / "stubs"
_addresses = itertools.count(10)


def arun(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


# -- the lab host -------------------------------------------------------------------------------
@dataclass
class LabHost:
    lab: InProcessLab
    sim: HostSimulator
    address: str

    @property
    def host(self) -> SimHost:
        return self.sim.host(self.address)

    def provider(self, **host: Any) -> HostProvider:
        defaults = self.lab.provider_settings()["host"]["defaults"]
        config = HostProviderConfig.model_validate(
            {"hosts": {"pve": {"address": self.address, **host}}, "defaults": defaults}
        )
        ctx = ProviderContext(resolve_endpoint=self.lab.resolve, time_scale=0.001)
        return HostProvider(config, ctx)

    def history(self) -> list[list[str]]:
        return [entry["argv"] for entry in self.host.data["history"]]

    def mark(self) -> int:
        count: int = self.host.data.get("executed", 0)
        return count

    def since(self, mark: int) -> list[list[str]]:
        """Commands run after ``mark`` (the history keeps only the last few hundred)."""
        new = self.mark() - mark
        return self.history()[-new:] if new else []


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessLab]:
    with InProcessLab(tmp_path_factory.mktemp("lab"), time_scale=0.001) as running:
        yield running


@pytest.fixture
def lab_host(lab: InProcessLab) -> LabHost:
    """A fresh simulated host (its own address, so its own filesystem)."""
    sim = next(s for s in lab.runtime.simulators if isinstance(s, HostSimulator))
    return LabHost(lab, sim, f"10.0.{next(_addresses)}.5")


# -- the real OpenSSH server --------------------------------------------------------------------
@dataclass
class RealSSHD:
    port: int
    dir: Path
    client_key: Path
    host_pub: str
    state: Path

    def provider(self, **host: Any) -> HostProvider:
        config = HostProviderConfig.model_validate(
            {
                "hosts": {
                    "pve": {
                        "address": "127.0.0.1",
                        "port": self.port,
                        "user": "root",
                        "private_key_file": str(self.client_key),
                        "host_key": self.host_pub,
                        **host,
                    }
                }
            }
        )
        return HostProvider(config, ProviderContext(base_dir=self.dir))

    def log(self) -> list[str]:
        path = self.state / "log"
        return path.read_text().splitlines() if path.exists() else []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _write_key(path: Path) -> asyncssh.SSHKey:
    key = asyncssh.generate_private_key("ssh-ed25519")
    path.write_bytes(key.export_private_key())
    path.chmod(0o600)
    return key


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealSSHD]:
    if not os.path.exists(SSHD):
        pytest.skip("OpenSSH server not installed (apt-get install openssh-server)")
    if os.geteuid() != 0:
        pytest.skip("the real-sshd tests log in as root and need to run as root")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    d = tmp_path_factory.mktemp("sshd")
    host_key = _write_key(d / "host_key")
    client = _write_key(d / "client_key")
    (d / "authorized_keys").write_bytes(client.export_public_key())
    state = d / "state"
    state.mkdir()
    stubs = d / "stubs"
    shutil.copytree(STUBS, stubs)
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    port = _free_port()
    path = f"{stubs}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\n"
        f"PidFile {d / 'sshd.pid'}\nAuthorizedKeysFile {d / 'authorized_keys'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\n"
        "UsePAM no\nMaxSessions 20\nLogLevel ERROR\nSubsystem sftp internal-sftp\n"
        # SHLVL=1: bash then skips ~/.bashrc, which on a dev box can be slow (pyenv init)
        f"SetEnv PATH={path} STUB_STATE={state} SHLVL=1\n"
    )
    proc = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"sshd exited at start: {err}")
            time.sleep(0.05)
    try:
        yield RealSSHD(
            port, d, d / "client_key", host_key.export_public_key().decode().strip(), state
        )
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def nexcage_repo(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A local stand-in for the NexCage repository: tags v0.7.3 and v0.7.4."""
    repo = tmp_path_factory.mktemp("nexcage-src")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    for version in ("0.7.3", "0.7.4"):
        (repo / "VERSION").write_text(version + "\n")
        (repo / "build.zig").write_text("// stand-in\n")
        subprocess.run([*git, "add", "."], check=True)
        subprocess.run([*git, "commit", "-q", "-m", version], check=True)
        subprocess.run([*git, "tag", f"v{version}"], check=True)
    return f"file://{repo}"
