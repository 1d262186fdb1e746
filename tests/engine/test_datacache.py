"""The per-user parse cache of shipped data files: exact values, and never a stale or damaged
entry trusted."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from cozyplan import datacache, plainyaml

DOC = """\
name: app
replicas: 3
ratio: 0.5
on: yes
2: int key
~: null key
blob: !!binary aGVsbG8=
tags: !!set {a, b}
shared: &s {k: v}
again: *s
---
second: doc
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("COZYPLAN_CACHE_DIR", str(directory))
    return directory


def _counting(calls: list[Path]) -> Any:
    def parse(path: Path) -> Any:
        calls.append(path)
        return list(plainyaml.load_all(path.read_text()))

    return parse


def test_a_cached_value_is_exactly_the_parsed_one(tmp_path: Path, cache: Path) -> None:
    source = tmp_path / "data.yaml"
    source.write_text(DOC)
    calls: list[Path] = []
    first = datacache.cached_parse(source, "yaml-all", _counting(calls))
    second = datacache.cached_parse(source, "yaml-all", _counting(calls))
    assert len(calls) == 1  # the second came from the cache
    assert second == first == list(plainyaml.load_all(DOC))
    doc = second[0]
    assert doc[True] is True  # YAML 1.1: "on" and "yes" are booleans
    assert type(doc["replicas"]) is int and type(doc["ratio"]) is float
    assert doc[2] == "int key" and doc[None] == "null key"
    assert doc["blob"] == b"hello" and doc["tags"] == {"a", "b"}
    assert doc["again"] is doc["shared"]  # an alias stays one object, as the parser makes it
    assert second is not first  # each caller gets its own copy


def test_a_changed_file_is_parsed_again(tmp_path: Path, cache: Path) -> None:
    source = tmp_path / "data.yaml"
    source.write_text("a: 1\n")
    calls: list[Path] = []
    assert datacache.cached_parse(source, "yaml-all", _counting(calls)) == [{"a": 1}]
    source.write_text("a: 22\n")  # another size
    assert datacache.cached_parse(source, "yaml-all", _counting(calls)) == [{"a": 22}]
    source.write_text("a: 33\n")  # the same size: the mtime tells
    st = source.stat()
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert datacache.cached_parse(source, "yaml-all", _counting(calls)) == [{"a": 33}]
    assert len(calls) == 3
    assert len(list(cache.iterdir())) == 1  # one entry per file, replaced


def test_a_damaged_entry_is_ignored_and_replaced(tmp_path: Path, cache: Path) -> None:
    source = tmp_path / "data.yaml"
    source.write_text(DOC)
    calls: list[Path] = []
    datacache.cached_parse(source, "yaml-all", _counting(calls))
    (entry,) = cache.iterdir()
    raw = entry.read_bytes()
    for damaged in (raw[:-7], raw[:-1] + bytes([raw[-1] ^ 1]), b"", b"junk"):
        entry.write_bytes(damaged)
        assert datacache.cached_parse(source, "yaml-all", _counting(calls)) == list(
            plainyaml.load_all(DOC)
        )
    assert len(calls) == 5
    assert entry.read_bytes() == raw  # rewritten whole


def test_an_unwritable_cache_only_means_parsing_every_time(tmp_path: Path, cache: Path) -> None:
    if os.geteuid() == 0:  # root writes anywhere: make the cache's place a file instead
        cache.write_text("not a directory")
    else:
        cache.mkdir()
        cache.chmod(stat.S_IRUSR | stat.S_IXUSR)
    source = tmp_path / "data.yaml"
    source.write_text("a: 1\n")
    calls: list[Path] = []
    for _ in range(2):
        assert datacache.cached_parse(source, "yaml-all", _counting(calls)) == [{"a": 1}]
    assert len(calls) == 2


def test_a_value_marshal_cannot_hold_is_not_cached(tmp_path: Path, cache: Path) -> None:
    source = tmp_path / "data.yaml"
    source.write_text("when: 2024-01-02\n")  # a YAML timestamp: a datetime.date
    calls: list[Path] = []
    for _ in range(2):
        (doc,) = datacache.cached_parse(source, "yaml-all", _counting(calls))
        assert doc["when"].isoformat() == "2024-01-02"
    assert len(calls) == 2 and not cache.exists()


def test_the_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COZYPLAN_CACHE_DIR", "")
    assert datacache.cache_dir() is None
    monkeypatch.delenv("COZYPLAN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert datacache.cache_dir() == tmp_path / "cozyplan"
