"""state list|show|rm|mv, import, force-unlock."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any, TypeVar

import click

from cozyplan.cli.common import (
    handle_errors,
    lab_options,
    open_session,
    open_store,
    parse_vars,
    spec_option,
    state_option,
)
from cozyplan.cli.common import styler as make_styler
from cozyplan.errors import CozyplanError
from cozyplan.importer import import_instance
from cozyplan.instances import block_of, expand
from cozyplan.render.values import mask
from cozyplan.session import Session
from cozyplan.state.model import ResourceState
from cozyplan.state.store import StateStore

F = TypeVar("F", bound=Any)
INSTANCE_ADDRESS_RE = re.compile(
    r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+\.[A-Za-z_][A-Za-z0-9_\-]*(?:\[[A-Za-z0-9_\-.:/]+\])?$"
)


def no_state_message(where: Path | str) -> str:
    return (
        f"No state at {where}: nothing has been applied with this spec yet "
        "(another spec: -f SPEC; the lab's state: --lab; any file: --state PATH; "
        "another workspace: --workspace NAME)."
    )


def _store(spec: Path, state_path: Path | None, lab: bool, lab_dir: Path) -> StateStore:
    return open_store(spec, state_path, lab, lab_dir)


def _state_opts(f: F) -> F:
    f = spec_option(f)
    f = state_option(f)
    f = click.option("--lab", is_flag=True)(f)
    f = click.option("--lab-dir", type=click.Path(path_type=Path), default=Path(".lab"))(f)
    # accepted so that the flags of plan/apply work here too (a malformed NAME=VALUE is still
    # refused); no state command evaluates the spec, so the values are not used
    f = click.option(
        "--var",
        multiple=True,
        metavar="NAME=VALUE",
        expose_value=False,
        callback=lambda _ctx, _param, pairs: parse_vars(pairs),
        help="Accepted for symmetry with plan/apply; state commands evaluate nothing.",
    )(f)
    return f


@click.group()
def state() -> None:
    """Inspect and edit the state (locked while editing)."""


@state.command("list")
@_state_opts
@handle_errors
def state_list(spec: Path, state_path: Path | None, lab: bool, lab_dir: Path) -> None:
    """List the addresses in the state."""
    store = _store(spec, state_path, lab, lab_dir)
    if not store.exists():
        click.echo(no_state_message(store.describe()), err=True)
        return
    st = store.load()
    for addr in sorted(st.resources):
        click.echo(addr)


@state.command("show")
@click.argument("address")
@_state_opts
@handle_errors
def state_show(address: str, spec: Path, state_path: Path | None, lab: bool, lab_dir: Path) -> None:
    """Show one resource's attributes (sensitive values masked)."""
    st = _store(spec, state_path, lab, lab_dir).load()
    rs = st.resources.get(address)
    if rs is None:
        raise CozyplanError(f"no resource {address!r} in the state")
    style = make_styler()
    click.echo(style(f"# {address}", bold=True) + f"  ({rs.type}, {rs.status})")
    for key, value in sorted((mask(rs.observed, (), rs.sensitive_paths) or {}).items()):
        click.echo(f"    {key} = {json.dumps(value)}")
    if rs.dependencies:
        click.echo(f"    # depends on: {', '.join(rs.dependencies)}")


@state.command("rm")
@click.argument("addresses", nargs=-1, required=True)
@_state_opts
@handle_errors
def state_rm(
    addresses: tuple[str, ...], spec: Path, state_path: Path | None, lab: bool, lab_dir: Path
) -> None:
    """Forget resources (the real objects are left alone)."""
    store = _store(spec, state_path, lab, lab_dir)
    store.lock("state rm")
    try:
        st = store.load()
        missing = [a for a in addresses if a not in st.resources]
        if missing:
            raise CozyplanError(f"not in the state: {', '.join(missing)}")
        for addr in addresses:
            store.record(st, addr, None)
            click.echo(f"Removed {addr}")
        store.write(st)
    finally:
        store.unlock()


