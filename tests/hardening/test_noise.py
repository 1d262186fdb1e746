"""Output noise (issue 12, item 16): a rebooting node is waited for, not reported as a connection
failure; certificates are shown by fingerprint."""

from __future__ import annotations

import hashlib
import io
import ssl
import subprocess
from pathlib import Path

import click

from cozyplan.cli.progress import ConsoleProgress
from cozyplan.diff import Change, ChangeOp
from cozyplan.errors import TemporaryError
from cozyplan.render.human import Styler, change_lines
from cozyplan.render.values import pem_summary
from cozyplan_talos.client import translate


def test_refused_connection_is_a_reboot_being_waited_for(monkeypatch: object) -> None:
    refused = ConnectionRefusedError(111, "Connect call failed ('127.0.0.201', 50000)")
    err = translate(refused, "Version", "10.0.0.201")
    assert isinstance(err, TemporaryError) and err.expected
    assert str(err).splitlines()[0] == "waiting for 10.0.0.201 to reboot"
    out = io.StringIO()
    progress = ConsoleProgress(Styler(False), [])
    original = click.echo
    try:
        click.echo = lambda text, **_kw: out.write(f"{text}\n")  # type: ignore[assignment]
        progress.retrying("talos_node.cp[cp1]", 1, err, 0.2)
    finally:
        click.echo = original
    line = out.getvalue()
    assert line == "talos_node.cp[cp1]: waiting for 10.0.0.201 to reboot (check 1, next in 0.2s)\n"
    assert "Connect call failed" not in line and "temporary error" not in line


def test_other_network_errors_still_say_what_failed() -> None:
    err = translate(TimeoutError(), "Version", "10.0.0.201")
    assert isinstance(err, TemporaryError) and not err.expected
    assert "unreachable" in str(err)


def _self_signed(tmp: Path) -> str:
    key, crt = tmp / "k.pem", tmp / "c.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(crt), "-subj", "/CN=t", "-days", "1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return crt.read_text()


def test_pem_shown_by_fingerprint(tmp_path: Path) -> None:
    pem = _self_signed(tmp_path)
    der = ssl.PEM_cert_to_DER_cert(pem)
    summary = pem_summary(pem)
    assert summary == f"(PEM CERTIFICATE sha256:{hashlib.sha256(der).hexdigest()[:16]})"
    removed = Change(("ca_crt",), ChangeOp.REMOVE, pem, None)
    (line,) = change_lines(removed, Styler(False))
    assert "BEGIN" not in line and summary in line
    nested = Change(("certs",), ChangeOp.REMOVE, {"ca": pem}, None)
    assert "BEGIN" not in "".join(change_lines(nested, Styler(False)))
    assert pem_summary("plain text") is None


def test_adopted_object_is_not_described_as_changed_outside(tmp_path: Path) -> None:
    import json
    import os
    import sys

    (tmp_path / "cozyplan.yaml").write_text(
        "version: 1\nresources:\n  local_file.a: {path: out/a, content: one}\n"
    )

    def sh(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cozyplan", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
            timeout=120,
        )

    assert sh("apply", "--auto-approve").returncode == 0
    # as a run killed mid-create leaves it: a crash marker, no recorded object
    path = tmp_path / "state/cozyplan.state.json"
    state = json.loads(path.read_text())
    res = state["resources"]["local_file.a"]
    res["pending"] = {
        "operation": "create",
        "started": 1.0,
        "attributes": dict(res["desired"]),
        "run_id": "x",
    }
    res["observed"] = None
    path.write_text(json.dumps(state))
    (tmp_path / "cozyplan.yaml").write_text(
        "version: 1\nresources:\n  local_file.a: {path: out/a, content: two}\n"
    )
    out = sh("plan").stdout
    assert "local_file.a was created by an interrupted run and is adopted" in out
    assert "changed outside" not in out and "will undo" not in out
    assert "will be updated in-place (adopting" in out
