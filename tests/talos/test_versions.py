"""An install image older than CozyStack's Talos v1.10.6 is flagged."""

from __future__ import annotations

from cozyplan_talos.cozystack import INSTALL_IMAGE
from cozyplan_talos.versions import older_talos, warning_for


def test_old_installer_is_flagged_and_the_default_is_not() -> None:
    assert older_talos("ghcr.io/siderolabs/installer:v1.8.4") == "v1.8.4"
    assert older_talos("ghcr.io/example/busybox:v1.8.4") is None
    assert older_talos("factory.talos.dev/installer/abc:v1.8.4") == "v1.8.4"
    (warning,) = warning_for("ghcr.io/cozystack/cozystack/talos:v1.9.2")
    assert "v1.9.2" in warning and "v1.10.6" in warning
    assert warning_for(INSTALL_IMAGE) == []
