from __future__ import annotations

from typing import Annotated, Any

from cozyplan.diff import ChangeOp, diff_attrs
from cozyplan.provider import Computed, Noise, RequiresReplace, Sensitive, SpecModel, schema_of


class Disk(SpecModel):
    size: Annotated[int, RequiresReplace()]
    storage: str


class M(SpecModel):
    name: Annotated[str, RequiresReplace()]
    cores: int = 1
    disks: list[Disk] = []
    labels: dict[str, str] = {}
    password: Annotated[str | None, Sensitive()] = None
    vmid: Annotated[int | None, Computed(optional=True)] = None
    uptime: Annotated[int | None, Computed(), Noise()] = None


S = schema_of(M)


def base(**kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": "a",
        "cores": 1,
        "disks": [{"size": 10, "storage": "l"}],
        "labels": {"a": "1"},
        "password": "p",
        "vmid": 100,
        "uptime": 5,
    }
    d.update(kw)
    return d


def test_equal_values_give_no_changes() -> None:
    assert diff_attrs(base(), base(), S) == []


def test_scalar_change_is_typed() -> None:
    (c,) = diff_attrs(base(), base(cores=4), S)
    assert (c.path, c.op, c.before, c.after, c.forces_replace) == (
        ("cores",),
        ChangeOp.CHANGE,
        1,
        4,
        False,
    )


def test_nested_change_carries_path_and_replace_marker() -> None:
    changes = diff_attrs(base(), base(disks=[{"size": 20, "storage": "l"}]), S)
    assert [(c.path, c.forces_replace) for c in changes] == [(("disks", 0, "size"), True)]


def test_map_add_and_remove() -> None:
    changes = diff_attrs(base(), base(labels={"b": "2"}), S)
    ops = {(c.path, c.op) for c in changes}
    assert ops == {(("labels", "a"), ChangeOp.REMOVE), (("labels", "b"), ChangeOp.ADD)}


def test_sensitive_field_is_marked() -> None:
    (c,) = diff_attrs(base(), base(password="q"), S)
    assert c.sensitive


def test_optional_computed_left_unset_follows_provider() -> None:
    assert diff_attrs(base(), base(vmid=None), S) == []
    assert [c.path for c in diff_attrs(base(), base(vmid=101), S)] == [("vmid",)]


def test_drift_ignores_noise_but_sees_computed() -> None:
    assert diff_attrs(base(), base(uptime=99), S, drift=True) == []
    assert diff_attrs(base(), base(uptime=99), S) == []
