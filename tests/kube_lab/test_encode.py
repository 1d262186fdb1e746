"""Replies are JSON any client decodes to the value the lab meant, whatever the value holds."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings

from cozyplan.lab.kube.http import encode
from tests.jsondata import json_values

_json = json_values()


@settings(max_examples=200, deadline=None)
@given(_json)
def test_encode_round_trips(value: Any) -> None:
    assert json.loads(encode(value)) == value


def test_encode_keeps_key_order_and_writes_what_orjson_refuses() -> None:
    assert encode({"b": 1, "a": "ü"}) == '{"b":1,"a":"ü"}'.encode()
    assert json.loads(encode({"n": 2**70})) == {"n": 2**70}
    assert json.loads(encode({1: "x"})) == {"1": "x"}
