"""Shared CLI plumbing: options, output, error handling, the lab context."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cozyplan.errors import CozyplanError, SpecError
from cozyplan.lab import DEFAULT_LAB_DIR_NAME, LAB_DIR_ENV
from cozyplan.render.values import scrub

if TYPE_CHECKING:
    from cozyplan.render.human import Styler
    from cozyplan.session import Session
    from cozyplan.state.crypto import StateCipher
    from cozyplan.state.envelope import Encryption
    from cozyplan.state.store import StateStore

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_SPEC = Path("cozyplan.yaml")
DEFAULT_LAB_TIME_SCALE = 0.2


class Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def use_colour(stream: Any = None) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def styler(stream: Any = None) -> Styler:
    from cozyplan.render.human import Styler  # the renderer loads with the command using it

    return Styler(use_colour(stream))


def spec_option(f: F) -> F:
    return click.option(
        "-f",
        "--spec",
        "spec",
        type=click.Path(path_type=Path),
        default=DEFAULT_SPEC,
        show_default=True,
        help="Spec file.",
    )(f)


def _remember(key: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value:
            ctx.meta[f"cozyplan.{key}"] = value
        return value

    return callback


def state_option(f: F) -> F:
    """--state, plus the backend and workspace options (kept in the click context, so that
    every command that reaches a state takes them without repeating them in its signature)."""
    f = click.option(
        "--state",
        "state_path",
        type=click.Path(path_type=Path),
        default=None,
        help="Local state file (default: state/<spec stem>.state.json; with --lab, in the lab "
        "dir).",
    )(f)
    f = click.option(
        "--workspace",
        expose_value=False,
        callback=_remember("workspace"),
        help="Workspace (default: the selected one, see 'cozyplan workspace').",
    )(f)
    f = click.option(
        "--backend-config",
        multiple=True,
        metavar="KEY=VALUE",
        expose_value=False,
        callback=_remember("backend_config"),
        help="Backend setting, e.g. type=postgres or conn_str=... (see docs/backends.md).",
    )(f)
    return f


def cli_backend() -> tuple[str | None, tuple[str, ...]]:
    """The --workspace and --backend-config of the running command."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return None, ()
    return ctx.meta.get("cozyplan.workspace"), tuple(ctx.meta.get("cozyplan.backend_config", ()))


def remember_workspace(workspace: str | None) -> None:
    """A saved plan's workspace, unless --workspace names one."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and workspace and "cozyplan.workspace" not in ctx.meta:
        ctx.meta["cozyplan.workspace"] = workspace


def plan_encryption(spec: Path) -> Encryption | None:
    """The whole-state encryption that seals saved plans (as the state's)."""
    from cozyplan.state.envelope import configured
    from cozyplan.state.settings import BackendSettings

    _, pairs = cli_backend()
    settings = BackendSettings.resolve(spec, pairs)
    return configured(settings.options.get("encryption"), "the backend's encryption")


def saved_cipher(saved: dict[str, Any]) -> StateCipher:
    """The key of sensitive values of the state a saved plan was made against."""
    from cozyplan.state.settings import state_target

    workspace, pairs = cli_backend()
    target = state_target(
        Path(saved["spec"]),
        Path(saved["state"]),
        workspace or saved.get("workspace"),
        pairs,
        lab=bool(saved.get("lab")),
    )
    return target.store().cipher


def open_store(spec: Path, state_path: Path | None, lab: bool, lab_dir: Path) -> StateStore:
    """The state of the current workspace, for commands that need no session."""
    from cozyplan.session import default_state_path
    from cozyplan.state.settings import state_target

    workspace, pairs = cli_backend()
    path = state_path or default_state_path(spec, lab_dir if lab else None)
    return state_target(spec, path, workspace, pairs, lab=lab).store()


def lab_options(f: F) -> F:
    f = click.option(
        "--lab", is_flag=True, help="Rehearse against the embedded lab (running, or in-process)."
    )(f)
    f = click.option(
        "--lab-dir",
        type=click.Path(path_type=Path),
        default=DEFAULT_LAB_DIR_NAME,
        envvar=LAB_DIR_ENV,
        show_default=True,
        help=f"Lab directory (or ${LAB_DIR_ENV}).",
    )(f)
    f = click.option(
        "--time-scale",
        type=float,
        default=None,
        help=f"Lab time scale for an in-process lab (default {DEFAULT_LAB_TIME_SCALE}).",
    )(f)
    return f


def var_option(f: F) -> F:
    return click.option(
        "--var",
        "var_pairs",
        multiple=True,
        metavar="NAME=VALUE",
        help="Set a variable (repeatable).",
    )(f)


def session_options(f: F) -> F:
    """The options of every command that opens a session: spec, state, lab, variables."""
    return spec_option(state_option(lab_options(var_option(f))))


def parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="--var")
        name, value = pair.split("=", 1)
        out[name.strip()] = value
    return out


