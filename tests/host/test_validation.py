"""The validator refuses the runbook's NexCage config and unit, and says why."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cozyplan_host.resources import HostNexCage, HostSystemdUnit

RUNBOOK_CONFIG = {
    "runtime": "lxc",
    "lxc_path": "/var/lib/lxc",
    "default_backend": "lxc",
    "oci_fallback": True,
    "logging": {"level": "info", "file": "/var/log/nexcage.log"},
    "kubernetes": {"enabled": True, "cri_socket": "/run/nexcage/nexcage.sock"},
}
RUNBOOK_UNIT = """[Unit]
Description=NexCage OCI Runtime for LXC

[Service]
Type=notify
ExecStart=/usr/local/bin/nexcage daemon --config /etc/nexcage/config.json
Restart=on-failure
"""


def test_runbook_config_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        HostNexCage.model.model_validate({"host": "pve", "config": RUNBOOK_CONFIG})
    text = str(info.value)
    assert "runtime must be an object" in text and "panic (exit 134)" in text


@pytest.mark.parametrize("key", ["logging", "kubernetes"])
def test_ignored_keys_are_rejected(key: str) -> None:
    with pytest.raises(ValidationError, match="ignores"):
        HostNexCage.model.model_validate({"host": "pve", "config": {key: {}}})


def test_runbook_unit_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        HostSystemdUnit.model.model_validate(
            {"host": "pve", "name": "nexcage.service", "content": RUNBOOK_UNIT}
        )
    assert "no daemon command" in str(info.value)


def test_health_unit_is_fine() -> None:
    unit = "[Service]\nType=oneshot\nExecStart=/usr/local/bin/nexcage health\n"
    HostSystemdUnit.model.model_validate({"host": "pve", "name": "h.service", "content": unit})


def test_default_config_is_what_nexcage_parses() -> None:
    m = HostNexCage.model.model_validate({"host": "pve"})
    rendered = m.nexcage_config.render()  # type: ignore[attr-defined]
    assert '"runtime": {' in rendered and '"log_path": "/var/log/nexcage/runtime.log"' in rendered
