"""docs/reference/ is generated from the providers' models and must be committed up to date."""

from __future__ import annotations

from pathlib import Path

from cozyplan import docgen, registry

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference"


def test_reference_is_up_to_date() -> None:
    stale = docgen.stale(REFERENCE)
    assert not stale, (
        f"docs/reference is stale ({', '.join(stale)}): run '{docgen.COMMAND}' and commit it"
    )


def test_every_resource_type_and_marker_is_documented() -> None:
    pages = docgen.generate()
    index = pages["README.md"]
    for name in registry.available():
        page = pages[f"{name}.md"]
        for rtype in registry.resource_types_of(name):
            assert f"### {rtype}\n" in page
            assert f"[`{rtype}`]({name}.md#{rtype})" in index
    proxmox = pages["proxmox.md"]
    row = next(r for r in proxmox.splitlines() if r.startswith("| `token_secret` |"))
    assert "**sensitive**" in row and "**required**" in row
    local = pages["local.md"]
    path_row = next(r for r in local.splitlines() if r.startswith("| `path` |"))
    assert "**forces replacement**" in path_row
    id_row = next(
        r for r in local.split("### local_file")[1].splitlines() if r.startswith("| `id` |")
    )
    assert "computed (read-only), changes on update" in id_row


def test_check_reports_a_stale_page(tmp_path: Path) -> None:
    docgen.write(tmp_path)
    assert docgen.main(["--check", "--out", str(tmp_path)]) == 0
    page = tmp_path / "local.md"
    page.write_text(page.read_text().replace("forces replacement", "x"))
    (tmp_path / "gone.md").write_text("an old provider\n")
    assert docgen.stale(tmp_path) == ["local.md", "gone.md"]
    assert docgen.main(["--check", "--out", str(tmp_path)]) == 1
