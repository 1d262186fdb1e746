"""workspace list|show|new|select|delete, state migrate, state rekey."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from cozyplan.cli.common import cli_backend, handle_errors, spec_option, state_option
from cozyplan.errors import CozyplanError
from cozyplan.session import default_state_path
from cozyplan.state.backend import DEFAULT_WORKSPACE, StateBackend
from cozyplan.state.envelope import configured
from cozyplan.state.local import LocalLocation
from cozyplan.state.migrate import migrate, rekey
from cozyplan.state.settings import (
    BackendSettings,
    StateTarget,
    check_workspace_name,
    current_workspace,
    open_location,
    select_workspace,
    state_target,
)

F = TypeVar("F", bound=Any)


def _opts(f: F) -> F:
    return spec_option(state_option(f))


def _target(spec: Path, state_path: Path | None) -> StateTarget:
    workspace, pairs = cli_backend()
    return state_target(spec, state_path or default_state_path(spec, None), workspace, pairs)


@contextlib.contextmanager
def _locked(backend: StateBackend, operation: str) -> Iterator[StateBackend]:
    backend.lock(operation)
    try:
        yield backend
    finally:
        backend.unlock()


# -- workspaces ---------------------------------------------------------------------------------
@click.group()
def workspace() -> None:
    """Several states for one spec (e.g. staging and production), in any backend."""


@workspace.command("list")
@_opts
@handle_errors
def workspace_list(spec: Path, state_path: Path | None) -> None:
    """List the workspaces; the current one is marked with *."""
    target = _target(spec, state_path)
    for name in target.location.workspaces():
        mark = "*" if name == target.workspace else " "
        click.echo(f"{mark} {name}")


@workspace.command("show")
@_opts
@handle_errors
def workspace_show(spec: Path, state_path: Path | None) -> None:
    """Print the current workspace."""
    click.echo(_target(spec, state_path).workspace)


@workspace.command("new")
@click.argument("name")
@_opts
@handle_errors
def workspace_new(name: str, spec: Path, state_path: Path | None) -> None:
    """Create a workspace and select it."""
    check_workspace_name(name)
    target = _target(spec, state_path)
    if name in target.location.workspaces():
        raise CozyplanError(f"workspace {name!r} already exists")
    target.location.create_workspace(name)
    select_workspace(spec, name)
    click.echo(f"Created and switched to workspace {name!r}: its state is empty.")


@workspace.command("select")
@click.argument("name")
@_opts
@handle_errors
def workspace_select(name: str, spec: Path, state_path: Path | None) -> None:
    """Make NAME the current workspace for this spec."""
    check_workspace_name(name)
    target = _target(spec, state_path)
    if name not in target.location.workspaces():
        raise CozyplanError(
            f"workspace {name!r} does not exist; create it with 'cozyplan workspace new {name}'"
        )
    select_workspace(spec, name)
    click.echo(f"Switched to workspace {name!r}.")


@workspace.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Delete even if its state still has resources.")
@_opts
@handle_errors
def workspace_delete(name: str, force: bool, spec: Path, state_path: Path | None) -> None:
    """Delete a workspace and its state (not the real objects it manages)."""
    check_workspace_name(name)
    target = _target(spec, state_path)
    if name == DEFAULT_WORKSPACE:
        raise CozyplanError("the default workspace cannot be deleted")
    if name == current_workspace(spec):
        raise CozyplanError(
            f"workspace {name!r} is the current one; select another first "
            "('cozyplan workspace select default')"
        )
    if name not in target.location.workspaces():
        raise CozyplanError(f"workspace {name!r} does not exist")
    backend = target.location.backend(name)
    with _locked(backend, "workspace delete"):
        snapshot = backend.read()
        if snapshot is not None and snapshot.resources and not force:
            raise CozyplanError(
                f"workspace {name!r} still manages {len(snapshot.resources)} resource(s): "
                "destroy them first ('cozyplan destroy --workspace "
                f"{name}') or delete with --force to forget them"
            )
        backend.destroy()
    click.echo(f"Deleted workspace {name!r}.")


# -- state migrate / rekey ----------------------------------------------------------------------
@click.command("migrate")
@click.option("--to", "to_type", required=True, help="Target backend type (local, postgres).")
@click.option(
    "--to-config",
    "to_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Target backend setting (as --backend-config); the environment fills the rest.",
)
@click.option(
    "--to-state",
    type=click.Path(path_type=Path),
    help="Target state file, for --to local (default: state/<spec stem>.state.json).",
)
@_opts
@handle_errors
def state_migrate(
    to_type: str,
    to_pairs: tuple[str, ...],
    to_state: Path | None,
    spec: Path,
    state_path: Path | None,
) -> None:
    """Copy the current workspace's state to another backend (lineage and serial intact)."""
    source = _target(spec, state_path)
    settings = BackendSettings.resolve(None, (f"type={to_type}", *to_pairs))
    dest = open_location(settings, spec, to_state or default_state_path(spec, None))
    src_backend = source.location.backend(source.workspace)
    dst_backend = dest.backend(source.workspace)
    with _locked(src_backend, "state migrate"), _locked(dst_backend, "state migrate"):
        copied = migrate(src_backend, dst_backend)
    snap = copied.snapshot
    click.echo(
        f"Copied {len(snap.resources)} resource(s) (lineage {snap.lineage}, serial "
        f"{snap.serial}) from {src_backend.describe()} to {dst_backend.describe()}"
        + (f", replacing serial {copied.replaced_serial}." if copied.replaced_serial else ".")
    )
    _carry_sensitive_key(source, dest, snap.resources, settings)
    click.echo(
        "The source is left as it was. Point the spec's backend (or --backend-config) at the "
        "target before the next run."
    )