@contextlib.contextmanager
def open_session(
    spec: Path,
    state_path: Path | None,
    lab: bool,
    lab_dir: Path,
    time_scale: float | None,
    var_pairs: tuple[str, ...] = (),
) -> Iterator[Session]:
    if not lab:
        session = _session(spec, state_path, None, var_pairs)
        session.variables  # noqa: B018 - a bad spec or variable fails before a state dir is made
        yield session
        return
    from cozyplan.lab.runtime import lab_session, start_lab  # the lab loads only when asked for

    # the lab's process starts first, before the engine is even imported, and imports its
    # simulators meanwhile; it opens its directory only once the spec is valid (a bad spec
    # leaves no lab behind)
    with lab_session(
        lab_dir, time_scale=time_scale or DEFAULT_LAB_TIME_SCALE, standby=True
    ) as handle:
        session = _session(spec, state_path, lab_dir, var_pairs)
        session.variables  # noqa: B018
        start_lab(handle)
        session.lab = handle
        yield session


def _session(
    spec: Path, state_path: Path | None, lab_dir: Path | None, var_pairs: tuple[str, ...]
) -> Session:
    from cozyplan.session import Session, default_state_path

    path = state_path or default_state_path(spec, lab_dir)
    workspace, pairs = cli_backend()
    return Session(
        spec, path, None, parse_vars(var_pairs), workspace, pairs, rehearsal=lab_dir is not None
    )


def report_error(exc: BaseException, secrets: list[str] | None = None) -> None:
    style = styler(sys.stderr)
    secrets = secrets or []
    if isinstance(exc, SpecError):
        for diag in exc.diagnostics:
            click.echo(style("Error: ", "red", bold=True) + scrub(str(diag), secrets), err=True)
            for rel in diag.related:
                click.echo(f"  (see also {rel})", err=True)
        return
    click.echo(style("Error: ", "red", bold=True) + scrub(str(exc), secrets), err=True)


def quiet_broken_pipe() -> None:
    """The reader went away (``cozyplan graph | head``): stop quietly, as Unix tools do.

    stdout is pointed at /dev/null so that the interpreter's final flush cannot fail again.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(141)  # 128 + SIGPIPE, what a shell reports for a tool killed by a closed pipe


def handle_errors(f: F) -> F:
    """Turn cozyplan's errors into messages and exit codes; never a traceback for users."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except Exit as exc:
            sys.exit(exc.code)
        except CozyplanError as exc:
            report_error(exc)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(1)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except BrokenPipeError:
            quiet_broken_pipe()
        except Exception as exc:
            if os.environ.get("COZYPLAN_DEBUG"):
                traceback.print_exc()
            click.echo(
                f"Internal error: {type(exc).__name__}: {exc}\n"
                "(set COZYPLAN_DEBUG=1 for a traceback, and please report it)",
                err=True,
            )
            sys.exit(1)
        except BaseException as exc:
            # asyncio.CancelledError, without importing asyncio for commands that never use it
            asyncio = sys.modules.get("asyncio")
            if asyncio is None or not isinstance(exc, asyncio.CancelledError):
                raise
            click.echo(
                "Interrupted again: running steps were abandoned. The state is saved; their "
                "crash markers let the next apply adopt whatever they created.",
                err=True,
            )
            sys.exit(1)

    return wrapper  # type: ignore[return-value]
