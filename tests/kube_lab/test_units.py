"""The pure parts: field paths and fieldsV1, patches, selectors, structural schemas."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cozyplan.lab.kube import fieldpath as fp
from cozyplan.lab.kube import patch, schema
from cozyplan.lab.kube.errors import StatusError
from cozyplan.lab.kube.selection import field_matcher, label_matcher

LT = fp.builtin_list_type

_keys = st.text(alphabet="abcxyz", min_size=1, max_size=3)
_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.integers(-3, 3), st.text(max_size=3), st.booleans()),
    lambda children: st.dictionaries(_keys, children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _values, max_size=4))
def test_fields_v1_round_trip(obj: dict[str, Any]) -> None:
    paths = fp.field_set(obj, LT)
    assert fp.from_fields_v1(fp.to_fields_v1(paths)) == paths


def test_fields_v1_of_keyed_lists_and_sets() -> None:
    obj = {
        "metadata": {"finalizers": ["a/b"]},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]},
    }
    assert fp.to_fields_v1(fp.field_set(obj, LT)) == {
        "f:metadata": {"f:finalizers": {'v:"a/b"': {}}},
        "f:spec": {
            "f:containers": {
                'k:{"name":"c"}': {
                    ".": {},
                    "f:name": {},
                    "f:ports": {
                        'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}
                    },
                }
            }
        },
    }
    path = ("f:spec", "f:containers", 'k:{"name":"c"}', "f:image")
    assert fp.path_string(path) == '.spec.containers[name="c"].image'
    assert (
        fp.path_string(("f:metadata", "f:finalizers", 'v:"a/b"')) == '.metadata.finalizers[="a/b"]'
    )


def test_merge_and_remove() -> None:
    live = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}}
    cfg = {"spec": {"containers": [{"name": "b", "image": "3"}, {"name": "c", "image": "4"}]}}
    merged = fp.merge(live, cfg, LT)
    assert [(c["name"], c["image"]) for c in merged["spec"]["containers"]] == [
        ("a", "1"),
        ("b", "3"),
        ("c", "4"),
    ]
    fp.remove(merged, ("f:spec", "f:containers", 'k:{"name":"a"}'))
    assert [c["name"] for c in merged["spec"]["containers"]] == ["b", "c"]
    fp.remove(merged, ("f:spec", "f:containers", 'k:{"name":"b"}'))
    fp.remove(merged, ("f:spec", "f:containers", 'k:{"name":"c"}'))
    assert merged == {}  # emptied maps and lists go with their last member


def test_patches() -> None:
    assert patch.merge_patch({"a": 1, "b": {"c": 2}}, {"a": None, "b": {"d": 3}}) == {
        "b": {"c": 2, "d": 3}
    }
    live = {
        "metadata": {"finalizers": ["x", "y"]},
        "spec": {"containers": [{"name": "a", "image": "1", "env": [{"name": "E", "value": "1"}]}]},
    }
    smp = {
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]},
        "spec": {
            "$setElementOrder/containers": [{"name": "a"}],
            "containers": [{"name": "a", "env": [{"name": "E", "$patch": "delete"}]}],
        },
    }
    got = patch.strategic_merge_patch(live, smp, LT)
    assert got == {
        "metadata": {"finalizers": ["y"]},
        "spec": {"containers": [{"name": "a", "image": "1", "env": []}]},
    }
    replaced = patch.strategic_merge_patch(live, {"spec": {"$patch": "replace", "x": 1}}, LT)
    assert replaced["spec"] == {"x": 1}
    assert patch.json_patch({"a": [1]}, [{"op": "add", "path": "/a/-", "value": 2}]) == {
        "a": [1, 2]
    }
    with pytest.raises(StatusError) as info:
        patch.json_patch({"a": 1}, [{"op": "remove", "path": "/nope"}])
    assert info.value.code == 400


def test_selectors() -> None:
    obj = {"metadata": {"name": "n", "namespace": "ns", "labels": {"app": "web", "tier": "1"}}}
    assert label_matcher("app=web,tier in (1,2)")(obj)
    assert not label_matcher("app!=web")(obj)
    assert label_matcher("!missing,app")(obj)
    with pytest.raises(StatusError) as info:
        label_matcher("app=web,==")
    assert info.value.message.startswith("unable to parse requirement")
    assert field_matcher("metadata.name=n", {"metadata.name"}, False)(obj)
    with pytest.raises(StatusError) as info:
        field_matcher("spec.x=1", {"metadata.name", "metadata.namespace"}, True)
    assert (
        info.value.message
        == '"spec.x" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


def test_structural_schema() -> None:
    s = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["mode"],
                "properties": {
                    "mode": {"type": "string", "enum": ["a", "b"]},
                    "n": {"type": "integer", "minimum": 1, "default": 3},
                    "name": {"type": "string", "pattern": "^[a-z]+$"},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            }
        },
    }
    obj = {"spec": {"mode": "c", "name": "X1", "free": {"any": 1}, "junk": 1}}
    assert schema.prune(obj, s, root=True) == [".spec.junk"]
    schema.default(obj, s)
    assert obj["spec"]["n"] == 3 and obj["spec"]["free"] == {"any": 1}
    errors = [str(e) for e in schema.validate(obj, s)]
    assert errors == [
        'spec.mode: Unsupported value: "c": supported values: "a", "b"',
        "spec.name: Invalid value: \"X1\": spec.name in body should match '^[a-z]+$'",
    ]
    bad = {"spec": {"n": "x"}}
    assert [str(e) for e in schema.validate(bad, s)] == [
        'spec.n: Invalid value: "string": spec.n in body must be of type integer: "string"',
        "spec.mode: Required value",
    ]