def _carry_sensitive_key(
    source: StateTarget, dest: Any, resources: dict[str, Any], settings: BackendSettings
) -> None:
    """Sealed sensitive values travel as they are: the target needs the same key."""
    if not any(r.get("sensitive_paths") for r in resources.values()):
        return
    import os

    if os.environ.get("COZYPLAN_STATE_KEY"):
        return  # the same key reaches every backend
    src_key = source.location.sensitive_key_file(source.workspace)
    if src_key is None:
        src_key = (
            Path(source.settings.options["state_key_file"]).expanduser()
            if ("state_key_file" in source.settings.options)
            else None
        )
    if src_key is None or not Path(src_key).exists():
        return
    if isinstance(dest, LocalLocation):
        dst_key = dest.sensitive_key_file(source.workspace)
        if not dst_key.exists():
            dst_key.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src_key, dst_key)
            dst_key.chmod(0o600)
            click.echo(f"Copied the key of sensitive values to {dst_key}.")
        elif dst_key.read_bytes() != Path(src_key).read_bytes():
            click.echo(f"Warning: {dst_key} holds another key than {src_key}.", err=True)
        return
    if "state_key_file" not in settings.options:
        click.echo(
            f"Note: sensitive values are sealed with the key in {src_key}; the {settings.type} "
            "backend needs it too: set COZYPLAN_STATE_KEY to its content or "
            f"--backend-config state_key_file={src_key}.",
            err=True,
        )


@click.command("rekey")
@click.option(
    "--to",
    "new_source",
    required=True,
    help="New key source (passphrase-env:NAME, key-env:NAME, key-file:PATH), or 'none'.",
)
@_opts
@handle_errors
def state_rekey(new_source: str, spec: Path, state_path: Path | None) -> None:
    """Re-encrypt the whole state under a new key (the current one opens it)."""
    target = _target(spec, state_path)
    new = configured(new_source, "--to")
    backend = target.location.backend(target.workspace)
    with _locked(backend, "state rekey"):
        snap = rekey(backend, new)
    what = f"under the key from {new.source}" if new else "in clear (no whole-state encryption)"
    click.echo(
        f"Re-encrypted {len(snap.resources)} resource(s) of {backend.describe()} {what}. "
        "Configure that key source (COZYPLAN_STATE_ENCRYPTION or the backend's encryption) "
        "from now on."
    )