@state.command("mv")
@click.argument("source")
@click.argument("destination")
@_state_opts
@handle_errors
def state_mv(
    source: str, destination: str, spec: Path, state_path: Path | None, lab: bool, lab_dir: Path
) -> None:
    """Rename a resource in the state (e.g. after renaming it in the spec)."""
    store = _store(spec, state_path, lab, lab_dir)
    store.lock("state mv")
    try:
        st = store.load()
        rs = st.resources.get(source)
        if rs is None:
            raise CozyplanError(f"no resource {source!r} in the state")
        if destination in st.resources:
            raise CozyplanError(f"{destination!r} already exists in the state")
        if not INSTANCE_ADDRESS_RE.match(destination):
            raise CozyplanError(f"{destination!r} is not an address (TYPE.NAME or TYPE.NAME[KEY])")
        if block_of(destination).split(".")[0] != rs.type:
            raise CozyplanError(f"cannot move a {rs.type} to {destination!r}: the type differs")
        store.record(st, destination, rs)
        store.record(st, source, None)
        for other in st.resources.values():
            other.dependencies = [destination if d == source else d for d in other.dependencies]
        store.write(st)
        click.echo(f"Moved {source} to {destination}")
    finally:
        store.unlock()


@click.command("import")
@click.argument("address")
@click.argument("import_id")
@spec_option
@state_option
@lab_options
@click.option("--var", "var_pairs", multiple=True, metavar="NAME=VALUE")
@handle_errors
def import_(
    address: str,
    import_id: str,
    spec: Path,
    state_path: Path | None,
    lab: bool,
    lab_dir: Path,
    time_scale: float | None,
    var_pairs: tuple[str, ...],
) -> None:
    """Bring an existing object under management at ADDRESS."""
    with open_session(spec, state_path, lab, lab_dir, time_scale, var_pairs) as session:
        _import(session, address, import_id)


def _import(session: Session, address: str, import_id: str) -> None:
    instances = expand(session.cfg, session.variables)
    inst = instances.get(address)
    if inst is None:
        raise CozyplanError(f"{address} is not in the spec: add it there first, then import")
    with session.locked("import") as st:
        if address in st.resources:
            raise CozyplanError(f"{address} is already managed; 'cozyplan state rm' it first")
        resources = session.provider_set()
        resource = resources.resource(inst.block.type)

        async def read() -> dict[str, Any] | None:
            try:
                return await import_instance(
                    inst, resource, import_id, st, session.variables, resources
                )
            finally:
                await resources.close()

        attrs = asyncio.run(read())
        if attrs is None:
            raise CozyplanError(f"cannot import {address}: no object with id {import_id!r}")
        sensitive: list[list[str | int]] = [
            [n] for n, f in resource.schema().fields.items() if f.sensitive
        ]
        session.store.record(
            st,
            address,
            ResourceState(inst.block.type, inst.block.provider, attrs, None, [], sensitive),
        )
        session.store.write(st)
    click.echo(
        make_styler()("Import successful!", "green", bold=True)
        + f" {address} is now managed; run 'cozyplan plan' to see any difference."
    )


@click.command("force-unlock")
@click.argument("lock_id")
@_state_opts
@handle_errors
def force_unlock(
    lock_id: str, spec: Path, state_path: Path | None, lab: bool, lab_dir: Path
) -> None:
    """Remove a lock left by a run that is gone (check first that it really is)."""
    info = _store(spec, state_path, lab, lab_dir).force_unlock(lock_id)
    click.echo(f"Unlocked: removed {info.describe()}")


def _add_backend_commands() -> None:
    # `state migrate` and `state rekey` live with the other backend commands
    from cozyplan.cli.backendcmds import state_migrate, state_rekey

    state.add_command(state_migrate)
    state.add_command(state_rekey)


_add_backend_commands()
