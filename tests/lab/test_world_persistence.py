"""The lab world's persistence: coalesced, crash-safe writes; the lab of one command's lifetime."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cozyplan.lab.framework import LabError, LabWorld, WorldFile
from cozyplan.lab.runtime import LabRuntime, SubprocessLab


def _on_disk(directory: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / "world.json").read_text())
    return data


def _count_writes(world: LabWorld, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    writes: list[int] = []
    real = world._write

    def counting(generation: int, text: str) -> None:
        writes.append(generation)
        real(generation, text)

    monkeypatch.setattr(world, "_write", counting)
    return writes


def test_a_burst_of_saves_on_a_loop_is_one_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = LabWorld(tmp_path)
    writes = _count_writes(world, monkeypatch)
    vms = world.data("proxmox").setdefault("vms", {})

    async def burst() -> None:
        for i in range(500):
            vms[str(i)] = {"name": f"vm{i}"}
            world.save("proxmox")
            if i % 50 == 0:
                await asyncio.sleep(0)  # other callbacks run in between, as in a real lab
        await asyncio.sleep(world.save_delay * 4)

    asyncio.run(burst())
    world.close()
    assert 1 <= len(writes) <= 3
    assert len(_on_disk(tmp_path)["proxmox"]["vms"]) == 500


def test_only_saved_namespaces_are_serialised_again_and_none_is_lost(tmp_path: Path) -> None:
    world = LabWorld(tmp_path)
    world.data("talos")["nodes"] = {"a": 1}
    world.data("proxmox")["vms"] = {}
    world.save()  # off any loop: written at once
    assert _on_disk(tmp_path) == {"proxmox": {"vms": {}}, "talos": {"nodes": {"a": 1}}}

    world.data("talos")["nodes"]["b"] = 2  # changed but not saved: not persisted yet
    world.data("proxmox")["vms"]["100"] = {"name": "x"}
    world.save("proxmox")
    assert _on_disk(tmp_path) == {
        "proxmox": {"vms": {"100": {"name": "x"}}},
        "talos": {"nodes": {"a": 1}},
    }
    world.save("talos")
    assert _on_disk(tmp_path)["talos"] == {"nodes": {"a": 1, "b": 2}}

    # a new world on the same directory starts from the file, every namespace kept
    again = LabWorld(tmp_path)
    again.data("proxmox")["vms"]["101"] = {"name": "y"}
    again.save("proxmox")
    assert sorted(_on_disk(tmp_path)) == ["proxmox", "talos"]
    assert sorted(_on_disk(tmp_path)["proxmox"]["vms"]) == ["100", "101"]


def test_close_writes_what_a_pending_save_has_not(tmp_path: Path) -> None:
    world = LabWorld(tmp_path)
    world.save_delay = 3600.0  # the coalesced write would come far too late

    async def change() -> None:
        world.data("sim")["k"] = "v"
        world.save("sim")

    asyncio.run(change())
    assert not (tmp_path / "world.json").exists()
    world.close()
    assert _on_disk(tmp_path) == {"sim": {"k": "v"}}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def _replace_world(directory: Path, data: dict[str, Any]) -> None:
    """Another lab writing its world: a new file renamed over the old one."""
    tmp = directory / ".other.tmp"
    tmp.write_text(json.dumps(data))
    tmp.replace(directory / "world.json")


def test_a_world_read_on_standby_is_used_while_the_file_is_unchanged(tmp_path: Path) -> None:
    _replace_world(tmp_path, {"sim": {"n": 1}})
    early = WorldFile.read(tmp_path / "world.json")
    early.data["sim"]["n"] = 2  # what was read is what the world holds (not read again)
    assert LabWorld(tmp_path, preread=early).data("sim") == {"n": 2}
    # replaced since: read again
    _replace_world(tmp_path, {"sim": {"n": 3}})
    assert LabWorld(tmp_path, preread=early).data("sim") == {"n": 3}
    # no world then, one now
    absent = WorldFile.read(tmp_path / "nothing.json")
    assert absent.stamp is None and not absent.current(tmp_path / "world.json")


def test_the_runtime_reads_a_world_written_before_it_owned_the_directory(tmp_path: Path) -> None:
    _replace_world(tmp_path, {"sim": {"n": 1}})
    runtime = LabRuntime(tmp_path, time_scale=0.01)
    assert runtime.world.data("sim") == {"n": 1}
    # the previous owner writes its world as it stops, after this runtime read it
    _replace_world(tmp_path, {"sim": {"n": 2}, "other": {}})
    runtime.acquire()
    try:
        assert runtime.world.data("sim") == {"n": 2}
        runtime.world.flush()  # and it is all written again, not only what changed
        assert _on_disk(tmp_path) == {"sim": {"n": 2}, "other": {}}
    finally:
        runtime.release()


def test_a_world_only_json_reads_is_read(tmp_path: Path) -> None:
    # what json.dumps may write and orjson does not read: NaN, integers beyond 64 bits
    (tmp_path / "world.json").write_text('{"sim": {"x": NaN, "big": 123456789012345678901234}}')
    data = WorldFile.read(tmp_path / "world.json").data
    assert data["sim"]["big"] == 123456789012345678901234
    assert data["sim"]["x"] != data["sim"]["x"]


def test_the_runtime_stopping_flushes_the_world(tmp_path: Path) -> None:
    runtime = LabRuntime(tmp_path, time_scale=0.01)
    runtime.world.save_delay = 3600.0

    async def run() -> None:
        runtime.world.data("sim")["n"] = 1
        runtime.world.save("sim")
        await runtime.stop()

    asyncio.run(run())
    assert _on_disk(tmp_path)["sim"] == {"n": 1}


def test_the_lab_of_a_command_stops_and_frees_the_directory_when_it_closes(
    tmp_path: Path,
) -> None:
    lab = SubprocessLab(tmp_path, time_scale=0.01)
    try:
        settings = lab.provider_settings()
        assert "proxmox" in settings
        # the child owns the directory: a second runtime is refused
        other = LabRuntime(tmp_path)
        with pytest.raises(LabError, match="in use"):
            other.acquire()
    finally:
        lab.close()
    # close returns once the world is written and the directory free (checked right away)...
    assert "proxmox" in _on_disk(tmp_path)
    other.acquire()  # free again
    other.release()
    # ...and the child then exits cleanly
    assert lab._proc.wait(30) == 0


def test_the_lab_of_a_command_outlives_a_killed_command_only_to_write_its_world(
    tmp_path: Path,
) -> None:
    # a "command" that starts its lab, then dies without closing it (SIGKILL)
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from cozyplan.lab.runtime import SubprocessLab\n"
        "lab = SubprocessLab(Path(sys.argv[1]), time_scale=0.01)\n"
        "lab.provider_settings()\n"
        "print(lab._proc.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    command = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert command.stdout is not None
    assert int(command.stdout.readline()) > 0  # the lab is up
    command.send_signal(signal.SIGKILL)
    command.wait(10)
    # its stdin closed with the command: the lab writes its world and lets the directory go
    runtime = LabRuntime(tmp_path)
    runtime.acquire(wait=30)
    runtime.release()
    assert "proxmox" in _on_disk(tmp_path)
