"""Hostile strings from the spec reach the host as data, never as shell syntax."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from conftest import LabHost, RealSSHD
from harness import converge
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cozyplan_host.resources import HostCommand, HostFile

NASTY = [
    "$(touch /tmp/pwned)",
    "`id`",
    "'; rm -rf /tmp/x #",
    "a\nb",
    '"$HOME"',
    "x;y",
    "&& false",
    "|| true",
    "*",
    "~root",
    "-rf",
    "",
    " ",
    "\\",
    "'\"'\"'",
    "${IFS}",
]
hostile = st.one_of(
    st.sampled_from(NASTY),
    st.text(alphabet=st.sampled_from(list("'\"$()`;&|<>\\\n\t *?~#!{}[]=-ab")), max_size=24),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=24,
    ),
)
names = hostile.map(lambda s: s.replace("/", "_")).filter(lambda s: s not in ("", ".", ".."))
SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    yield loop  # type: ignore[misc]
    loop.close()


def test_lab_argv_and_files_arrive_exactly(
    lab_host: LabHost, loop: asyncio.AbstractEventLoop
) -> None:
    provider = lab_host.provider()
    command, files = HostCommand(provider), HostFile(provider)

    @SETTINGS
    @given(args=st.lists(hostile, min_size=1, max_size=3), name=names, content=hostile)
    def check(args: list[str], name: str, content: str) -> None:
        mark = lab_host.mark()
        loop.run_until_complete(
            converge(command, None, {"host": "pve", "command": ["echo", *args]})
        )
        assert ["echo", *args] in lab_host.since(mark)
        path = f"/tmp/inj/{name}"
        loop.run_until_complete(
            converge(files, None, {"host": "pve", "path": path, "content": content})
        )
        assert lab_host.host.fs.read(path) == content.encode()

    try:
        check()
    finally:
        loop.run_until_complete(provider.close())
    assert not lab_host.host.fs.exists("/tmp/pwned")


@pytest.mark.sshd
def test_real_sshd_argv_and_files_arrive_exactly(
    sshd: RealSSHD, tmp_path: Path, loop: asyncio.AbstractEventLoop
) -> None:
    provider = sshd.provider()
    command, files = HostCommand(provider), HostFile(provider)
    out = tmp_path / "argv.json"
    dump = "import sys, json; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"

    @SETTINGS
    @given(args=st.lists(hostile, min_size=1, max_size=3), name=names, content=hostile)
    def check(args: list[str], name: str, content: str) -> None:
        loop.run_until_complete(
            converge(
                command, None, {"host": "pve", "command": ["python3", "-c", dump, str(out), *args]}
            )
        )
        assert json.loads(out.read_text()) == args
        path = tmp_path / "files" / name
        loop.run_until_complete(
            converge(files, None, {"host": "pve", "path": str(path), "content": content})
        )
        assert path.read_bytes() == content.encode()

    try:
        check()
    finally:
        loop.run_until_complete(provider.close())
    assert not Path("/tmp/pwned").exists()
