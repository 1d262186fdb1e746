"""Replies are JSON any client decodes to the value the lab meant, whatever the value holds."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cozyplan.lab.kube.http import encode

_json: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),  # beyond 64 bits too: written by the standard library
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=5),  # any code point, escaped or UTF-8
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(_json)
def test_encode_round_trips(value: Any) -> None:
    assert json.loads(encode(value)) == value


def test_encode_keeps_key_order_and_writes_what_orjson_refuses() -> None:
    assert encode({"b": 1, "a": "ü"}) == '{"b":1,"a":"ü"}'.encode()
    assert json.loads(encode({"n": 2**70})) == {"n": 2**70}
    assert json.loads(encode({1: "x"})) == {"1": "x"}
