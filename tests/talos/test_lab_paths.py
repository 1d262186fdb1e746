"""Issue 11 item 11: a lab rehearsal never writes where a production run writes."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Project

SPEC = Path(__file__).resolve().parents[2] / "specs" / "examples" / "talos.yaml"


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_lab_run_leaves_production_paths_untouched(project: Project) -> None:
    prod = project.dir / "prod"
    prod.mkdir()
    text = SPEC.read_text()
    assert "../../state/talos.kubeconfig" in text
    # the kubeconfig named relative to the spec (as the main spec does) and a local file by an
    # absolute path: both are where a production run writes
    spec_dir = project.dir / "specs" / "examples"
    spec_dir.mkdir(parents=True)
    spec = spec_dir / "talos.yaml"
    spec.write_text(
        text.replace("../../state/talos.kubeconfig", "../../prod/state/talos.kubeconfig")
        + f"\n  local_file.note:\n    path: {prod / 'note.txt'}\n    content: rehearsal\n"
    )
    lab = project.dir / "lab"
    args = ["-f", str(spec), "--lab", "--lab-dir", str(lab), "--time-scale", "0.02"]
    out = project.sh("apply", "--auto-approve", *args, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert _files(prod) == []  # nothing written where production writes
    kube = lab / "files" / str(prod / "state" / "talos.kubeconfig").lstrip("/")
    assert kube.is_file() and kube.stat().st_mode & 0o777 == 0o600
    assert (lab / "files" / str(prod / "note.txt").lstrip("/")).read_text() == "rehearsal"
    assert f"written to {kube}" in out.stdout  # the output says where it went
    again = project.sh("plan", "--detailed-exitcode", *args, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _files(prod) == []
