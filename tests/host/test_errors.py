"""Failures name the host and the step, and say whether a retry can help."""

from __future__ import annotations

import asyncssh
import pytest
from conftest import LabHost, arun
from harness import converge

from cozyplan.errors import PermanentError, TemporaryError
from cozyplan.provider import ProviderContext
from cozyplan_host import HostProvider
from cozyplan_host.config import HostProviderConfig
from cozyplan_host.resources import HostCommand, HostNexCage


def _fail(provider: HostProvider, body: dict[str, object]) -> BaseException:
    async def main() -> None:
        try:
            await converge(HostCommand(provider), None, body)
        finally:
            await provider.close()

    with pytest.raises((PermanentError, TemporaryError)) as info:
        arun(main())
    return info.value


def test_wrong_host_key(lab_host: LabHost) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    err = _fail(lab_host.provider(host_key=other), {"host": "pve", "command": ["true"]})
    assert isinstance(err, PermanentError)
    assert "host pve" in str(err) and "host key verification failed" in str(err)


def test_unknown_host_is_not_trusted(lab_host: LabHost, tmp_path: object) -> None:
    err = _fail(
        lab_host.provider(known_hosts_file="/nonexistent/known_hosts"),
        {"host": "pve", "command": ["true"]},
    )
    assert isinstance(err, PermanentError) and "never trusts" in str(err)


def test_refused_key(lab_host: LabHost, tmp_path: object) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()
    err = _fail(lab_host.provider(private_key=key), {"host": "pve", "command": ["true"]})
    assert isinstance(err, PermanentError)
    assert "host pve" in str(err) and "refused our key" in str(err)
    assert "PRIVATE KEY" not in str(err)


def test_command_timeout(lab_host: LabHost) -> None:
    err = _fail(lab_host.provider(), {"host": "pve", "command": ["sleep", "5"], "timeout": 0.3})
    assert isinstance(err, PermanentError)
    assert "host pve" in str(err) and "step 'run sleep' timed out" in str(err)


def test_non_zero_exit_with_output_tail(lab_host: LabHost) -> None:
    err = _fail(lab_host.provider(), {"host": "pve", "command": ["cat", "/no/such"]})
    assert isinstance(err, PermanentError)
    assert "host pve" in str(err) and "step 'run cat' failed with exit status 1" in str(err)
    assert "No such file or directory" in str(err)


def test_connection_refused_is_temporary(tmp_path: object) -> None:
    config = HostProviderConfig.model_validate(
        {
            "hosts": {
                "pve": {
                    "address": "127.0.0.1",
                    "port": 1,
                    "host_key": asyncssh.generate_private_key("ssh-ed25519")
                    .export_public_key()
                    .decode(),
                }
            }
        }
    )
    err = _fail(HostProvider(config, ProviderContext()), {"host": "pve", "command": ["true"]})
    assert isinstance(err, TemporaryError) and "host pve" in str(err)


def test_failed_build_records_nothing(lab_host: LabHost) -> None:
    """A step failing mid-way raises: nothing is returned to be recorded as done."""
    body = {"host": "pve", "build_packages": ["git", "python3-venv"]}  # no C libraries

    async def main() -> None:
        res = HostNexCage(lab_host.provider())
        try:
            with pytest.raises(PermanentError) as info:
                await converge(res, None, body)
            assert "step 'build nexcage' failed" in str(info.value)
            assert "unable to find dynamic system library 'cap'" in str(info.value)
        finally:
            await res.provider.close()

    arun(main())
    assert not lab_host.host.fs.exists("/usr/local/bin/nexcage")
