"""plan --markdown: a pull-request comment a reviewer can act on."""

from __future__ import annotations

import re

from tests.conftest import Project

SECRET = "s3cret-Horse|Battery"

BEFORE = """\
version: 1
variables:
  pw: {default: "SECRET", sensitive: true}
resources:
  null_resource.vm: {triggers: {vmid: "1003"}}
  null_resource.gone: {triggers: {x: "1"}}
  local_file.motd:
    path: out/motd
    content: "hello\\nworld\\n"
  local_file.token:
    path: out/token
    sensitive_content: "${var.pw}"
""".replace("SECRET", SECRET)

AFTER = (
    BEFORE.replace('vmid: "1003"', 'vmid: "1004"')
    .replace('  null_resource.gone: {triggers: {x: "1"}}\n', "")
    .replace("hello\\nworld\\n", "hello\\nthere\\nworld\\n")
    .replace(f'"{SECRET}"', f'"{SECRET}-rotated"')
    + '  null_resource.new: {triggers: {y: "pipe|in|value"}}\n'
)


def _section(md: str, title: str) -> str:
    """The text under a '#### title...' heading, up to the next heading."""
    m = re.search(rf"^#### {re.escape(title)}.*?$(.*?)(?=^#### |^---$)", md, re.M | re.S)
    assert m, f"no section {title!r} in:\n{md}"
    return m.group(1)


def test_markdown_comment_structure(project: Project) -> None:
    project.write(BEFORE)
    assert project.run("apply", "--auto-approve").exit_code == 0
    project.write(AFTER)
    out = project.run("plan", "--markdown", "plan.md", "--detailed-exitcode")
    assert out.exit_code == 2, out.output
    md = (project.dir / "plan.md").read_text()

    assert SECRET not in md and "Horse" not in md
    lines = md.splitlines()
    assert lines[0] == "### cozyplan plan for <code>cozyplan.yaml</code>"
    assert "**Plan: 2 to add, 2 to change, 2 to destroy.**" in md

    # destructive actions come first, each with what forces it
    warn = md.index("will be destroyed or replaced")
    assert warn < md.index("#### Resources") < md.index("#### Attribute changes")
    destructive = _section(md, ":warning:")
    rows = [r for r in destructive.splitlines() if r.startswith("| <code>")]
    assert len(rows) == 2
    vm = next(r for r in rows if "null_resource.vm" in r)
    assert "**replace**" in vm
    assert 'forced by <code>triggers.vmid</code> <code>"1003"</code> → <code>"1004"</code>' in vm
    gone = next(r for r in rows if "null_resource.gone" in r)
    assert "**destroy**" in gone and "removed from the spec" in gone

    # counts by action
    assert "| create | 1 |" in md and "| update | 2 |" in md
    assert "| replace | 1 |" in md and "| destroy | 1 |" in md

    # one row per resource, with its type
    resources = _section(md, "Resources")
    for addr in (
        "null_resource.vm",
        "null_resource.gone",
        "local_file.motd",
        "local_file.token",
        "null_resource.new",
    ):
        assert resources.count(f"<code>{addr}</code>") == 1, addr
    # pipes never split a table cell
    for row in (r for r in resources.splitlines() if r.startswith("| ")):
        assert row.count("|") == 5, row
    assert "pipe&#124;in&#124;value" in md

    # attribute tables: destructive ones open, masked secrets, multi-line diffs
    details = _section(md, "Attribute changes")
    assert "<details open><summary><code>null_resource.vm</code> will be replaced" in details
    assert "<details><summary><code>local_file.motd</code> will be updated" in details
    token = details.split("<code>local_file.token</code>")[1].split("</details>")[0]
    assert "sensitive_content" in token and "<em>(sensitive value)</em>" in token
    assert "+there" in details  # the multi-line content as a diff

    # what the plan was made against
    footer = md.split("\n---\n")[1]
    assert re.search(r"state lineage <code>[0-9a-f-]{36}</code> serial <code>\d+</code>", footer)
    assert re.search(r"sha256 <code>[0-9a-f]{16}</code>", footer)


def test_markdown_no_changes_and_warnings_section(project: Project) -> None:
    project.write(BEFORE)
    assert project.run("apply", "--auto-approve").exit_code == 0
    out = project.run("plan", "--markdown", "plan.md", "--detailed-exitcode")
    assert out.exit_code == 0
    md = (project.dir / "plan.md").read_text()
    assert "**No changes.** The real systems match the spec." in md
    assert "#### Resources" not in md and ":warning:" not in md


def test_markdown_comment_stays_under_the_limit(project: Project) -> None:
    big = "\n".join(
        f'  null_resource.n{i}: {{triggers: {{blob: "{"x" * 110}{i}", a: "1", b: "2"}}}}'
        for i in range(400)
    )
    project.write("version: 1\nresources:\n" + big + "\n")
    assert project.run("plan", "--markdown", "plan.md").exit_code == 0
    md = (project.dir / "plan.md").read_text()
    assert len(md) < 65_536
    assert "resource(s) not detailed" in md
    assert md.count("<code>null_resource.n399</code>") >= 1  # still in the table


def test_markdown_shows_drift_with_a_diff(project: Project) -> None:
    project.write(BEFORE)
    assert project.run("apply", "--auto-approve").exit_code == 0
    (project.dir / "out/motd").write_text("hello\nchanged by hand\n")
    out = project.run("plan", "--markdown", "plan.md")
    assert out.exit_code == 0, out.output
    md = (project.dir / "plan.md").read_text()
    drift = _section(md, "Drift")
    assert "<code>local_file.motd</code> changed outside cozyplan" in drift
    assert "  -world" in drift and "  +changed by hand" in drift  # indented: inside the item
    assert "| update | 1 |" in md  # and the plan puts it back
