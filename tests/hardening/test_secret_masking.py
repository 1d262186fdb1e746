"""Secrets are masked in every rendering, not only raw (issue 12, item 9)."""

from __future__ import annotations

import json

import pytest

from cozyplan.render.values import SENSITIVE_TEXT, scrub
from tests.conftest import Project

NASTY = ['s3cr"et\\x\nline2', "it's-secret", "tab\there\u00e9\u2603", "both'\"quotes"]


@pytest.mark.parametrize("secret", NASTY)
def test_scrub_masks_raw_repr_and_json_forms(secret: str) -> None:
    forms = [
        secret,
        repr(secret),
        repr([secret]),
        repr({"k": secret}),
        json.dumps(secret),
        json.dumps(secret, ensure_ascii=False),
        json.dumps({"body": json.dumps({"token": secret})}),
    ]
    for text in forms:
        out = scrub(f"error: {text} end", [secret])
        assert SENSITIVE_TEXT in out, text
        assert "line2" not in out and "secret" not in out and "quotes" not in out, out
        assert "here" not in out, out


def test_sensitive_variable_never_printed_in_validation_messages(project: Project) -> None:
    project.write(
        """\
        version: 1
        variables:
          tok: {default: "s3cr\\"et\\\\x\\nline2", sensitive: true}
        resources:
          local_file.a: {path: out/a, sensitive_content: "${var.tok}", mode: "${var.tok}"}
        """
    )
    for args in (("plan",), ("plan", "--json"), ("apply", "--auto-approve")):
        result = project.sh(*args)
        assert result.returncode == 1
        out = result.stdout + result.stderr
        assert "mode must be octal" in out
        assert "s3cr" not in out and "line2" not in out, out
