"""Hypothesis strategies for JSON-shaped values (what the lab stores, copies and writes)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def json_values(*, floats: bool = True, infinities: bool = False) -> st.SearchStrategy[Any]:
    """Nested dicts and lists of None, booleans, integers (beyond 64 bits too), text (any code
    point) and, with ``floats``, finite floats (and infinities with ``infinities``)."""
    scalars = [st.none(), st.booleans(), st.integers(), st.text(max_size=5)]
    if floats:
        scalars.append(st.floats(allow_nan=False, allow_infinity=infinities))
    return st.recursive(
        st.one_of(*scalars),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=4), children, max_size=4),
        ),
        max_leaves=30,
    )
