"""The Go-template evaluator: Go's and Helm's semantics for what charts use."""

from __future__ import annotations

from typing import Any

import pytest

from cozyplan.upstream.gotemplate import (
    Engine,
    TemplateError,
    TemplateSyntaxError,
    builtin_functions,
    parse,
)


def render(src: str, data: Any = None, **extra: Any) -> str:
    funcs = builtin_functions()
    funcs.update(extra)
    engine = Engine(funcs)
    funcs["include"] = engine.include
    engine.add("t", parse(src, "t"))
    return engine.render("t", data)


def test_trim_markers_and_comments() -> None:
    assert render("a  \n {{- 1 -}}  \n b") == "a1b"
    assert render("a {{ 1 }} b") == "a 1 b"
    assert render("x\n{{/* a comment */}}\ny") == "x\n\ny"
    assert render("x\n{{- /* trimmed */ -}}\ny") == "xy"


def test_if_else_if_else_and_truthiness() -> None:
    src = '{{ if eq . "a" }}A{{ else if . }}T{{ else }}F{{ end }}'
    assert render(src, "a") == "A"
    assert render(src, "b") == "T"
    assert render(src, "") == "F"
    for falsy in (0, [], {}, None, False):
        assert render("{{ if . }}y{{ else }}n{{ end }}", falsy) == "n"


def test_variables_scope_and_assignment() -> None:
    src = '{{ $x := "outer" }}{{ if true }}{{ $x = "set" }}{{ $y := 1 }}{{ end }}{{ $x }}'
    assert render(src) == "set"
    with pytest.raises(TemplateError, match="undefined variable"):
        render("{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}")


def test_range_with_index_break_and_else() -> None:
    assert render("{{ range $i, $v := . }}{{ $i }}={{ $v }};{{ end }}", ["a", "b"]) == "0=a;1=b;"
    assert (
        render("{{ range . }}{{ . }}{{ if eq . 2 }}{{ break }}{{ end }}{{ end }}", [1, 2, 3])
        == "12"
    )
    assert render("{{ range . }}x{{ else }}empty{{ end }}", []) == "empty"
    assert render("{{ range $k, $v := . }}{{ $k }}{{ $v }}{{ end }}", {"b": 2, "a": 1}) == "a1b2"


def test_with_sets_dot() -> None:
    assert render("{{ with .a }}{{ .b }}{{ else }}none{{ end }}", {"a": {"b": "x"}}) == "x"
    assert render("{{ with .a }}{{ .b }}{{ else }}none{{ end }}", {}) == "none"


def test_pipelines_parentheses_and_field_chains() -> None:
    data = {"cm": {"data": {"k": "v"}}, "repo": {"status": {"artifact": {"revision": "r1"}}}}
    assert render('{{ index .cm.data "k" | upper }}', data) == "V"
    assert render("{{ ((.repo.status).artifact).revision }}", data) == "r1"
    assert render('{{ (index .cm.data "missing") | default "dflt" }}', data) == "dflt"
    assert render('{{ printf "values-%s" "cilium" }}', data) == "values-cilium"


def test_eq_with_nil_is_false_and_mismatched_types_fail() -> None:
    assert render('{{ eq (index . "missing") "false" }}', {}) == "false"
    with pytest.raises(TemplateError, match="incompatible types"):
        render('{{ eq 1 "1" }}')


def test_and_or_short_circuit() -> None:
    # the second operand would fail if evaluated
    assert render('{{ if and false (fail "boom") }}y{{ else }}n{{ end }}') == "n"
    assert render('{{ or "first" (fail "boom") }}') == "first"


def test_fail_and_unknown_function() -> None:
    with pytest.raises(TemplateError, match="ERROR need root-host"):
        render('{{ fail "ERROR need root-host in cozystack ConfigMap" }}')
    with pytest.raises(TemplateError, match='function "nope" not defined'):
        render("{{ nope 1 }}")


def test_define_include_and_sprig_helpers() -> None:
    src = '{{- define "ips" -}}{{ join "," (list "a" "b") }}{{- end -}}[{{ include "ips" . }}]'
    assert render(src) == "[a,b]"
    assert render("{{ toYaml . | nindent 2 }}", {"b": [1], "a": "x"}) == "\n  a: x\n  b:\n  - 1"
    assert (
        render('{{ $m := dict "a" 1 }}{{ $_ := set $m "b" 2 }}{{ toJson $m }}') == '{"a":1,"b":2}'
    )
    merged = '{{ toJson (mergeOverwrite (dict "a" 1 "c" 3) (fromYaml "a: 2\\nb: 1")) }}'
    assert render(merged) == '{"a":2,"b":1,"c":3}'
    assert render('{{ toJson (merge (dict "a" 1) (dict "a" 2 "b" 3)) }}') == '{"a":1,"b":3}'
    assert render('{{ dig "data" "x" "none" . }}', {"data": {}}) == "none"
    assert render('{{ has "b" (splitList "," "a,b") }}') == "true"


def test_syntax_errors_name_the_line() -> None:
    with pytest.raises(TemplateSyntaxError, match="missing"):
        parse("{{ if true }}\nno end", "t")
    with pytest.raises(TemplateSyntaxError, match="line 2"):
        parse("ok\n{{ end }}", "t")
    with pytest.raises(TemplateSyntaxError, match="unclosed"):
        parse("{{ 1 ", "t")
