"""The JSON copier: equal to its input, sharing no mutable value with it."""

from __future__ import annotations

import datetime as dt
import json
from collections import OrderedDict
from typing import Any

from hypothesis import given, settings

from cozyplan.lab.kube.jsoncopy import copy_json
from tests.jsondata import json_values

_json = json_values(infinities=True)


def _containers(value: Any) -> list[Any]:
    """Every dict and list inside ``value`` (itself included)."""
    out: list[Any] = []
    if isinstance(value, dict):
        out.append(value)
        for v in value.values():
            out += _containers(v)
    elif isinstance(value, list):
        out.append(value)
        for v in value:
            out += _containers(v)
    return out


@settings(max_examples=200, deadline=None)
@given(_json)
def test_copy_is_equal_and_shares_no_container(value: Any) -> None:
    before = json.dumps(value, sort_keys=True)
    copied = copy_json(value)
    assert copied == value
    assert type(copied) is type(value)
    originals = {id(c) for c in _containers(value)}
    assert not originals & {id(c) for c in _containers(copied)}
    # mutating every container of the copy leaves the original as it was
    for c in _containers(copied):
        if isinstance(c, dict):
            c["mutated"] = True
        else:
            c.append("mutated")
    assert json.dumps(value, sort_keys=True) == before


def test_keeps_key_order() -> None:
    value = {"b": 1, "a": {"z": [1, {"y": 2, "x": 3}], "c": None}}
    copied = copy_json(value)
    assert json.dumps(copied) == json.dumps(value)


def test_other_types_are_deep_copied() -> None:
    """A value that is not JSON-shaped is still never shared."""
    inner = {"a": [1]}
    odd = OrderedDict(x=inner)
    got = copy_json({"odd": odd, "set": {1, 2}, "when": dt.date(2026, 1, 1)})
    assert got["odd"] == odd and got["odd"] is not odd and got["odd"]["x"] is not inner
    assert got["set"] == {1, 2}
    got["set"].add(3)
    assert got["when"] == dt.date(2026, 1, 1)
