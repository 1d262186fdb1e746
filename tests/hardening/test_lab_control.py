"""The lab's control port answers only its token holder; status shows everything; a provider's
weakened TLS is warned about once (issue 12, items 10 and 14)."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path
from typing import Any

from tests.conftest import Project

EXAMPLE = Path(__file__).resolve().parents[2] / "specs/examples/proxmox.yaml"


def ask(port: int, payload: dict[str, Any]) -> dict[str, Any]:
    with socket.create_connection(("127.0.0.1", port), 10) as s:
        s.sendall(json.dumps(payload).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    reply: dict[str, Any] = json.loads(data)
    return reply


def test_control_port_needs_the_token_from_the_private_lab_file(project: Project) -> None:
    up = project.sh("lab", "up", "--time-scale", "0.02")
    assert up.returncode == 0, up.stderr
    try:
        info_file = project.dir / ".lab/lab.json"
        assert stat.S_IMODE(info_file.stat().st_mode) == 0o600
        info = json.loads(info_file.read_text())
        port = info["control_port"]
        for payload in (
            {"op": "settings"},
            {"op": "settings", "token": "guess"},
            {"op": "shutdown"},
        ):
            reply = ask(port, payload)
            assert "not authorised" in reply["error"]
            assert "settings" not in reply
        assert "token_secret" in json.dumps(ask(port, {"op": "settings", "token": info["token"]}))
        status = project.sh("lab", "status")
        assert status.returncode == 0, status.stderr
        out = status.stdout
        assert "faults_injected: error=0" in out and "requests:" in out and "nodes:" in out
        for line in out.splitlines():  # no address shown as mapped to itself
            if "->" in line:
                left, right = line.split("->")
                assert left.split()[-1] != right.strip(), line
    finally:
        assert project.sh("lab", "down").returncode == 0


def test_verify_tls_false_warns_once(project: Project) -> None:
    project.write(
        """\
        version: 1
        providers:
          proxmox: {endpoint: "https://127.0.0.1:1", token_id: "root@pam!x", token_secret: abc,
                    verify_tls: false}
        resources:
          proxmox_image.a: {node: pve, storage: local, content: iso,
                            url: "https://example.invalid/a.iso", filename: a.iso}
          proxmox_image.b: {node: pve, storage: local, content: iso,
                            url: "https://example.invalid/b.iso", filename: b.iso}
        """
    )
    result = project.sh("plan")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("verify_tls is false") == 1
    assert "set ca_file" in result.stdout
